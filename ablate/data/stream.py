"""Encoded images as model inputs, one at a time, for a DataLoader's worker processes: decoded, then
augmented (training) or viewed (evaluation) by ablate.data.augment, then normalised."""
import torch
from torch.utils.data import Dataset
from torchvision.transforms.v2 import Transform
from torchvision.transforms.v2 import functional as F

from ablate.data.augment import Augment, Normalize


class TrainSamples(Dataset):
    """i -> (augmented, normalised image, label); the draws come from the worker's torch RNG."""

    def __init__(self, samples: Dataset, augment: Augment, normalize: Normalize):
        self.samples, self.augment, self.normalize = samples, augment, normalize

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image, label = self.samples[i]
        pixels = self.augment.pixels(F.pil_to_tensor(image)[None])[0]
        return self.augment.erase(self.normalize(pixels)), label


class EvalSamples(Dataset):
    """i -> (image through the evaluation view, label): normalised, or uint8 pixels without normalize."""

    def __init__(self, samples: Dataset, view: Transform, normalize: Normalize | None = None):
        self.samples, self.view, self.normalize = samples, view, normalize

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image, label = self.samples[i]
        pixels = F.pil_to_tensor(self.view(image))
        return (pixels if self.normalize is None else self.normalize(pixels)), label

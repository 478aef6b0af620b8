"""scikit-learn's bundled 8x8 digits as uint8 tensors: a real dataset small enough for tests."""
import numpy as np
import torch
from omegaconf import DictConfig
from sklearn.datasets import load_digits

from ablate.data.sets import Tensors

VAL_FRACTION = 0.2


def load_digits_split(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 1, 8, 8) uint8 and labels (N,) int64; a fixed 80/20 split independent of the run seed."""
    digits = load_digits()
    images = np.clip(digits.images * 16, 0, 255).astype(np.uint8)
    order = np.random.default_rng(0).permutation(len(images))
    n_val = int(len(images) * VAL_FRACTION)
    index = order[n_val:] if split == "train" else order[:n_val]
    return torch.from_numpy(images[index]).unsqueeze(1), torch.from_numpy(digits.target[index].astype(np.int64))


def build_split(data: DictConfig, split: str) -> Tensors:
    """The fixed split, in memory: 10 classes."""
    return Tensors(*load_digits_split(split), 10)

"""Batches from a dataset held in memory as uint8 tensors, augmented a whole batch at a time.

Small datasets (Fashion-MNIST is 47 MB) need no worker processes: indexing a tensor and augmenting
the batch with tensor ops costs far less than the model step, so loading never starves training.
"""
from collections.abc import Iterator

import numpy as np
import torch
from PIL import Image
from timm.data import rand_augment_transform
from timm.data.random_erasing import RandomErasing


class BatchAugment:
    """Random translation, horizontal flip, optional RandAugment and random erasing on uint8 batches."""

    def __init__(self, crop_padding: int = 0, hflip: float = 0.0, randaug: str | None = None,
                 reprob: float = 0.0, channels: int = 1):
        self.crop_padding = crop_padding
        self.hflip = hflip
        # RandAugment is timm's PIL implementation: per sample, used only when asked for.
        # Fill with black, one value per channel (PIL refuses a 3-tuple fill on grey images).
        self.randaug = rand_augment_transform(randaug, {"img_mean": (0,) * channels}) if randaug else None
        self.erase = RandomErasing(probability=reprob, mode="pixel", device="cpu") if reprob > 0 else None

    def pixels(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Geometric and photometric augmentation of a (B, C, H, W) uint8 batch."""
        b, _, h, w = images.shape
        if self.crop_padding:
            p = self.crop_padding
            padded = torch.nn.functional.pad(images, (p, p, p, p))
            dy = torch.randint(0, 2 * p + 1, (b,), generator=generator)
            dx = torch.randint(0, 2 * p + 1, (b,), generator=generator)
            rows = (dy[:, None] + torch.arange(h))[:, :, None]
            cols = (dx[:, None] + torch.arange(w))[:, None, :]
            images = padded[torch.arange(b)[:, None, None], :, rows, cols].permute(0, 3, 1, 2)
        if self.hflip:
            flip = torch.rand(b, generator=generator) < self.hflip
            images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        if self.randaug is not None:
            images = torch.stack([_pil_apply(self.randaug, image) for image in images])
        return images

    def normalized(self, batch: torch.Tensor) -> torch.Tensor:
        """Random erasing, which timm applies after normalisation."""
        return self.erase(batch) if self.erase is not None else batch


def _pil_apply(transform, image: torch.Tensor) -> torch.Tensor:
    """Run a PIL transform on one (C, H, W) uint8 tensor."""
    array = image.permute(1, 2, 0).numpy()
    pil = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
    out = torch.from_numpy(np.asarray(transform(pil)).copy())
    return out[None] if out.ndim == 2 else out.permute(2, 0, 1)


class TensorBatches:
    """Iterable of normalised (images, labels) batches; order and augmentation draw from torch's global RNG."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, mean: list[float],
                 std: list[float], shuffle: bool = False, drop_last: bool = False,
                 augment: BatchAugment | None = None):
        self.images, self.labels = images, labels
        self.batch_size, self.shuffle, self.drop_last, self.augment = batch_size, shuffle, drop_last, augment
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1) * 255
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1) * 255

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        # Seeded from the global RNG, which the runner re-seeds per epoch: a resumed run replays the same data.
        generator = torch.Generator().manual_seed(int(torch.randint(2**31 - 1, ())))
        n = len(self.labels)
        order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
        for i in range(len(self)):
            index = order[i * self.batch_size:(i + 1) * self.batch_size]
            images = self.images[index]
            if self.augment is not None:
                images = self.augment.pixels(images, generator)
            batch = (images.float() - self.mean) / self.std
            if self.augment is not None:
                batch = self.augment.normalized(batch)
            yield batch, self.labels[index]


class Resized:
    """Batches of another iterable, each image resized to `size` (H, W): bicubic, antialiased when shrinking."""

    def __init__(self, batches, size: tuple[int, int]):
        self.batches, self.size = batches, tuple(size)

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for images, labels in self.batches:
            yield torch.nn.functional.interpolate(images, size=self.size, mode="bicubic", align_corners=False,
                                                  antialias=True), labels

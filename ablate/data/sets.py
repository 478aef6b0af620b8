"""A dataset split as a loader module hands it over: uint8 tensors in memory, or encoded images (files,
records) decoded when read. ablate.data.build turns either into batches."""
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.utils.data import Dataset, Subset


@dataclass
class Tensors:
    """A split held in memory."""

    images: torch.Tensor  # (N, C, H, W) uint8
    labels: torch.Tensor  # (N,) int64
    num_classes: int
    native: bool = True  # every image at the size it was stored in (False: some were resized when decoded)

    def subset(self, count: int, seed: int | None) -> "Tensors":
        """count images (data.train_limit / val_limit): the first ones, or a sample drawn from seed."""
        if count >= len(self.labels):
            return self
        keep = slice(count) if seed is None else torch.from_numpy(sample(len(self.labels), count, seed))
        return Tensors(self.images[keep], self.labels[keep], self.num_classes, self.native)


@dataclass
class Encoded:
    """A split of encoded images, read one at a time."""

    samples: Dataset  # i -> (PIL image in the run's colour mode, label)
    files: list[str]  # the files behind it: the decode cache's key reads their sizes and modification times
    num_classes: int
    picked: str = ""  # which sample of the files it holds, for the decode cache's key ("": a fixed one)

    def subset(self, count: int, seed: int | None) -> "Encoded":
        """count images (data.train_limit / val_limit): a fixed sample, the same for every run (its choice depends
        only on count and the files, as the decode cache's key does), or one drawn from seed.

        Not the first ones: a folder lists its images class by class.
        """
        if count >= len(self.samples):
            return self
        keep = sample(len(self.samples), count, seed).tolist()
        return replace(self, samples=Subset(self.samples, keep), picked="" if seed is None else f"seed {seed}")


def sample(total: int, count: int, seed: int | None) -> np.ndarray:
    """count of total indices, sorted: drawn from seed (None: the fixed sample every run shares)."""
    rng = np.random.default_rng(0 if seed is None else [seed, total, count])
    return np.sort(rng.permutation(total)[:count])

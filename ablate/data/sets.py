"""A dataset split as a loader module hands it over: uint8 tensors in memory, or encoded images (files,
records) decoded when read. ablate.data.build turns either into batches."""
from dataclasses import dataclass

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

    def first(self, count: int) -> "Tensors":
        """The first count images (data.train_limit / val_limit)."""
        return Tensors(self.images[:count], self.labels[:count], self.num_classes, self.native)


@dataclass
class Encoded:
    """A split of encoded images, read one at a time."""

    samples: Dataset  # i -> (PIL image in the run's colour mode, label)
    files: list[str]  # the files behind it: the decode cache's key reads their sizes and modification times
    num_classes: int

    def first(self, count: int) -> "Encoded":
        """A fixed sample of count images, the same for every run (data.train_limit / val_limit): which ones
        depends only on count and the files, as the decode cache's key does.

        Not the first ones: a folder lists its images class by class.
        """
        if count >= len(self.samples):
            return self
        keep = np.sort(np.random.default_rng(0).permutation(len(self.samples))[:count]).tolist()
        return Encoded(Subset(self.samples, keep), self.files, self.num_classes)

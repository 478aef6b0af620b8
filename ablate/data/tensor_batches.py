"""Batches from a split held in memory as uint8 tensors, augmented a whole batch at a time.

Small sets (Fashion-MNIST is 47 MB; image folders below ablate.data.cache.SMALL_SET_BYTES once decoded) need
no worker processes: indexing a tensor and augmenting the batch with tensor ops costs far less than the
model step, so loading never starves training. On a GPU run the set lives on the GPU and is augmented there:
a deit_pico step takes a few milliseconds there, as long as indexing and augmenting on the host would.
"""
from collections.abc import Iterator

import torch

from ablate.data.augment import Augment, Normalize


class TensorBatches:
    """Iterable of normalised (images, labels) batches; order and augmentation draw from torch's global RNG."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, mean: list[float],
                 std: list[float], shuffle: bool = False, drop_last: bool = False, augment: Augment | None = None,
                 device: torch.device | str = "cpu"):
        self.images, self.labels = images.to(device), labels.to(device)
        self.batch_size, self.shuffle, self.drop_last, self.augment = batch_size, shuffle, drop_last, augment
        self.normalize = Normalize(mean, std, device)

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        # Seeded from the global RNG, which the runner re-seeds per epoch: a resumed run replays the same data.
        generator = torch.Generator().manual_seed(int(torch.randint(2**31 - 1, ())))
        n = len(self.labels)
        order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
        for i in range(len(self)):
            index = order[i * self.batch_size:(i + 1) * self.batch_size].to(self.images.device)
            images = self.images[index]
            if self.augment is not None:
                images = self.augment.pixels(images, generator)
            batch = self.normalize(images)
            if self.augment is not None:
                batch = self.augment.erase(batch)
            yield batch, self.labels[index]


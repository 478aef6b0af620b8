"""Small sets of encoded images, decoded once into a uint8 tensor at img_size and kept in the user's cache, so
that they train through the in-memory path (TensorBatches): no decoding per epoch, no worker processes.

Small means the decoded tensor at img_size takes at most SMALL_SET_BYTES (256 MiB: 87,000 RGB images at
32 x 32, 5,400 at 128 x 128, 1,780 at 224 x 224); decoding that many once takes seconds to a minute on two
cores. Larger sets stream from their files through DataLoader workers (ablate.data.stream).

Images are held at img_size, resized without cropping as evaluation does. That is all a recipe that resizes
first (crop pad or none; evaluation without eval.crop_pct) reads; a random resized crop or a centre crop
wants the original pixels, so for those a split whose images were not all at img_size streams from its files
instead (ablate.data.build).

The key is the list of files with their sizes and modification times, the number of images, img_size and
channels: adding, removing or rewriting an image gives a new entry. Entries live in
$XDG_CACHE_HOME/ablate/decoded/ (default ~/.cache/ablate/decoded/), written atomically (temporary file,
rename), so a run killed while decoding leaves nothing half-written.
"""
import hashlib
import os

import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms.v2 import functional as F

from ablate.data.augment import eval_view
from ablate.data.sets import Encoded, Tensors
from ablate.usercache import cache_dir

SMALL_SET_BYTES = 256 * 2**20
FORMAT = 2  # bump when the stored content changes meaning
DECODE_BATCH = 256


def is_small(count: int, channels: int, size: tuple[int, int]) -> bool:
    """Whether count images of this shape, decoded to uint8, fit the small-set budget."""
    return count * channels * size[0] * size[1] <= SMALL_SET_BYTES


def cache_key(files: list[str], count: int, channels: int, size: tuple[int, int],
              picked: str = "") -> str:
    """A digest of everything the decoded tensor depends on (picked: which sample of the files, if not the fixed
    one)."""
    digest = hashlib.sha256(f"{FORMAT} {count} {channels} {size[0]} {size[1]}{' ' + picked if picked else ''}\n"
                            .encode())
    for name in files:
        stat = os.stat(name)
        digest.update(f"{os.path.abspath(name)} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


class _AtSize(Dataset):
    """i -> (uint8 pixels resized to size, label, whether the image had another size)."""

    def __init__(self, samples: Dataset, size: tuple[int, int]):
        self.samples, self.size, self.view = samples, size, eval_view(size, None, "bicubic")

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, bool]:
        image, label = self.samples[i]
        return F.pil_to_tensor(self.view(image)), label, image.size != (self.size[1], self.size[0])


def decode(encoded: Encoded, channels: int, size: tuple[int, int], workers: int) -> Tensors:
    """Every image of a split resized to size, uint8, in order; decoded by `workers` processes."""
    images = torch.empty((len(encoded.samples), channels, *size), dtype=torch.uint8)
    labels = torch.empty(len(encoded.samples), dtype=torch.int64)
    native, done = True, 0
    # Its own generator: decoding (first run) or not (cached) must not shift the run's global RNG.
    loader = DataLoader(_AtSize(encoded.samples, size), batch_size=DECODE_BATCH, num_workers=workers,
                        generator=torch.Generator())
    for pixels, targets, resized in loader:
        images[done:done + len(targets)], labels[done:done + len(targets)] = pixels, targets
        native, done = native and not resized.any().item(), done + len(targets)
    return Tensors(images, labels, encoded.num_classes, native)


def decoded(encoded: Encoded, channels: int, size: tuple[int, int], workers: int) -> Tensors:
    """The split decoded at size, from the cache, or decoded now and cached."""
    key = cache_key(encoded.files, len(encoded.samples), channels, size, encoded.picked)
    path = cache_dir("decoded") / f"{key}.pt"
    if path.is_file():
        stored = torch.load(path, weights_only=True)
        return Tensors(stored["images"], stored["labels"], encoded.num_classes, stored["native"])
    tensors = decode(encoded, channels, size, workers)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    torch.save({"images": tensors.images, "labels": tensors.labels, "native": tensors.native}, temporary)
    os.replace(temporary, path)
    return tensors

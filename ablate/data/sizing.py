"""Validation batches made into test images of another size (ablate.protocol's modes), padded to whole patches.

upsample and canvas work on the normalised batches of the validation loader; crop reads the stored images
(ablate.data.build.build_crop_loader) and arrives here at its size. Whatever the mode, the fill of a canvas
and of the padding is the dataset's background, normalised as the images are: in a normalised batch 0 is
the mean grey, which Fashion-MNIST's black surround is not.
"""
import math
from collections.abc import Iterable, Iterator, Sequence

import torch
from torch import Tensor


def fill_of(images: Tensor, background: float | Sequence[float] | str, mean: Sequence[float],
            std: Sequence[float]) -> Tensor:
    """The normalised fill for a (B, C, H, W) normalised batch, broadcastable to it: a pixel value (0-255; one,
    or one per channel) normalised, or "border": each image's median over its outermost pixels, per channel."""
    if background == "border":
        edges = [images[..., 0, :], images[..., -1, :], images[..., :, 0], images[..., :, -1]]
        return torch.cat(edges, dim=-1).median(dim=-1).values[..., None, None]
    values = background if isinstance(background, Sequence) else [background]
    pixels = torch.tensor([float(v) for v in values], device=images.device).view(1, -1, 1, 1)
    mean = torch.tensor(mean, device=images.device).view(1, -1, 1, 1)
    std = torch.tensor(std, device=images.device).view(1, -1, 1, 1)
    return ((pixels / 255 - mean) / std).to(images.dtype)


def _field(images: Tensor, size: tuple[int, int], fill: Tensor) -> Tensor:
    """A (B, C, H, W) batch of fill."""
    return fill.to(images.dtype).expand(len(images), images.shape[1], *size).clone()


def pad_to_patches(images: Tensor, patch: int, fill: Tensor) -> Tensor:
    """The batch padded at the bottom and right to whole patches, with fill (as timm pads, but not with 0)."""
    height, width = images.shape[-2:]
    size = (math.ceil(height / patch) * patch, math.ceil(width / patch) * patch)
    if size == (height, width):
        return images
    out = _field(images, size, fill)
    out[..., :height, :width] = images
    return out


def upsample(images: Tensor, size: tuple[int, int]) -> Tensor:
    """Each image resized to size (H, W): bicubic, antialiased when shrinking."""
    return torch.nn.functional.interpolate(images, size=size, mode="bicubic", align_corners=False, antialias=True)


def canvas(images: Tensor, size: tuple[int, int], fill: Tensor, patch: int) -> Tensor:
    """Each image at its own size on a field of size (H, W) filled with fill, as near the centre as an offset of
    whole patches allows (its patches are the ones it was trained with)."""
    height, width = images.shape[-2:]
    if size[0] < height or size[1] < width:
        raise ValueError(f"a canvas of {size[0]}x{size[1]} cannot hold the {height}x{width} images")
    top, left = (size[0] - height) // 2 // patch * patch, (size[1] - width) // 2 // patch * patch
    out = _field(images, size, fill)
    out[..., top:top + height, left:left + width] = images
    return out


class AtSize:
    """Batches of another iterable as test images of `size` (H, W) made by `mode` (upsample, canvas; crop
    batches arrive at their size), padded to whole patches with the background."""

    def __init__(self, batches: Iterable, mode: str, size: tuple[int, int], patch: int,
                 background: float | Sequence[float] | str, mean: Sequence[float], std: Sequence[float]):
        self.batches, self.mode, self.size, self.patch = batches, mode, tuple(size), patch
        self.background, self.mean, self.std = background, mean, std

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        for images, labels in self.batches:
            fill = fill_of(images, self.background, self.mean, self.std)
            if self.mode == "upsample":
                images = upsample(images, self.size)
            elif self.mode == "canvas":
                images = canvas(images, self.size, fill, self.patch)
            yield pad_to_patches(images, self.patch, fill), labels

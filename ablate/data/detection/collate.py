"""Batch images of different sizes: pad bottom-right to the largest, with a mask marking the padding."""
import torch
from torch import Tensor


def pad_batch(images: list[Tensor]) -> tuple[Tensor, Tensor]:
    """(3, h_i, w_i) images -> (B, 3, H, W) zero-padded bottom-right, (B, H, W) mask, True = padding."""
    height = max(img.shape[1] for img in images)
    width = max(img.shape[2] for img in images)
    batch = images[0].new_zeros(len(images), images[0].shape[0], height, width)
    mask = torch.ones(len(images), height, width, dtype=torch.bool)
    for i, img in enumerate(images):
        batch[i, :, : img.shape[1], : img.shape[2]] = img
        mask[i, : img.shape[1], : img.shape[2]] = False
    return batch, mask


def collate_detection(samples: list[tuple[Tensor, dict]]) -> tuple[Tensor, Tensor, list[dict]]:
    """DataLoader collate: padded images, padding mask, list of per-image targets."""
    images, targets = zip(*samples)
    batch, mask = pad_batch(list(images))
    return batch, mask, list(targets)

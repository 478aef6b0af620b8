"""DETR's detection augmentations on (PIL image, target) pairs: flip, multi-scale resize, random crop.

Targets hold absolute xyxy "boxes", "labels", "area", "iscrowd", "image_id", "orig_size" and "size"
((h, w) tensors) until Normalize turns boxes into (cx, cy, w, h) relative to the image size.
"""
import random
from collections.abc import Callable, Sequence

import torch
import torchvision.transforms.functional as TF
from PIL import Image

from ablate.models.detr.box_ops import box_xyxy_to_cxcywh

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

Pair = tuple[Image.Image | torch.Tensor, dict]


def crop(image: Image.Image, target: dict, top: int, left: int, height: int, width: int) -> Pair:
    """Crop the image; clip boxes to the region and drop the boxes that vanish."""
    image = TF.crop(image, top, left, height, width)
    target = dict(target, size=torch.tensor([height, width]))
    boxes = target["boxes"] - torch.tensor([left, top, left, top], dtype=torch.float32)
    boxes = torch.min(boxes.reshape(-1, 2, 2), torch.tensor([width, height], dtype=torch.float32)).clamp(min=0)
    keep = (boxes[:, 1, :] > boxes[:, 0, :]).all(dim=1)
    area = (boxes[:, 1, :] - boxes[:, 0, :]).prod(dim=1)
    target.update(boxes=boxes.reshape(-1, 4)[keep], area=area[keep], labels=target["labels"][keep],
                  iscrowd=target["iscrowd"][keep])
    return image, target


def hflip(image: Image.Image, target: dict) -> Pair:
    """Mirror the image and its boxes left-right."""
    width = image.width
    boxes = target["boxes"][:, [2, 1, 0, 3]] * torch.tensor([-1, 1, -1, 1]) + torch.tensor([width, 0, width, 0])
    return TF.hflip(image), dict(target, boxes=boxes)


def resized_shape(width: int, height: int, size: int, max_size: int | None) -> tuple[int, int]:
    """(h, w) with the short side `size`, shrunk so the long side stays <= max_size."""
    short, long = min(width, height), max(width, height)
    if max_size is not None and long / short * size > max_size:
        size = int(round(max_size * short / long))
    if width < height:
        return int(size * height / width), size
    return size, int(size * width / height)


def resize(image: Image.Image, target: dict, size: int, max_size: int | None = None) -> Pair:
    """Resize to short side `size` (long side capped), scaling boxes and areas."""
    new_h, new_w = resized_shape(image.width, image.height, size, max_size)
    ratio_w, ratio_h = new_w / image.width, new_h / image.height
    image = TF.resize(image, [new_h, new_w])
    boxes = target["boxes"] * torch.tensor([ratio_w, ratio_h, ratio_w, ratio_h])
    return image, dict(target, boxes=boxes, area=target["area"] * ratio_w * ratio_h, size=torch.tensor([new_h, new_w]))


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, image: Image.Image, target: dict) -> Pair:
        for t in self.transforms:
            image, target = t(image, target)
        return image, target


class RandomHorizontalFlip:
    """Flip with probability p."""

    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, image: Image.Image, target: dict) -> Pair:
        return hflip(image, target) if random.random() < self.p else (image, target)


class RandomResize:
    """Resize to a short side drawn from `sizes`."""

    def __init__(self, sizes: Sequence[int], max_size: int | None = None):
        self.sizes = list(sizes)
        self.max_size = max_size

    def __call__(self, image: Image.Image, target: dict) -> Pair:
        return resize(image, target, random.choice(self.sizes), self.max_size)


class RandomSizeCrop:
    """Crop a random region with sides drawn in [min_size, max_size] (capped at the image size)."""

    def __init__(self, min_size: int, max_size: int):
        self.min_size = min_size
        self.max_size = max_size

    def __call__(self, image: Image.Image, target: dict) -> Pair:
        width = random.randint(min(image.width, self.min_size), min(image.width, self.max_size))
        height = random.randint(min(image.height, self.min_size), min(image.height, self.max_size))
        top, left = random.randint(0, image.height - height), random.randint(0, image.width - width)
        return crop(image, target, top, left, height, width)


class RandomSelect:
    """Apply `first` with probability p, else `second`."""

    def __init__(self, first: Callable, second: Callable, p: float = 0.5):
        self.first, self.second, self.p = first, second, p

    def __call__(self, image: Image.Image, target: dict) -> Pair:
        return self.first(image, target) if random.random() < self.p else self.second(image, target)


class Normalize:
    """To an ImageNet-normalised tensor; boxes to (cx, cy, w, h) relative to the image size."""

    def __call__(self, image: Image.Image, target: dict) -> Pair:
        tensor = TF.normalize(TF.to_tensor(image.convert("RGB")), IMAGENET_MEAN, IMAGENET_STD)
        height, width = tensor.shape[-2:]
        boxes = box_xyxy_to_cxcywh(target["boxes"]) / torch.tensor([width, height, width, height], dtype=torch.float32)
        return tensor, dict(target, boxes=boxes)


def build_transforms(train: bool, scales: Sequence[int], max_size: int, crop_scales: Sequence[int],
                     crop_min: int, crop_max: int, eval_size: int) -> Compose:
    """DETR's recipe: flip, then either multi-scale resize or resize-crop-resize; eval resizes once."""
    if not train:
        return Compose([RandomResize([eval_size], max_size), Normalize()])
    multi_scale = RandomResize(scales, max_size)
    crop_then_resize = Compose([RandomResize(crop_scales), RandomSizeCrop(crop_min, crop_max), multi_scale])
    return Compose([RandomHorizontalFlip(), RandomSelect(multi_scale, crop_then_resize), Normalize()])

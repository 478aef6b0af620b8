"""Image folders (ImageFolder / ImageNet layout: <root>/<split>/<class>/<image>) with timm's transforms."""
from pathlib import Path

from timm.data import create_transform
from torchvision import transforms
from torchvision.datasets import ImageFolder

SPLIT_DIRS = {"train": "train", "val": "val"}


def split_dir(root: str | Path, split: str) -> Path:
    """The folder of one split: <root>/train or <root>/val."""
    return Path(root) / SPLIT_DIRS[split]


def eval_transform(img_size: int, crop_pct: float, interpolation: str, mean: list[float],
                   std: list[float]) -> transforms.Compose:
    """The official DeiT evaluation transform: resize to img_size / crop_pct (256 for 224), centre-crop."""
    mode = transforms.InterpolationMode(interpolation)
    return transforms.Compose([
        transforms.Resize(int(img_size / crop_pct), interpolation=mode),
        transforms.CenterCrop(img_size),
        transforms.ToTensor(),
        transforms.Normalize(mean, std),
    ])


def train_transform(img_size: int, hflip: float, randaug: str | None, reprob: float, mean: list[float],
                    std: list[float]) -> transforms.Compose:
    """timm's ImageNet training transform: random resized crop, flip, RandAugment, random erasing."""
    return create_transform(img_size, is_training=True, hflip=hflip, auto_augment=randaug, re_prob=reprob,
                            re_mode="pixel", interpolation="bicubic", mean=tuple(mean), std=tuple(std))


def image_folder(root: str | Path, split: str, transform: transforms.Compose) -> ImageFolder:
    """One split of an image folder."""
    return ImageFolder(str(split_dir(root, split)), transform=transform)

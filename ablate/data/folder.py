"""Image folders, <root>/<split>/<class>/<image> (the ImageNet layout), of any image size and aspect, read by
torchvision's ImageFolder as PIL images in the run's colour mode (data.in_chans: 1 grey, 3 RGB).

Labels index the train split's class folders (sorted names) in both splits, so a validation split that
lacks a class keeps every other class's label.
"""
from functools import partial
from pathlib import Path

from omegaconf import DictConfig
from PIL import Image
from torchvision.datasets import ImageFolder

from ablate.data.registry import class_folders
from ablate.data.sets import Encoded

MODES = {1: "L", 3: "RGB"}


class UnreadableImage(OSError):
    """An image file that cannot be decoded; the message names it."""


def load_image(path: str, mode: str) -> Image.Image:
    """One image file, decoded and converted to mode (UnreadableImage naming the file if it cannot be)."""
    try:
        with Image.open(path) as image:
            return image.convert(mode)
    except (OSError, ValueError, SyntaxError) as e:  # what PIL raises for a truncated, empty or foreign file
        detail = str(e).replace(repr(path), "").replace(path, "").strip(" :")
        raise UnreadableImage(f"unreadable image {path} ({type(e).__name__}{': ' + detail if detail else ''}): "
                              "replace or remove it") from None


class ClassFolder(ImageFolder):
    """An ImageFolder whose classes are given (the train split's) rather than read from its own folders."""

    def __init__(self, root: Path, classes: list[str], mode: str):
        self.given_classes = classes
        super().__init__(str(root), loader=partial(load_image, mode=mode), allow_empty=True)

    def find_classes(self, directory: str) -> tuple[list[str], dict[str, int]]:
        return self.given_classes, {name: i for i, name in enumerate(self.given_classes)}


def build_split(data: DictConfig, split: str) -> Encoded:
    """One split of the folder at data.root (classes from its train split, or from this split without one)."""
    root = Path(data.root).expanduser()
    classes = class_folders(root / "train" if (root / "train").is_dir() else root / split)
    images = ClassFolder(root / split, classes, MODES[data.in_chans])
    return Encoded(images, [path for path, _ in images.samples], len(classes))

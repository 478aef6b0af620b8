"""A COCO-format detection dataset (COCO 2017 layout, or any folder of images + a COCO JSON)."""
import contextlib
import io
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image
from omegaconf import DictConfig
from pycocotools.coco import COCO
from torch.utils.data import Dataset

from ablate.data.registry import coco_files


def load_coco(annotation_file: str | Path) -> COCO:
    """A pycocotools COCO index of a JSON file, quietly, with a clear error if it is missing."""
    if not Path(annotation_file).is_file():
        raise FileNotFoundError(f"COCO annotation file not found: {annotation_file}")
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(annotation_file))


class CocoDetection(Dataset):
    """Images of `image_dir` with their non-crowd boxes from a COCO JSON, through DETR-style transforms."""

    def __init__(self, image_dir: str | Path, annotation_file: str | Path, transforms: Callable):
        self.image_dir = Path(image_dir)
        if not self.image_dir.is_dir():
            raise FileNotFoundError(f"image folder not found: {self.image_dir}")
        self.coco = load_coco(annotation_file)
        self.ids = sorted(self.coco.imgs)
        self.transforms = transforms

    @property
    def num_classes(self) -> int:
        """Size of the classifier without no-object: the largest category id + 1 (91 for COCO)."""
        return max(self.coco.cats) + 1

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict]:
        image_id = self.ids[index]
        info = self.coco.imgs[image_id]
        image = Image.open(self.image_dir / info["file_name"]).convert("RGB")
        anns = [a for a in self.coco.imgToAnns[image_id] if not a.get("iscrowd", 0)]
        boxes = torch.tensor([a["bbox"] for a in anns], dtype=torch.float32).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        boxes[:, 0::2].clamp_(0, image.width)
        boxes[:, 1::2].clamp_(0, image.height)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        size = torch.tensor([image.height, image.width])
        target = {
            "boxes": boxes[keep],
            "labels": torch.tensor([a["category_id"] for a in anns], dtype=torch.int64)[keep],
            "area": torch.tensor([a["area"] for a in anns], dtype=torch.float32)[keep],
            "iscrowd": torch.zeros(int(keep.sum()), dtype=torch.int64),
            "image_id": torch.tensor(image_id),
            "orig_size": size,
            "size": size,
        }
        return self.transforms(image, target)


def split_files(data: DictConfig, split: str) -> tuple[Path, Path]:
    """(image folder, COCO JSON) of a split of the COCO 2017 layout under data.root."""
    return coco_files(data.root, split)

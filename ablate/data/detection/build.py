"""Turn a detection data config into datasets and loaders; each dataset's module (ablate.data.registry) says where
a split's images and COCO JSON are (`split_files`)."""
from importlib import import_module
from pathlib import Path

from omegaconf import DictConfig
from torch.utils.data import DataLoader, Subset

from ablate.data.detection.coco import CocoDetection
from ablate.data.detection.collate import collate_detection
from ablate.data.detection.transforms import build_transforms
from ablate.data.registry import DATASETS


def split_files(data: DictConfig, split: str) -> tuple[Path, Path]:
    """(image folder, COCO JSON) of a split, from the dataset's own module."""
    return import_module(DATASETS[data.name].module).split_files(data, split)


def build_detection_dataset(data: DictConfig, split: str) -> CocoDetection:
    """A split with DETR's train or eval transforms."""
    transforms = build_transforms(split == "train", data.scales, data.max_size, data.crop_scales, data.crop_min,
                                  data.crop_max, data.eval_size)
    return CocoDetection(*split_files(data, split), transforms)


def build_detection_loader(dataset: CocoDetection, batch_size: int, train: bool, workers: int,
                           limit: int | None = None) -> DataLoader:
    """Batches of (padded images, mask, targets); training shuffles and drops the last partial batch."""
    subset = Subset(dataset, range(min(limit, len(dataset)))) if limit else dataset
    return DataLoader(subset, batch_size=batch_size, shuffle=train, drop_last=train, num_workers=workers,
                      collate_fn=collate_detection)

"""Turn a detection data config into datasets and loaders: COCO 2017 layout or the composite set."""
from pathlib import Path

from omegaconf import DictConfig
from torch.utils.data import DataLoader, Subset

from ablate.data.detection.coco import CocoDetection
from ablate.data.detection.collate import collate_detection
from ablate.data.detection.composite import CompositeSpec, generate_composite
from ablate.data.detection.transforms import build_transforms
from ablate.data.registry import coco_files


def composite_spec(data: DictConfig) -> CompositeSpec:
    """The composite set described by the data config."""
    return CompositeSpec(seed=data.seed, num_train=data.num_train, num_val=data.num_val, image_size=data.image_size,
                         max_objects=data.max_objects, min_object=data.min_object, max_object=data.max_object)


def split_files(data: DictConfig, split: str) -> tuple[Path, Path]:
    """(image folder, COCO JSON) of a split, generating the composite set on first use."""
    if data.name == "composite":
        folder = generate_composite(Path(data.root).expanduser(), composite_spec(data), data.fashion_root)
        return folder / split, folder / "annotations" / f"{split}.json"
    return coco_files(data.root, split)


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

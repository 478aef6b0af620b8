"""Turn a detection data config into datasets and loaders: COCO 2017 layout or the composite set."""
from pathlib import Path

from omegaconf import DictConfig
from torch.utils.data import DataLoader, Subset

from ablate.data.detection.coco import CocoDetection
from ablate.data.detection.collate import collate_detection
from ablate.data.detection.composite import CompositeSpec, generate_composite
from ablate.data.detection.transforms import build_transforms
from ablate.data.fashion_mnist import missing_files

NAMES = ("coco", "composite")
COCO_SPLITS = {"train": "train2017", "val": "val2017"}


def composite_spec(data: DictConfig) -> CompositeSpec:
    """The composite set described by the data config."""
    return CompositeSpec(seed=data.seed, num_train=data.num_train, num_val=data.num_val, image_size=data.image_size,
                         max_objects=data.max_objects, min_object=data.min_object, max_object=data.max_object)


def coco_files(root: str | Path, split: str) -> tuple[Path, Path]:
    """(image folder, annotation file) of a COCO 2017 split."""
    root = Path(root).expanduser()
    return root / COCO_SPLITS[split], root / "annotations" / f"instances_{COCO_SPLITS[split]}.json"


def check_detection_data(data: DictConfig, splits: tuple[str, ...] = ("train", "val")) -> None:
    """Raise ValueError (one line, with the fix) if the dataset is unknown, misconfigured or missing."""
    if data.name not in NAMES:
        raise ValueError(f"unknown detection dataset data.name={data.name!r}: expected one of {', '.join(NAMES)}")
    if data.name == "composite":
        composite_spec(data)  # validates the sizes
        missing = missing_files(data.fashion_root)
        if missing:
            raise ValueError(f"the composite set needs Fashion-MNIST: {missing[0]} is missing "
                             "(apt-get install dataset-fashion-mnist, or set data.fashion_root)")
        return
    if data.root is None:
        raise ValueError("data.root is not set: point it at a COCO 2017 folder (train2017/, val2017/, annotations/)")
    for split in splits:
        for path in coco_files(data.root, split):
            if not path.exists():
                raise ValueError(f"COCO not found: {path} is missing (expected train2017/, val2017/ and "
                                 "annotations/instances_{train,val}2017.json under data.root)")


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

"""Every dataset by name: its task, the module that loads it, and a check that it is there.

Checks run when a sweep is planned, before anything is written and without torch: each raises
ValueError with one line naming the path and the fix. A new dataset is a loader module, a
conf/data/<name>.yaml, and one `DATASETS.register` line here.
"""
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from ablate.registry import Registry

FASHION_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                       "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
FASHION_MNIST_HINT = "install it with: sudo apt-get install -y dataset-fashion-mnist (or set data.root)"
COCO_SPLITS = {"train": "train2017", "val": "val2017"}


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: the task it serves, its loader module, and its plan-time check."""

    task: str  # classification | detection
    module: str  # the loader, imported only when a run builds its data
    check: Callable[[DictConfig, tuple[str, ...]], None]  # raise ValueError (one line) if it is not there


def missing_fashion_mnist(root: str | Path) -> list[Path]:
    """The Fashion-MNIST IDX files absent under root (empty when the dataset is complete)."""
    return [Path(root) / name for name in FASHION_MNIST_FILES if not (Path(root) / name).is_file()]


def _fashion_mnist(data: DictConfig, splits: tuple[str, ...]) -> None:
    missing = missing_fashion_mnist(data.root)
    if missing:
        raise ValueError(f"Fashion-MNIST not found: {missing[0]} is missing; {FASHION_MNIST_HINT}")


def _nothing(data: DictConfig, splits: tuple[str, ...]) -> None:
    """Bundled with an installed package: always there."""


def _folder(data: DictConfig, splits: tuple[str, ...]) -> None:
    for split in splits:
        path = Path(data.root) / split
        if not path.is_dir():
            raise ValueError(f"image folder not found: {path} is missing "
                             f"(expected {Path(data.root)}/{{train,val}}/<class>/<image>)")


def _composite(data: DictConfig, splits: tuple[str, ...]) -> None:
    if not 1 <= data.min_object <= data.max_object <= data.image_size:
        raise ValueError(f"composite object sizes must satisfy 1 <= min_object <= max_object <= image_size, got "
                         f"{data.min_object}, {data.max_object}, {data.image_size}")
    if min(data.max_objects, data.num_train, data.num_val) < 1:
        raise ValueError("composite max_objects, num_train and num_val must be >= 1")
    missing = missing_fashion_mnist(data.fashion_root)
    if missing:
        raise ValueError(f"the composite set needs Fashion-MNIST: {missing[0]} is missing "
                         "(apt-get install dataset-fashion-mnist, or set data.fashion_root)")


def coco_files(root: str | Path, split: str) -> tuple[Path, Path]:
    """(image folder, annotation file) of a COCO 2017 split."""
    root = Path(root).expanduser()
    return root / COCO_SPLITS[split], root / "annotations" / f"instances_{COCO_SPLITS[split]}.json"


def _coco(data: DictConfig, splits: tuple[str, ...]) -> None:
    if data.root is None:
        raise ValueError("data.root is not set: point it at a COCO 2017 folder (train2017/, val2017/, annotations/)")
    for split in splits:
        for path in coco_files(data.root, split):
            if not path.exists():
                raise ValueError(f"COCO not found: {path} is missing (expected data.root with train2017/, "
                                 "val2017/ and annotations/instances_{train,val}2017.json)")


DATASETS: Registry[DatasetSpec] = Registry("dataset")
DATASETS.register("fashion_mnist", DatasetSpec("classification", "ablate.data.fashion_mnist", _fashion_mnist))
DATASETS.register("digits", DatasetSpec("classification", "ablate.data.digits", _nothing))
DATASETS.register("folder", DatasetSpec("classification", "ablate.data.folder", _folder))
DATASETS.register("composite", DatasetSpec("detection", "ablate.data.detection.composite", _composite))
DATASETS.register("coco", DatasetSpec("detection", "ablate.data.detection.coco", _coco))


def check_dataset(data: DictConfig, task: str, splits: tuple[str, ...] = ("train", "val")) -> None:
    """Raise ValueError (one line, with the fix) if the dataset is unknown, of another task, or not there."""
    if data.name not in DATASETS:
        raise ValueError(f"unknown {task} dataset data.name={data.name!r}: expected one of "
                         f"{', '.join(n for n, s in DATASETS.items() if s.task == task)}")
    spec = DATASETS[data.name]
    if spec.task != task:
        raise ValueError(f"data.name={data.name} is a {spec.task} dataset, not {task}")
    spec.check(data, splits)

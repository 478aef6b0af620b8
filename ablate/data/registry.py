"""Every dataset by name: its task, the module that loads it, and a check that it is there.

Checks run when a sweep is planned, before anything is written and without torch: each raises
ValueError with one line naming the path first, then what was expected. A new dataset is a loader module
(for classification: `build_split(data, split)` returning ablate.data.sets.Tensors or Encoded; for detection:
`split_files(data, split)` returning a split's image folder and COCO JSON), a
conf/data/<name>.yaml, and one `DATASETS.register` line here.
"""
import importlib.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from ablate.data.detection.composite_spec import CompositeSpec
from ablate.registry import Registry

FASHION_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                       "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
FASHION_MNIST_HINT = "install it with: sudo apt-get install -y dataset-fashion-mnist (or set data.root)"
COCO_SPLITS = {"train": "train2017", "val": "val2017"}


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: the task it serves, its loader module, its plan-time check, and what tests at other
    resolutions (ablate.protocol) need to know of its images."""

    task: str  # classification | detection
    module: str  # the loader, imported only when a run builds its data
    check: Callable[[DictConfig, tuple[str, ...]], None]  # raise ValueError (one line) if it is not there
    train_size: int | None = None  # training images, for a set whose size is fixed
    background: float | str = "border"  # canvas and padding fill: a pixel value, or each image's border median
    stored: tuple[int, int] | None = None  # (H, W) every image is stored at, when the set fixes it


def _root(data: DictConfig, holding: str) -> Path:
    """data.root (ValueError if it is not set: such a dataset has no default place)."""
    if data.root is None:
        raise ValueError(f"data={data.name} needs data.root: set it to {holding}")
    return Path(data.root).expanduser()


def missing_fashion_mnist(root: str | Path) -> list[Path]:
    """The Fashion-MNIST IDX files absent under root (empty when the dataset is complete)."""
    return [Path(root) / name for name in FASHION_MNIST_FILES if not (Path(root) / name).is_file()]


def _fashion_mnist(data: DictConfig, splits: tuple[str, ...]) -> None:
    missing = missing_fashion_mnist(data.root)
    if missing:
        raise ValueError(f"Fashion-MNIST not found: {missing[0]} is missing; {FASHION_MNIST_HINT}")


def _nothing(data: DictConfig, splits: tuple[str, ...]) -> None:
    """Bundled with an installed package: always there."""


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")  # ImageFolder's
IMAGE_CHANNELS = (1, 3)  # grey or RGB: what image files are converted to


def class_folders(path: Path) -> list[str]:
    """The class folders of a split, sorted by name (ImageFolder's class order)."""
    return sorted(entry.name for entry in os.scandir(path) if entry.is_dir())


def _holds_an_image(folder: Path) -> bool:
    """Whether folder (or a folder below it, as ImageFolder searches) holds an image file; stops at the first."""
    return any(name.lower().endswith(IMAGE_EXTENSIONS) for _, _, names in os.walk(folder) for name in names)


def _channels(data: DictConfig) -> None:
    if data.in_chans not in IMAGE_CHANNELS:
        raise ValueError(f"data.in_chans={data.in_chans}: images are read as grey (1) or RGB (3)")


def _folder(data: DictConfig, splits: tuple[str, ...]) -> None:
    root = _root(data, "the folder holding train/<class>/<image> and val/<class>/<image>, e.g. "
                       "data.root=/data/imagenet")
    expected = f"expected {root}/train/<class>/<image> and {root}/val/<class>/<image>"
    classes = {}
    for split in splits:
        path = root / split
        if not path.is_dir():
            raise ValueError(f"image folder not found: {path} is missing ({expected})")
        classes[split] = class_folders(path)
        if not classes[split]:
            raise ValueError(f"{path} has no class folders ({expected})")
        empty = next((name for name in classes[split] if not _holds_an_image(path / name)), None)
        if empty is not None:
            raise ValueError(f"{path / empty} holds no image files ({expected}; "
                             f"extensions {' '.join(IMAGE_EXTENSIONS)})")
    # Labels index the train split's classes (ablate.data.folder), also when only val is read.
    known = classes.get("train") or (class_folders(root / "train") if (root / "train").is_dir() else classes[splits[0]])
    extra = sorted(set(classes.get("val", [])) - set(known))
    if extra:
        raise ValueError(f"{root / 'val'} has class folders that {root / 'train'} lacks: {', '.join(extra[:5])} "
                         "(labels are the train split's classes)")
    if data.num_classes is not None and data.num_classes != len(known):
        raise ValueError(f"data.num_classes={data.num_classes} but {root / 'train'} has {len(known)} class folders: "
                         "leave data.num_classes unset (it is inferred) or fix it")
    _channels(data)


CIFAR = {  # name: (title, folder in data.root, files of each split, archive it comes from)
    "cifar10": ("CIFAR-10", "cifar-10-batches-py",
                {"train": [f"data_batch_{i}" for i in range(1, 6)], "val": ["test_batch"]}, "cifar-10-python.tar.gz"),
    "cifar100": ("CIFAR-100", "cifar-100-python", {"train": ["train"], "val": ["test"]}, "cifar-100-python.tar.gz"),
}


def _cifar(data: DictConfig, splits: tuple[str, ...]) -> None:
    title, folder, files, archive = CIFAR[data.name]
    root = _root(data, f"the folder holding {folder}/ (unpacked from {archive})")
    for name in [name for split in splits for name in files[split]]:
        if not (root / folder / name).is_file():
            raise ValueError(f"{title} not found: {root / folder / name} is missing (expected data.root to hold "
                             f"{folder}/ as unpacked from {archive}, the python version; nothing is downloaded)")
    if data.in_chans != 3:
        raise ValueError(f"data.in_chans={data.in_chans}: {title} images are RGB (3)")


def _hf(data: DictConfig, splits: tuple[str, ...]) -> None:
    root = _root(data, "a dataset saved with save_to_disk, or a folder of parquet files named by split")
    expected = ("expected a DatasetDict saved with save_to_disk (dataset_dict.json) or a folder of parquet "
                "files named by split")
    if not root.is_dir():
        raise ValueError(f"Hugging Face dataset not found: {root} is missing ({expected})")
    if importlib.util.find_spec("datasets") is None:
        raise ValueError("data=hf reads datasets with the datasets library, which is not installed: "
                         "pip install -e '.[hf]'")
    index = root / "dataset_dict.json"
    if index.is_file():
        saved = json.loads(index.read_text())["splits"]
        for split in splits:
            name = data[f"{split}_split"]
            if name not in saved:
                raise ValueError(f"{root} has no split {name!r} (it has {', '.join(saved)}): "
                                 f"set data.{split}_split to one of them")
            features = json.loads((root / name / "dataset_info.json").read_text()).get("features", {})
            for column in (data.image_column, data.label_column):
                if column not in features:
                    raise ValueError(f"{root / name} has no column {column!r} (it has {', '.join(features)}): "
                                     f"set data.image_column / data.label_column")
    elif next(root.rglob("*.parquet"), None) is None:
        raise ValueError(f"{root} holds neither dataset_dict.json nor parquet files ({expected})")
    _channels(data)


def _composite(data: DictConfig, splits: tuple[str, ...]) -> None:
    CompositeSpec.of(data)  # its own checks, in its own words
    missing = missing_fashion_mnist(data.fashion_root)
    if missing:
        raise ValueError(f"the composite set needs Fashion-MNIST: {missing[0]} is missing "
                         "(apt-get install dataset-fashion-mnist, or set data.fashion_root)")


def coco_files(root: str | Path, split: str) -> tuple[Path, Path]:
    """(image folder, annotation file) of a COCO 2017 split."""
    root = Path(root).expanduser()
    return root / COCO_SPLITS[split], root / "annotations" / f"instances_{COCO_SPLITS[split]}.json"


def _coco(data: DictConfig, splits: tuple[str, ...]) -> None:
    root = _root(data, "a COCO 2017 folder (train2017/, val2017/, annotations/)")
    for split in splits:
        for path in coco_files(root, split):
            if not path.exists():
                raise ValueError(f"COCO not found: {path} is missing (expected data.root with train2017/, "
                                 "val2017/ and annotations/instances_{train,val}2017.json)")


DATASETS: Registry[DatasetSpec] = Registry("dataset")
DATASETS.register("fashion_mnist", DatasetSpec("classification", "ablate.data.fashion_mnist", _fashion_mnist, 60000,
                                               background=0, stored=(28, 28)))  # items on black
DATASETS.register("digits", DatasetSpec("classification", "ablate.data.digits", _nothing, 1440, background=0,
                                        stored=(8, 8)))
DATASETS.register("folder", DatasetSpec("classification", "ablate.data.folder", _folder))
DATASETS.register("cifar10", DatasetSpec("classification", "ablate.data.cifar", _cifar, 50000, stored=(32, 32)))
DATASETS.register("cifar100", DatasetSpec("classification", "ablate.data.cifar", _cifar, 50000, stored=(32, 32)))
DATASETS.register("hf", DatasetSpec("classification", "ablate.data.hf", _hf))
DATASETS.register("composite", DatasetSpec("detection", "ablate.data.detection.composite", _composite))
DATASETS.register("coco", DatasetSpec("detection", "ablate.data.detection.coco", _coco))


def train_images(data: DictConfig) -> int | None:
    """How many images a classification run trains on, when known before reading the data: data.train_limit, or
    the fixed size of the set if smaller."""
    sizes = [n for n in (data.train_limit, DATASETS[data.name].train_size if data.name in DATASETS else None)
             if n is not None]
    return min(sizes) if sizes else None


def check_dataset(data: DictConfig, task: str, splits: tuple[str, ...] = ("train", "val")) -> None:
    """Raise ValueError (one line, with the fix) if the dataset is unknown, of another task, or not there."""
    if data.name not in DATASETS:
        raise ValueError(f"unknown {task} dataset data.name={data.name!r}: expected one of "
                         f"{', '.join(n for n, s in DATASETS.items() if s.task == task)}")
    spec = DATASETS[data.name]
    if spec.task != task:
        raise ValueError(f"data.name={data.name} is a {spec.task} dataset, not {task}")
    spec.check(data, splits)

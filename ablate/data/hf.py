"""A Hugging Face dataset from disk, read offline by the datasets library (optional: pip install -e '.[hf]'):
a DatasetDict saved with save_to_disk, or a folder of parquet files named by split (the Hub's layout; the
library converts them to Arrow once, under $XDG_CACHE_HOME/ablate/hf). data.image_column (an Image feature)
and data.label_column (ClassLabel or integers) name the columns, data.train_split and data.val_split the
splits."""
import os
from pathlib import Path

from omegaconf import DictConfig
from PIL import Image
from torch.utils.data import Dataset

from ablate.data.folder import MODES, UnreadableImage
from ablate.data.sets import Encoded
from ablate.usercache import cache_dir


class Records(Dataset):
    """i -> (PIL image in mode, label) from the image and label columns of a datasets.Dataset (`source` names it)."""

    def __init__(self, table, image_column: str, label_column: str, mode: str, source: str):
        self.table, self.image_column, self.label_column, self.mode = table, image_column, label_column, mode
        self.source = source

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i: int) -> tuple[Image.Image, int]:
        try:  # the datasets library decodes the image when the row is read
            row = self.table[int(i)]
            image = row[self.image_column].convert(self.mode)
        except (OSError, ValueError, SyntaxError) as e:  # what PIL raises for truncated or foreign bytes
            raise UnreadableImage(f"unreadable image in row {i} of {self.source} ({type(e).__name__}: {e})") from None
        return image, int(row[self.label_column])


def build_split(data: DictConfig, split: str) -> Encoded:
    """One split; the class count from a ClassLabel column, else the largest label + 1."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the data is on disk: never ask the Hub
    import datasets

    datasets.disable_progress_bars()
    root = Path(data.root).expanduser()
    if (root / "dataset_dict.json").is_file():
        splits = datasets.load_from_disk(str(root))
    else:
        splits = datasets.load_dataset("parquet", data_dir=str(root), cache_dir=str(cache_dir("hf")))
    name = data[f"{split}_split"]
    if name not in splits:
        raise ValueError(f"{root} has no split {name!r} (it has {', '.join(splits)}): set data.{split}_split")
    table = splits[name]
    features = table.features
    for column in (data.image_column, data.label_column):
        if column not in features:
            raise ValueError(f"{root} split {name} has no column {column!r} (it has {', '.join(features)}): "
                             "set data.image_column / data.label_column")
    if not isinstance(features[data.image_column], datasets.Image):
        raise ValueError(f"{root} column {data.image_column!r} holds {features[data.image_column]}, not images")
    table = table.select_columns([data.image_column, data.label_column])
    label = features[data.label_column]
    classes = label.num_classes if isinstance(label, datasets.ClassLabel) else int(max(table[data.label_column])) + 1
    files = [entry["filename"] for entry in table.cache_files]
    records = Records(table, data.image_column, data.label_column, MODES[data.in_chans], f"{root} split {name}")
    return Encoded(records, files, classes)

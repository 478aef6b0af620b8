"""Fashion-MNIST from the Debian package's IDX files, loaded whole into uint8 tensors."""
import gzip
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from ablate.data.sets import Tensors

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "val": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def read_idx(path: Path) -> np.ndarray:
    """Decode one gzipped IDX file: big-endian uint32 magic (last byte = ndim), one uint32 per dim, uint8 data."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(tuple(int(s) for s in shape))


def load_fashion_mnist(root: str | Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 1, 28, 28) uint8 and labels (N,) int64 of the train or val (t10k) split."""
    images, labels = (read_idx(Path(root) / name) for name in FILES[split])
    return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def build_split(data: DictConfig, split: str) -> Tensors:
    """The split at data.root, in memory: 10 classes."""
    return Tensors(*load_fashion_mnist(data.root, split), 10)

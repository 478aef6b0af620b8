"""Classification data in memory: IDX decoding, Fashion-MNIST, digits, tensor batches."""
import gzip
import struct

import numpy as np
import torch
from PIL import Image

from ablate.data import fashion_mnist
from ablate.data.digits import load_digits_split
from ablate.data.registry import missing_fashion_mnist
from ablate.data.tensor_batches import TensorBatches

FMNIST = "/usr/share/datasets/fashion-mnist"


def test_read_idx_decodes_header_and_data(tmp_path):
    data = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "x-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 8, 3) + struct.pack(">III", 2, 3, 4) + data.tobytes())
    assert np.array_equal(fashion_mnist.read_idx(path), data)


def test_fashion_mnist_from_the_debian_package():
    assert missing_fashion_mnist(FMNIST) == []
    images, labels = fashion_mnist.load_fashion_mnist(FMNIST, "val")
    assert images.shape == (10_000, 1, 28, 28) and images.dtype == torch.uint8
    assert torch.bincount(labels).tolist() == [1000] * 10
    train_images, train_labels = fashion_mnist.load_fashion_mnist(FMNIST, "train")
    assert train_images.shape == (60_000, 1, 28, 28) and torch.bincount(train_labels).tolist() == [6000] * 10


def test_missing_fashion_mnist_is_listed(tmp_path):
    assert [p.name for p in missing_fashion_mnist(tmp_path)][:1] == ["train-images-idx3-ubyte.gz"]


def test_digits_split_is_fixed_and_disjoint():
    train, val = load_digits_split("train"), load_digits_split("val")
    assert len(train[1]) + len(val[1]) == 1797 and train[0].shape[1:] == (1, 8, 8)
    assert torch.equal(load_digits_split("val")[0], val[0])
    assert train[0].max() <= 255 and train[0].max() > 200


def test_batches_normalise_and_cover_every_image_once():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 1, 2, 2).contiguous()
    labels = torch.arange(10)
    batches = TensorBatches(images, labels, 4, mean=[0.0], std=[1.0], shuffle=True)
    torch.manual_seed(0)
    seen = [(x, y) for x, y in batches]
    assert [len(y) for _, y in seen] == [4, 4, 2]
    assert sorted(torch.cat([y for _, y in seen]).tolist()) == list(range(10))
    for x, y in seen:
        assert torch.allclose(x[:, 0, 0, 0], y.float() / 255)
    torch.manual_seed(0)
    assert all(torch.equal(a[1], b[1]) for a, b in zip(seen, batches))  # same global seed, same order


def write_folder(root, classes=("cat", "dog"), per_class=3, size=32) -> None:
    """A tiny image folder of random pixels (tests elsewhere evaluate on it)."""
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for name in classes:
            (root / split / name).mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i}.png")

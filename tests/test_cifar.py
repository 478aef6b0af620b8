"""CIFAR-10 / CIFAR-100 from a local folder in the standard python format (a tiny synthetic set written here)."""
import hashlib
import json
import pickle

import numpy as np
import pytest
import torch
from torchvision.datasets import CIFAR10, CIFAR100

from ablate.config.compose import Composer
from ablate.data.build import build_loaders
from ablate.data.registry import check_dataset
from ablate.data.tensor_batches import TensorBatches

LAYOUT = {  # name: (folder, label key, meta file, meta key, classes, train files, test file)
    "cifar10": ("cifar-10-batches-py", "labels", "batches.meta", "label_names", 10,
                [f"data_batch_{i}" for i in range(1, 6)], "test_batch"),
    "cifar100": ("cifar-100-python", "fine_labels", "meta", "fine_label_names", 100, ["train"], "test"),
}


def md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def cifar(tmp_path, monkeypatch):
    """Write a tiny CIFAR in the standard format (pickled dicts; rows of 3072 bytes: the R, G, B planes);
    torchvision checks every file's MD5, so its expected sums become those of these files."""
    def write(name: str):
        folder, label_key, meta, meta_key, classes, train, test = LAYOUT[name]
        root = tmp_path / name / folder
        root.mkdir(parents=True)
        rng = np.random.default_rng(0)
        for file in [*train, test]:
            labels = rng.integers(0, classes, 8).tolist()
            planes = np.repeat(np.array([10, 20, 30], dtype=np.uint8), 1024)  # R = 10, G = 20, B = 30
            data = np.tile(planes, (8, 1))
            data[:, 0] = labels  # the label in the first red pixel
            with open(root / file, "wb") as f:
                pickle.dump({"data": data, label_key: labels}, f)
        with open(root / meta, "wb") as f:
            pickle.dump({meta_key: [f"class{i}" for i in range(classes)]}, f)
        reader = CIFAR10 if name == "cifar10" else CIFAR100
        monkeypatch.setattr(reader, "train_list", [[file, md5(root / file)] for file in train])
        monkeypatch.setattr(reader, "test_list", [[test, md5(root / test)]])
        monkeypatch.setattr(reader, "meta", {"filename": meta, "key": meta_key, "md5": md5(root / meta)})
        return tmp_path / name
    return write


def config(name, root, *overrides):
    with Composer() as composer:
        return composer.config(["~experiment", "model=deit_pico", f"data={name}", f"data.root={root}", "train=cpu",
                                "train.batch_size=8", *overrides])


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_loads_in_memory_with_labels_and_channels_in_place(cifar, name):
    cfg = config(name, cifar(name))
    check_dataset(cfg.data, "classification")
    out = build_loaders(cfg.data, cfg.train, cfg.eval, workers=0, seed=cfg.seed)
    assert out.num_classes == LAYOUT[name][4] and isinstance(out.train, TensorBatches)
    images, labels = out.val.images, out.val.labels
    assert images.shape == (8, 3, 32, 32) and images.dtype == torch.uint8 and len(out.train.labels) == 8 * len(
        LAYOUT[name][5])
    assert torch.equal(images[:, 0, 0, 0].long(), labels)
    assert (images[:, 0, 0, 1:] == 10).all() and (images[:, 1] == 20).all() and (images[:, 2] == 30).all()


def test_cifar_trains_end_to_end(cifar, cli, tmp_path):
    root = cifar("cifar10")
    result = cli("train", "~experiment", "model=deit_pico", "rpe=irpe_k", "data=cifar10", f"data.root={root}",
                 "train.epochs=1", "train.batch_size=8", "logging.tensorboard=false", "runtime.threads=1",
                 results=tmp_path / "results")
    assert result.exit_code == 0, result.output
    (record,) = (tmp_path / "results").rglob("record.json")
    metrics = json.loads(record.read_text())["metrics"]
    assert metrics["epochs"] == 1 and 0 <= metrics["top1"] <= 100 and metrics["params"] > 0


def test_missing_cifar_names_the_file_and_the_archive(cli, tmp_path):
    result = cli("train", "data=cifar10", f"data.root={tmp_path}", results=tmp_path / "results")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert f"{tmp_path}/cifar-10-batches-py/data_batch_1 is missing" in line and "cifar-10-python.tar.gz" in line

"""A Hugging Face dataset on disk (the optional extra: pip install -e '.[hf]'): parquet files named by split,
and the DatasetDict that save_to_disk writes; checks of splits and columns."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from ablate.config.compose import Composer
from ablate.data.build import build_loaders
from ablate.data.registry import check_dataset

datasets = pytest.importorskip("datasets")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


@pytest.fixture(autouse=True)
def user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def png(value: int, size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full((*size, 3), value, np.uint8)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def parquet(tmp_path):
    """train.parquet and validation.parquet: 12 and 6 images of two sizes, each as bright as 20 x its label."""
    features = datasets.Features({"img": datasets.Image(), "y": datasets.ClassLabel(names=["a", "b", "c"])})
    root = tmp_path / "pq"
    root.mkdir()
    for split, count in (("train", 12), ("validation", 6)):
        labels = [i % 3 for i in range(count)]
        images = [{"bytes": png(20 * y, (10, 14) if i % 2 else (20, 28)), "path": None} for i, y in enumerate(labels)]
        pq.write_table(pa.table({"img": images, "y": labels}, schema=features.arrow_schema), root / f"{split}.parquet")
    return root


def config(root, *overrides):
    with Composer() as composer:
        return composer.config(["~experiment", "model=deit_pico", "data=hf", f"data.root={root}", "data.img_size=[8,12]",
                                "data.image_column=img", "data.label_column=y", "train=cpu", "train.batch_size=4",
                                *overrides])


def check_loaders(cfg):
    out = build_loaders(cfg.data, cfg.train, cfg.eval, workers=0, seed=cfg.seed)
    assert out.num_classes == 3 and len(out.train) == 3
    images, labels = out.val.images, out.val.labels
    assert images.shape == (6, 3, 8, 12) and labels.tolist() == [0, 1, 2, 0, 1, 2]
    assert torch.equal(images[:, 0, 4, 6].long(), 20 * labels)


def test_parquet_files_named_by_split(parquet):
    cfg = config(parquet)
    check_dataset(cfg.data, "classification")
    check_loaders(cfg)


def test_a_dataset_dict_saved_to_disk(parquet, tmp_path):
    datasets.load_dataset("parquet", data_dir=str(parquet), cache_dir=str(tmp_path / "hf")).save_to_disk(
        str(tmp_path / "saved"))
    cfg = config(tmp_path / "saved")
    check_dataset(cfg.data, "classification")
    check_loaders(cfg)
    with pytest.raises(ValueError, match="has no split 'test' \\(it has train, validation\\): set data.val_split"):
        check_dataset(config(tmp_path / "saved", "data.val_split=test").data, "classification")
    with pytest.raises(ValueError, match="has no column 'image' \\(it has img, y\\)"):
        check_dataset(config(tmp_path / "saved", "data.image_column=image").data, "classification")


def test_missing_hf_dataset_names_the_path(tmp_path):
    with pytest.raises(ValueError, match=f"{tmp_path}/nope is missing \\(expected a DatasetDict saved"):
        check_dataset(config(tmp_path / "nope").data, "classification")

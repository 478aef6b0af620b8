"""Image folders: plan-time checks, the small-set cache, the recipe's crop policy on folder data (cached and
streamed), non-square evaluation, and a real non-square folder of mixed sizes trained end to end."""
import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

import ablate.data.build as build
from ablate.config.compose import Composer
from ablate.data import cache
from ablate.data.registry import check_dataset
from ablate.bench.samples import shifted_fashion
from ablate.data.tensor_batches import TensorBatches
from conftest import tree

FMNIST = "/usr/share/datasets/fashion-mnist"


@pytest.fixture(autouse=True)
def user_cache(tmp_path, monkeypatch):
    """Decoded sets go to a cache of this test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "ablate" / "decoded"


@pytest.fixture(params=["cached", "streamed"])
def path(request, monkeypatch):
    """Run a test through both data paths: small sets decoded once, and streaming from the files."""
    if request.param == "streamed":
        monkeypatch.setattr(build, "is_small", lambda *args: False)
    return request.param


def write_markers(root, size=(12, 16), at=(6, 8), classes=("a", "b"), per_class=8):
    """Black RGB images with one white pixel at `at`."""
    for split in ("train", "val"):
        for name in classes:
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                pixels = np.zeros((*size, 3), dtype=np.uint8)
                pixels[at] = 255
                Image.fromarray(pixels).save(root / split / name / f"{i}.png")
    return root


def folder_config(root, *overrides):
    with Composer() as composer:
        return composer.config(["~experiment", "model=deit_pico", "data=folder", f"data.root={root}",
                                "data.img_size=[12,16]", "train=cpu", "train.batch_size=8", *overrides])


def loaders(cfg):
    return build.build_loaders(cfg.data, cfg.train, cfg.eval, workers=0, seed=cfg.seed)


def bright(batch: torch.Tensor) -> list[tuple[int, int]]:
    flat = batch[:, 0].flatten(1).argmax(1)
    return [(int(i) // batch.shape[-1], int(i) % batch.shape[-1]) for i in flat]


def test_a_missing_folder_names_the_path_first(cli, tmp_path):
    result = cli("train", "data=folder", f"data.root={tmp_path}/nope", results=tmp_path / "results")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert f"{tmp_path}/nope/train is missing" in line and "<class>/<image>" in line
    assert tree(tmp_path / "results") == []


def test_folder_checks_class_folders_and_count(tmp_path):
    root = write_markers(tmp_path / "f", classes=("a", "b", "c"))
    check_dataset(folder_config(root).data, "classification")  # 3 classes, inferred
    with pytest.raises(ValueError, match="data.num_classes=5 but .* has 3 class folders"):
        check_dataset(folder_config(root, "data.num_classes=5").data, "classification")
    (root / "val" / "d").mkdir()
    with pytest.raises(ValueError, match="val/d holds no image files"):
        check_dataset(folder_config(root).data, "classification")
    Image.new("RGB", (4, 4)).save(root / "val" / "d" / "0.png")
    with pytest.raises(ValueError, match="has class folders that .* lacks: d"):
        check_dataset(folder_config(root).data, "classification")


def test_val_labels_are_the_train_split_classes(tmp_path):
    root = write_markers(tmp_path / "f", classes=("a", "b", "c"), per_class=2)
    for name in ("0.png", "1.png"):
        (root / "val" / "a" / name).unlink()
    (root / "val" / "a").rmdir()  # val lacks class a: b and c keep labels 1 and 2
    out = loaders(folder_config(root))
    assert out.num_classes == 3 and sorted(torch.cat([y for _, y in out.val]).tolist()) == [1, 1, 2, 2]


def test_small_sets_are_decoded_once_into_the_users_cache(tmp_path, user_cache, monkeypatch):
    root = write_markers(tmp_path / "f")
    cfg = folder_config(root)
    decodes, decode = [], cache.decode
    monkeypatch.setattr(cache, "decode", lambda *args: decodes.append(args) or decode(*args))
    first = loaders(cfg)
    assert isinstance(first.train, TensorBatches) and len(decodes) == 2 and len(list(user_cache.glob("*.pt"))) == 2
    again = loaders(cfg)
    assert len(decodes) == 2 and torch.equal(again.val.images, first.val.images)  # read from the cache
    Image.new("RGB", (16, 12), "white").save(root / "val" / "a" / "0.png")  # a changed file: a new entry
    changed = loaders(cfg)
    assert len(decodes) == 3 and len(list(user_cache.glob("*.pt"))) == 3
    assert not torch.equal(changed.val.images, first.val.images)


def test_large_sets_stream_with_workers(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "SMALL_SET_BYTES", 12 * 16 * 3 * 15)  # 16 images a split: one too many
    cfg = folder_config(write_markers(tmp_path / "f"))
    out = build.build_loaders(cfg.data, cfg.train, cfg.eval, workers=1, seed=cfg.seed)
    assert isinstance(out.train, DataLoader) and out.train.num_workers == 1
    images, labels = next(iter(out.train))
    assert images.shape == (8, 3, 12, 16) and images.dtype == torch.float32


@pytest.mark.parametrize("size, crop, crop_pct, cached", [
    ((12, 16), "rrc", 0.875, True),  # every image at img_size: the cache holds the originals
    ((24, 32), "pad", "null", True),  # resized first anyway
    ((24, 32), "rrc", 0.875, False),  # crops want the original pixels: stream from the files
])
def test_a_recipe_that_crops_resized_images_reads_the_files(tmp_path, size, crop, crop_pct, cached):
    cfg = folder_config(write_markers(tmp_path / "f", size=size), f"train.crop={crop}", f"eval.crop_pct={crop_pct}")
    out = loaders(cfg)
    assert isinstance(out.train, TensorBatches) == cached and isinstance(out.val, TensorBatches) == cached


@pytest.mark.parametrize("crop, padding", [("pad", 2), ("none", 0), ("rrc", 0)])
def test_the_recipes_crop_policy_reaches_folder_data(tmp_path, path, crop, padding):
    """Fails if folder data ignores train.crop: the marker moves exactly as the policy says."""
    cfg = folder_config(write_markers(tmp_path / "f"), f"train.crop={crop}", f"train.crop_padding={padding}",
                        "train.hflip=0", "train.crop_scale=[0.25,0.5]")
    torch.manual_seed(0)
    positions = [p for images, _ in loaders(cfg).train for p in bright(images)]
    assert len(positions) == 16
    shifts = {(r - 6, c - 8) for r, c in positions}
    if crop == "pad":
        assert shifts <= {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)} and len(shifts) > 3
    elif crop == "none":
        assert shifts == {(0, 0)}
    else:  # a crop of a quarter to half the image, blown up: the marker lands far from where it was
        assert max(abs(dy) + abs(dx) for dy, dx in shifts) > 3


def test_non_square_evaluation_keeps_the_whole_image(tmp_path, path):
    """28 x 48 images with a marker at the right edge, evaluated at [12, 16]: the marker is still in view."""
    root = write_markers(tmp_path / "f", size=(24, 48), at=(12, 47))
    images, _ = next(iter(loaders(folder_config(root)).val))
    assert images.shape[-2:] == (12, 16) and all(c >= 14 for _, c in bright(images))
    cropped, _ = next(iter(loaders(folder_config(root, "eval.crop_pct=0.875")).val))
    assert cropped[:, 0, :, -1].max() < images[:, 0, :, -1].max()  # asked for: the centre crop cuts it away


def test_limits_take_a_fixed_sample_of_every_class(tmp_path):
    root = write_markers(tmp_path / "f", classes=("a", "b", "c"), per_class=10)
    labels = [torch.cat([y for _, y in loaders(folder_config(root, "data.val_limit=12")).val]) for _ in range(2)]
    assert len(labels[0]) == 12 and torch.equal(labels[0], labels[1]) and len(set(labels[0].tolist())) == 3


def test_a_non_square_folder_of_mixed_sizes_trains_well_above_chance(cli, tmp_path):
    """Real images: Fashion-MNIST trousers, sneakers and bags at random places on 28 x 36 and 32 x 40
    canvases, trained at [28, 36] with contextual iRPE (a 7 x 9 patch grid) for 128 steps; chance is 33%
    (about 73% here). The set's own mean and std: ImageNet's leave these dark images at about -2."""
    root = shifted_fashion(tmp_path / "f", FMNIST, n_train=512, n_val=150, canvases=((28, 36), (32, 40)),
                           classes=(1, 7, 8))
    sizes = {Image.open(p).size for p in (root / "train").rglob("*.png")}
    assert sizes == {(36, 28), (40, 32)}
    result = cli("train", "~experiment", "model=deit_pico", "pe.absolute=none", "rpe=irpe_k", "data=folder",
                 f"data.root={root}", "data.img_size=[28,36]", "data.mean=[0.1,0.1,0.1]", "data.std=[0.25,0.25,0.25]",
                 "train=cpu", "train.crop=none", "train.hflip=0", "train.epochs=4", "train.batch_size=16",
                 "train.base_lr=0.1", "train.warmup_epochs=0", "logging.tensorboard=false", "runtime.threads=1",
                 "runtime.workers=0", results=tmp_path / "results")
    assert result.exit_code == 0, result.output
    (record,) = (tmp_path / "results").rglob("record.json")
    record = json.loads(record.read_text())
    assert record["status"] == "completed" and record["metrics"]["top1"] > 60
    assert record["config"]["data"]["num_classes"] is None and record["config"]["data"]["img_size"] == [28, 36]


@pytest.mark.parametrize("overrides, needle", [
    (["data.in_chans=1"], "data.mean and data.std need one value per channel (data.in_chans=1), got 3 and 3"),
    (["data.in_chans=4", "data.mean=[0,0,0,0]", "data.std=[1,1,1,1]"], "images are read as grey (1) or RGB (3)"),
    (["train.crop=centre"], "train.crop='centre': expected one of rrc, pad, none"),
    (["train.crop_scale=[0.5,0.1]"], "train.crop_scale=[0.5, 0.1]: expected [low, high]"),
    (["eval.crop_pct=1.5"], "eval.crop_pct=1.5 is out of range: expected > 0 and <= 1")])
def test_recipe_and_channel_options_are_checked_at_plan_time(tmp_path, overrides, needle):
    from ablate.config.tasks import check_config

    with pytest.raises(ValueError) as error:
        check_config(folder_config(write_markers(tmp_path / "f"), *overrides))
    assert needle in str(error.value)

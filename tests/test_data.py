"""Classification data: IDX decoding, Fashion-MNIST, digits, batched augmentation, folder transforms."""
import gzip
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from ablate.data import fashion_mnist
from ablate.data.digits import load_digits_split
from ablate.data.folder import eval_transform, image_folder
from ablate.data.registry import missing_fashion_mnist
from ablate.data.tensor_batches import BatchAugment, TensorBatches

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


def test_augment_translates_and_flips_within_bounds():
    image = torch.zeros(1, 1, 5, 5, dtype=torch.uint8)
    image[0, 0, 2, 0] = 255  # one bright pixel at the left edge of the middle row
    batch = image.expand(64, 1, 5, 5)
    out = BatchAugment(crop_padding=1, hflip=0.5).pixels(batch, torch.Generator().manual_seed(0))
    assert out.shape == batch.shape and out.dtype == torch.uint8
    positions = {tuple(torch.nonzero(o[0]).flatten().tolist()) for o in out}
    assert positions <= {(r, c) for r in (1, 2, 3) for c in (0, 1, 3, 4)} | {()}
    assert any(c >= 3 for _, c in filter(None, positions)) and any(c <= 1 for _, c in filter(None, positions))


def test_randaugment_and_erasing_keep_shapes():
    batch = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    augment = BatchAugment(randaug="rand-m9-mstd0.5-inc1", reprob=1.0, channels=1)
    pixels = augment.pixels(batch, torch.Generator().manual_seed(0))
    assert pixels.shape == batch.shape and pixels.dtype == torch.uint8
    erased = augment.normalized(torch.zeros(4, 1, 28, 28))
    assert erased.shape == (4, 1, 28, 28) and (erased != 0).any()


def test_eval_transform_is_resize_256_bicubic_centre_crop_224():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8))
    out = eval_transform(224, 0.875, "bicubic", [0.5] * 3, [0.5] * 3)(image)
    assert out.shape == (3, 224, 224)
    resized = image.resize((341, 256), Image.BICUBIC)  # shorter side to 256, aspect kept
    left, top = (341 - 224) // 2, (256 - 224) // 2
    expected = np.asarray(resized.crop((left, top, left + 224, top + 224)), dtype=np.float32) / 255
    assert np.allclose(out.permute(1, 2, 0).numpy(), (expected - 0.5) / 0.5, atol=0.02)


def write_folder(root, classes=("cat", "dog"), per_class=3, size=32) -> None:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for name in classes:
            (root / split / name).mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i}.png")


def test_image_folder_layout(tmp_path):
    write_folder(tmp_path)
    dataset = image_folder(tmp_path, "val", eval_transform(28, 0.875, "bicubic", [0.5] * 3, [0.5] * 3))
    assert dataset.classes == ["cat", "dog"] and len(dataset) == 6
    assert dataset[0][0].shape == (3, 28, 28)


def test_missing_folder_split_is_a_clear_error(tmp_path):
    from omegaconf import OmegaConf

    from ablate.data.registry import check_dataset
    cfg = OmegaConf.create({"name": "folder", "root": str(tmp_path)})
    with pytest.raises(ValueError, match="image folder not found: .*train is missing"):
        check_dataset(cfg, "classification")

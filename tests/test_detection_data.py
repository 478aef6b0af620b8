"""Detection data: DETR transforms on boxes, padded collate, the composite set, COCO-format loading."""
import json

import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from ablate.data.registry import check_dataset
from ablate.data.detection.coco import CocoDetection
from ablate.data.detection.collate import collate_detection
from ablate.data.detection.composite import CompositeSpec, generate_composite
from ablate.data.detection.transforms import Normalize, crop, hflip, resize, resized_shape

FASHION = "/usr/share/datasets/fashion-mnist"


def target(boxes: list[list[float]]) -> dict:
    n = len(boxes)
    b = torch.tensor(boxes, dtype=torch.float32)
    return {"boxes": b, "labels": torch.arange(1, n + 1), "iscrowd": torch.zeros(n, dtype=torch.int64),
            "area": (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), "size": torch.tensor([50, 100])}


def test_hflip_mirrors_boxes():
    image = Image.new("RGB", (100, 50))
    _, t = hflip(image, target([[10, 5, 30, 25]]))
    assert t["boxes"].tolist() == [[70, 5, 90, 25]]


def test_crop_clips_boxes_and_drops_those_outside():
    image = Image.new("RGB", (100, 50))
    cropped, t = crop(image, target([[10, 5, 30, 25], [80, 30, 95, 45]]), top=10, left=20, height=30, width=40)
    assert cropped.size == (40, 30)
    assert t["boxes"].tolist() == [[0, 0, 10, 15]]
    assert t["labels"].tolist() == [1] and t["area"].tolist() == [150] and t["size"].tolist() == [30, 40]


def test_resize_keeps_aspect_and_caps_the_long_side():
    assert resized_shape(100, 50, 80, None) == (80, 160)
    assert resized_shape(100, 50, 80, 120) == (60, 120)
    image, t = resize(Image.new("RGB", (100, 50)), target([[10, 5, 30, 25]]), 100)
    assert image.size == (200, 100)
    assert t["boxes"].tolist() == [[20, 10, 60, 50]] and t["area"].tolist() == [1600]


def test_normalize_gives_relative_cxcywh():
    tensor, t = Normalize()(Image.new("RGB", (100, 50)), target([[10, 5, 30, 25]]))
    assert tensor.shape == (3, 50, 100)
    assert torch.allclose(t["boxes"], torch.tensor([[0.2, 0.3, 0.2, 0.4]]))


def test_collate_pads_bottom_right_with_mask():
    a, b = torch.ones(3, 4, 6), torch.full((3, 5, 3), 2.0)
    images, mask, targets = collate_detection([(a, {"i": 0}), (b, {"i": 1})])
    assert images.shape == (2, 3, 5, 6) and mask.shape == (2, 5, 6)
    assert mask[0, 4].all() and not mask[0, :4].any()
    assert mask[1, :, 3:].all() and not mask[1, :, :3].any()
    assert torch.equal(images[1, :, :, :3], b) and images[1, :, :, 3:].abs().sum() == 0
    assert [t["i"] for t in targets] == [0, 1]


SPEC = CompositeSpec(seed=3, num_train=6, num_val=3, image_size=64, max_objects=3, min_object=12, max_object=28)


@pytest.fixture(scope="module")
def composite(tmp_path_factory):
    return generate_composite(tmp_path_factory.mktemp("cache"), SPEC, FASHION)


def test_composite_is_deterministic_valid_coco(composite, tmp_path):
    again = generate_composite(tmp_path, SPEC, FASHION)
    assert (again / "annotations/train.json").read_text() == (composite / "annotations/train.json").read_text()
    assert (again / "val/000001.png").read_bytes() == (composite / "val/000001.png").read_bytes()
    other = generate_composite(tmp_path, CompositeSpec(**{**SPEC.__dict__, "seed": 4}), FASHION)
    assert (other / "annotations/train.json").read_text() != (composite / "annotations/train.json").read_text()
    coco = json.loads((composite / "annotations/train.json").read_text())
    assert len(coco["images"]) == 6 and [c["id"] for c in coco["categories"]] == list(range(1, 11))
    assert coco["info"]["description"] == "composite real-crop detection"
    for image in coco["images"]:
        boxes = [a["bbox"] for a in coco["annotations"] if a["image_id"] == image["id"]]
        assert 1 <= len(boxes) <= 3
        for i, (x, y, w, h) in enumerate(boxes):
            assert x >= 0 and y >= 0 and x + w <= 64 and y + h <= 64 and w > 0 and h > 0
            for (x2, y2, w2, h2) in boxes[i + 1:]:  # never overlapping
                assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y


def test_composite_cache_is_reused(composite):
    stamp = (composite / "annotations/val.json").stat().st_mtime_ns
    assert generate_composite(composite.parent, SPEC, FASHION) == composite
    assert (composite / "annotations/val.json").stat().st_mtime_ns == stamp


def test_coco_dataset_reads_boxes_in_detr_format(composite):
    dataset = CocoDetection(composite / "val", composite / "annotations/val.json", Normalize())
    coco = json.loads((composite / "annotations/val.json").read_text())
    image, t = dataset[0]
    assert image.shape == (3, 64, 64) and dataset.num_classes == 11
    anns = [a for a in coco["annotations"] if a["image_id"] == 1]
    expected = torch.tensor([[(x + w / 2) / 64, (y + h / 2) / 64, w / 64, h / 64] for x, y, w, h in
                             (a["bbox"] for a in anns)])
    assert torch.allclose(t["boxes"], expected)
    assert t["labels"].tolist() == [a["category_id"] for a in anns]
    assert t["image_id"].item() == 1 and t["orig_size"].tolist() == [64, 64]


def test_missing_coco_gives_a_clear_error(tmp_path):
    data = OmegaConf.create({"name": "coco", "root": str(tmp_path)})
    with pytest.raises(ValueError, match=r"COCO not found: .*train2017 is missing"):
        check_dataset(data, "detection")
    with pytest.raises(ValueError, match="unknown detection dataset"):
        check_dataset(OmegaConf.create({"name": "voc", "root": None}), "detection")

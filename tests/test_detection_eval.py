"""COCO evaluation of known predictions, and the detection task inside the runner."""
import json
import math

import pytest
import torch
from pycocotools.coco import COCO

from ablate.engine.detection import coco_metrics, evaluate_detector, to_coco_detections


def ground_truth(boxes_per_image: dict[int, list[list[float]]]) -> COCO:
    """A pycocotools index of xywh boxes (category 1), 200x200 images."""
    images = [{"id": i, "file_name": f"{i}.png", "height": 200, "width": 200} for i in boxes_per_image]
    anns = [{"id": n + 1, "image_id": i, "category_id": 1, "bbox": b, "area": b[2] * b[3], "iscrowd": 0}
            for n, (i, b) in enumerate((i, b) for i, bs in boxes_per_image.items() for b in bs)]
    coco = COCO()
    coco.dataset = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "thing"}]}
    coco.createIndex()
    return coco


def test_perfect_predictions_give_full_ap():
    gt = {1: [[10, 10, 20, 20], [100, 100, 60, 60]], 2: [[50, 20, 120, 150]]}  # small, medium, large
    detections = [{"image_id": i, "category_id": 1, "bbox": b, "score": 0.9} for i, bs in gt.items() for b in bs]
    metrics = coco_metrics(ground_truth(gt), detections, [1, 2])
    assert metrics == pytest.approx({"AP": 100.0, "AP50": 100.0, "AP75": 100.0, "APs": 100.0, "APm": 100.0,
                                     "APl": 100.0})


def test_one_hit_one_false_positive_one_miss():
    """Two medium objects; a perfect hit ranked above a false positive: precision 1 up to recall 0.5,
    nothing beyond, so the 101-point interpolated AP is 51/101 at every IoU threshold."""
    gt = {1: [[10, 10, 40, 40], [120, 120, 40, 40]]}
    detections = [{"image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 40], "score": 0.9},
                  {"image_id": 1, "category_id": 1, "bbox": [60, 150, 40, 40], "score": 0.8}]
    metrics = coco_metrics(ground_truth(gt), detections, [1])
    for name in ("AP", "AP50", "AP75", "APm"):
        assert metrics[name] == pytest.approx(100 * 51 / 101)
    assert math.isnan(metrics["APs"]) and math.isnan(metrics["APl"])  # no objects of those sizes


def test_a_box_shifted_past_iou_075_counts_only_at_lower_thresholds():
    """IoU of a 40x40 box shifted by 8 px: 32*40 / (2*1600 - 1280) = 2/3, a hit for thresholds 0.50..0.65."""
    gt = {1: [[10, 10, 40, 40]]}
    detections = [{"image_id": 1, "category_id": 1, "bbox": [18, 10, 40, 40], "score": 0.9}]
    metrics = coco_metrics(ground_truth(gt), detections, [1])
    assert metrics["AP50"] == pytest.approx(100.0) and metrics["AP75"] == pytest.approx(0.0)
    assert metrics["AP"] == pytest.approx(100.0 * 4 / 10)  # 4 of the 10 IoU thresholds 0.50:0.05:0.95


def test_no_detections_give_zero_ap():
    assert coco_metrics(ground_truth({1: [[10, 10, 40, 40]]}), [], [1])["AP"] == 0.0


def test_to_coco_detections_converts_xyxy_to_xywh():
    results = [{"scores": torch.tensor([0.5]), "labels": torch.tensor([3]), "boxes": torch.tensor([[10.0, 20, 50, 80]])}]
    entries = to_coco_detections(results, [{"image_id": torch.tensor(7)}])
    assert entries == [{"image_id": 7, "category_id": 3, "bbox": [10.0, 20.0, 40.0, 60.0], "score": 0.5}]


class Oracle(torch.nn.Module):
    """Predicts each image's ground truth exactly (queries beyond it say "no object")."""

    def __init__(self, batches: list, num_classes: int, num_queries: int = 5):
        super().__init__()
        self.outputs = []
        for _, _, targets in batches:
            logits = torch.full((len(targets), num_queries, num_classes + 1), -10.0)
            logits[..., -1] = 10.0
            boxes = torch.full((len(targets), num_queries, 4), 0.5)
            for i, t in enumerate(targets):
                n = len(t["labels"])
                logits[i, :n, -1] = -10.0
                logits[i, torch.arange(n), t["labels"]] = 10.0
                boxes[i, :n] = t["boxes"]
            self.outputs.append({"pred_logits": logits, "pred_boxes": boxes})

    def forward(self, images: torch.Tensor, mask: torch.Tensor) -> dict:
        return self.outputs.pop(0)


def test_evaluate_detector_scores_an_oracle_at_full_ap(tmp_path):
    from ablate.data.detection.build import build_detection_loader
    from ablate.data.detection.coco import CocoDetection
    from ablate.data.detection.composite import CompositeSpec, generate_composite
    from ablate.data.detection.transforms import build_transforms

    spec = CompositeSpec(seed=1, num_train=1, num_val=6, image_size=64, max_objects=3, min_object=12, max_object=40)
    folder = generate_composite(tmp_path, spec, "/usr/share/datasets/fashion-mnist")
    # evaluate at another size than the files: boxes must come back to original pixels
    dataset = CocoDetection(folder / "val", folder / "annotations/val.json",
                            build_transforms(False, [48], 100, [48], 32, 48, eval_size=48))
    loader = build_detection_loader(dataset, batch_size=4, train=False, workers=0)
    metrics = evaluate_detector(Oracle(list(loader), num_classes=11), loader, dataset.coco, torch.device("cpu"))
    assert metrics["AP"] == pytest.approx(100.0, abs=0.01) and metrics["AP75"] == pytest.approx(100.0, abs=0.01)


def test_detection_run_records_ap_metrics(tmp_path):
    """One tiny epoch through the runner: the record carries the COCO metrics like any run's."""
    from ablate.engine.runner import execute
    from ablate.config.compose import Composer

    overrides = ["experiment=detr_composite", f"data.root={tmp_path / 'cache'}", "data.num_train=8",
                 "data.num_val=4", "data.image_size=64", "data.eval_size=64", "data.scales=[64]",
                 "model.enc_rpe2d=rpe-2.0-product-ctx-1-k", "model.hidden_dim=32", "model.nheads=4",
                 "model.enc_layers=1", "model.dec_layers=1", "model.dim_feedforward=64", "train.epochs=1",
                 "train.batch_size=4", "eval.batch_size=4", "logging.tensorboard=false"]
    with Composer() as composer:
        cfg = composer.config(overrides)
    record = execute(cfg, tmp_path / "run", overrides)
    assert record["status"] == "completed", record["error"]
    assert record["task"] == "detection"
    metrics = record["metrics"]
    assert {"AP", "AP50", "AP75", "APs", "APm", "APl", "best_AP", "train_loss"} <= set(metrics)
    assert 0.0 <= metrics["AP"] <= 100.0
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["AP"] == metrics["AP"]


def test_ablate_eval_on_a_detr_checkpoint_and_a_coco_folder(tmp_path):
    """`ablate eval` builds DETR from the config, loads an authors'-style .pth ({"model": ...}), reports AP."""
    from typer.testing import CliRunner

    from ablate.cli import app
    from ablate.data.detection.composite import CompositeSpec, generate_composite
    from ablate.engine.detection import build_detr_model
    from ablate.config.compose import Composer

    spec = CompositeSpec(seed=2, num_train=1, num_val=3, image_size=64, max_objects=2, min_object=12, max_object=30)
    folder = generate_composite(tmp_path / "cache", spec, "/usr/share/datasets/fashion-mnist")
    coco = tmp_path / "coco"  # the COCO 2017 layout, holding composite scenes
    (coco / "annotations").mkdir(parents=True)
    (coco / "val2017").symlink_to(folder / "val")
    (coco / "annotations" / "instances_val2017.json").symlink_to(folder / "annotations" / "val.json")
    # ~experiment: the default experiment is a DeiT study
    overrides = ["~experiment", "model=detr_small", "data=coco", f"data.root={coco}", "data.num_classes=11",
                 "data.eval_size=64",
                 "model.hidden_dim=32", "model.nheads=4", "model.enc_layers=1", "model.dec_layers=1",
                 "model.enc_rpe2d=rpe-2.0-product-ctx-1-k", "eval.batch_size=3", "runtime.workers=0"]
    with Composer() as composer:
        cfg = composer.config(overrides)
    torch.save({"model": build_detr_model(cfg).state_dict(), "epoch": 0}, tmp_path / "c.pth")
    result = CliRunner().invoke(app, ["eval", str(tmp_path / "c.pth"), *overrides])
    assert result.exit_code == 0, result.output
    assert "AP " in result.output and "AP50 " in result.output and "APl " in result.output
    wrong = CliRunner().invoke(app, ["eval", str(tmp_path / "c.pth"), *overrides, "model.enc_layers=2"])
    assert wrong.exit_code == 2 and "missing 13: transformer.encoder.layers.1." in wrong.output


def test_backbone_parameters_train_at_the_scaled_learning_rate():
    from ablate.engine.detection import DetectionTask
    from ablate.models.detr import build_criterion, build_detr

    model = build_detr("rpe-2.0-product-ctx-1-k", num_classes=3, backbone="resnet18", hidden_dim=32, nheads=4,
                       enc_layers=1, dec_layers=1, dim_feedforward=64, num_queries=5)
    task = DetectionTask(model, build_criterion(3), [], [], None, torch.device("cpu"), 0.1, (3, 64, 64))
    groups = task.param_groups(weight_decay=1e-4, decay_rpe=False, decay_all=False)
    backbone = {id(p) for p in model.backbone.parameters()}
    for group in groups:
        in_backbone = {id(p) in backbone for p in group["params"]}
        assert len(in_backbone) <= 1
        assert group.get("lr_scale", 1.0) == (0.1 if in_backbone == {True} else 1.0)
    grouped = sorted(id(p) for g in groups for p in g["params"])
    assert grouped == sorted(id(p) for p in model.parameters() if p.requires_grad)
    table = model.transformer.encoder.layers[0].self_attn.rpe_k.lookup_table_weight
    assert next(g for g in groups if any(p is table for p in g["params"]))["weight_decay"] == 0.0

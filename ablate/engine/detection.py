"""Object detection: DETR with iRPE on a COCO-format set; set loss to train, COCO AP (pycocotools) to evaluate."""
import contextlib
import io
import math
import time
from pathlib import Path

import torch
from omegaconf import DictConfig
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ablate.config.checks import detr_rpe, pe_options
from ablate.data.detection.build import build_detection_dataset, build_detection_loader
from ablate.data.registry import check_dataset
from ablate.engine.optim import Stepper, param_groups
from ablate.models.weights import checkpoint_state, load_into
from ablate.engine.task import Task
from ablate.models.detr import DETR, build_criterion, build_detr, postprocess
from ablate.models.detr.box_ops import box_xyxy_to_cxcywh
from ablate.models.detr.criterion import SetCriterion

# pycocotools' summary order; APs/APm/APl are -1 there when the set has no object of that size (NaN here).
AP_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl")


# DETR names its absolute encodings as its authors did; pe.absolute uses the names every model shares.
DETR_ABSOLUTE = {"sincos": "sine", "learned": "learned", "none": "none"}


def build_detr_model(cfg: DictConfig) -> DETR:
    """DETR from the model, pe and rpe config groups, for the dataset's classes. A bias table's window is the
    feature map of an evaluation image (larger maps clamp their offsets to it)."""
    model, pe, rpe, num_classes = cfg.model, cfg.pe, cfg.rpe, cfg.data.num_classes
    grid = (-(-cfg.data.eval_size // model.output_stride),) * 2
    return build_detr(detr_rpe(model, rpe), num_classes=num_classes, backbone=model.backbone,
                      backbone_weights=model.backbone_weights, output_stride=model.output_stride,
                      train_backbone=model.backbone_lr_scale > 0, backbone_from_scratch=model.backbone_from_scratch,
                      backbone_width=model.backbone_width, position_embedding=DETR_ABSOLUTE[pe.absolute],
                      pe=pe.name, pe_options=pe_options(pe), pe_grid=grid,
                      hidden_dim=model.hidden_dim, nheads=model.nheads, enc_layers=model.enc_layers,
                      dec_layers=model.dec_layers, dim_feedforward=model.dim_feedforward, dropout=model.dropout,
                      num_queries=model.num_queries, aux_loss=model.aux_loss, attn_backend=model.attn_backend)


def build(cfg: DictConfig, device: torch.device) -> "DetectionTask":
    """Model, criterion and loaders from the config."""
    data = cfg.data
    train_set, val_set = build_detection_dataset(data, "train"), build_detection_dataset(data, "val")
    for split in (train_set, val_set):
        if split.num_classes > data.num_classes:
            raise ValueError(f"data.num_classes={data.num_classes} but the annotations use category ids up to "
                             f"{split.num_classes - 1}")
    model = build_detr_model(cfg)
    train_loader = build_detection_loader(train_set, cfg.train.batch_size, True, cfg.runtime.workers, data.train_limit)
    val_loader = build_detection_loader(val_set, cfg.eval.batch_size, False, cfg.runtime.workers, data.val_limit)
    criterion = build_criterion(data.num_classes, eos_coef=cfg.model.eos_coef)
    return DetectionTask(model.to(device), criterion.to(device), train_loader, val_loader, val_set.coco, device,
                         cfg.model.backbone_lr_scale, (3, data.eval_size, data.eval_size))


def coco_metrics(coco_gt: COCO, detections: list[dict], image_ids: list[int]) -> dict[str, float]:
    """COCO box AP, AP50, AP75, APs, APm, APl in percent over image_ids (pycocotools, 100 detections)."""
    if not detections:
        return {name: 0.0 for name in AP_NAMES}
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes(detections)
        evaluator = COCOeval(coco_gt, coco_dt, iouType="bbox")
        evaluator.params.imgIds = sorted(image_ids)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {name: 100.0 * float(v) if v >= 0 else math.nan for name, v in zip(AP_NAMES, evaluator.stats)}


def to_coco_detections(results: list[dict], targets: list[dict]) -> list[dict]:
    """Post-processed predictions -> COCO result entries (xywh boxes in original pixels)."""
    entries = []
    for result, target in zip(results, targets):
        xywh = box_xyxy_to_cxcywh(result["boxes"])
        xywh[:, :2] -= xywh[:, 2:] / 2
        for score, label, box in zip(result["scores"].tolist(), result["labels"].tolist(), xywh.tolist()):
            entries.append({"image_id": int(target["image_id"]), "category_id": label, "bbox": box, "score": score})
    return entries


@torch.no_grad()
def evaluate_detector(model: torch.nn.Module, batches, coco_gt: COCO, device: torch.device) -> dict[str, float]:
    """COCO AP metrics of the model's predictions on every batch."""
    model.eval()
    detections, image_ids = [], []
    for images, mask, targets in batches:
        outputs = model(images.to(device, non_blocking=True), mask.to(device, non_blocking=True))
        sizes = torch.stack([t["orig_size"] for t in targets]).to(device)
        results = [{k: v.float().cpu() for k, v in r.items()} for r in postprocess(outputs, sizes)]
        detections += to_coco_detections(results, targets)
        image_ids += [int(t["image_id"]) for t in targets]
    return coco_metrics(coco_gt, detections, image_ids)


def evaluate_checkpoint(cfg: DictConfig, path: Path, device: torch.device) -> dict[str, float]:
    """COCO AP of a DETR checkpoint (the authors' .pth with a "model" key, or ours) on the val split."""
    detr_rpe(cfg.model, cfg.rpe)
    check_dataset(cfg.data, "detection", splits=("val",))
    model = build_detr_model(cfg)
    load_into(model, checkpoint_state(path), path)
    val_set = build_detection_dataset(cfg.data, "val")
    loader = build_detection_loader(val_set, cfg.eval.batch_size, False, cfg.runtime.workers)
    return evaluate_detector(model.to(device), loader, val_set.coco, device)


class DetectionTask(Task):
    """Trains DETR with the set criterion (backbone at a scaled learning rate); evaluates COCO AP."""

    def __init__(self, model: DETR, criterion: SetCriterion, train_set, val_set, coco_gt: COCO,
                 device: torch.device, backbone_lr_scale: float, input_shape: tuple[int, ...]):
        self.model, self.criterion, self.train_set, self.val_set = model, criterion, train_set, val_set
        self.coco_gt, self.device, self.input_shape = coco_gt, device, input_shape
        self.backbone_lr_scale = backbone_lr_scale
        self.steps_per_epoch = len(train_set)

    def param_groups(self, weight_decay: float, decay_rpe: bool, decay_all: bool) -> list[dict]:
        """The runner's decay groups, each split into backbone (lr scaled, as DETR's lr_backbone) and the rest."""
        backbone = {id(p) for p in self.model.backbone.parameters()}
        groups = []
        for group in param_groups(self.model, weight_decay, decay_rpe, decay_all):
            rest = [p for p in group["params"] if id(p) not in backbone]
            trunk = [p for p in group["params"] if id(p) in backbone]
            groups.append({**group, "params": rest})
            if trunk:
                groups.append({**group, "params": trunk, "lr_scale": self.backbone_lr_scale})
        return groups

    def train_epoch(self, epoch: int, step: Stepper) -> dict[str, float]:
        """One pass over the training set."""
        self.model.train()
        loss_sum, images_seen, start = 0.0, 0, time.perf_counter()
        for images, mask, targets in self.train_set:
            images, mask = images.to(self.device, non_blocking=True), mask.to(self.device, non_blocking=True)
            targets = [{k: v.to(self.device) for k, v in t.items()} for t in targets]
            with step.autocast():
                outputs = self.model(images, mask)
            outputs = _to_float(outputs)
            loss = self.criterion(outputs, targets)["loss"]
            loss_sum += step(loss) * len(images)
            images_seen += len(images)
        seconds = time.perf_counter() - start
        return {"train_loss": loss_sum / images_seen, "images": images_seen, "train_time_s": seconds}

    def evaluate(self) -> dict[str, float]:
        """COCO AP metrics on the validation split (AP first: the headline metric)."""
        return evaluate_detector(self.model, self.val_set, self.coco_gt, self.device)


def _to_float(outputs: dict) -> dict:
    """Predictions in full precision for the loss (the matcher and GIoU are sensitive to bf16 rounding)."""
    out = {k: v.float() for k, v in outputs.items() if k != "aux_outputs"}
    if "aux_outputs" in outputs:
        out["aux_outputs"] = [{k: v.float() for k, v in aux.items()} for aux in outputs["aux_outputs"]]
    return out

"""DETR's set loss: cross-entropy with a down-weighted no-object class, L1 and GIoU box losses."""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ablate.models.detr.box_ops import box_cxcywh_to_xyxy, generalized_box_iou
from ablate.models.detr.matcher import HungarianMatcher


class SetCriterion(nn.Module):
    """Matches predictions to targets, then sums weighted losses over the final and auxiliary decoder outputs."""

    def __init__(self, num_classes: int, matcher: HungarianMatcher, eos_coef: float = 0.1,
                 ce_weight: float = 1.0, bbox_weight: float = 5.0, giou_weight: float = 2.0):
        super().__init__()
        self.num_classes = num_classes
        self.matcher = matcher
        self.weights = {"loss_ce": ce_weight, "loss_bbox": bbox_weight, "loss_giou": giou_weight}
        # The last logit is "no object"; most queries predict it, so it is down-weighted.
        empty_weight = torch.ones(num_classes + 1)
        empty_weight[-1] = eos_coef
        self.register_buffer("empty_weight", empty_weight)

    def _losses(self, outputs: dict[str, Tensor], targets: list[dict[str, Tensor]], num_boxes: float) -> dict[str, Tensor]:
        """The three unweighted losses of one decoder layer's predictions."""
        matches = self.matcher(outputs, targets)
        batch_idx = torch.cat([torch.full_like(src, i) for i, (src, _) in enumerate(matches)])
        query_idx = torch.cat([src for src, _ in matches])

        logits = outputs["pred_logits"]
        target_classes = torch.full(logits.shape[:2], self.num_classes, dtype=torch.int64, device=logits.device)
        target_classes[batch_idx, query_idx] = torch.cat([t["labels"][tgt] for t, (_, tgt) in zip(targets, matches)])
        loss_ce = F.cross_entropy(logits.transpose(1, 2), target_classes, self.empty_weight)

        src_boxes = outputs["pred_boxes"][batch_idx, query_idx]
        tgt_boxes = torch.cat([t["boxes"][tgt] for t, (_, tgt) in zip(targets, matches)])
        loss_bbox = F.l1_loss(src_boxes, tgt_boxes, reduction="none").sum() / num_boxes
        giou = torch.diag(generalized_box_iou(box_cxcywh_to_xyxy(src_boxes), box_cxcywh_to_xyxy(tgt_boxes)))
        loss_giou = (1 - giou).sum() / num_boxes
        return {"loss_ce": loss_ce, "loss_bbox": loss_bbox, "loss_giou": loss_giou}

    def forward(self, outputs: dict, targets: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        """Per-term losses (auxiliary ones suffixed _0, _1, ...) and their weighted sum under "loss"."""
        num_boxes = max(float(sum(len(t["labels"]) for t in targets)), 1.0)
        layers = [("", outputs)] + [(f"_{i}", aux) for i, aux in enumerate(outputs.get("aux_outputs", []))]
        losses, total = {}, 0.0
        for suffix, layer_outputs in layers:
            for name, value in self._losses(layer_outputs, targets, num_boxes).items():
                losses[name + suffix] = value
                total = total + self.weights[name] * value
        losses["loss"] = total
        return losses

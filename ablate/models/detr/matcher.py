"""Hungarian matching between DETR's predictions and the ground-truth objects of each image."""
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

from ablate.models.detr.box_ops import box_cxcywh_to_xyxy, generalized_box_iou


class HungarianMatcher(nn.Module):
    """One-to-one assignment minimising a weighted sum of class, L1 box and GIoU costs."""

    def __init__(self, cost_class: float = 1.0, cost_bbox: float = 5.0, cost_giou: float = 2.0):
        super().__init__()
        if cost_class == 0 and cost_bbox == 0 and cost_giou == 0:
            raise ValueError("HungarianMatcher needs at least one non-zero cost weight")
        self.cost_class = cost_class
        self.cost_bbox = cost_bbox
        self.cost_giou = cost_giou

    @torch.no_grad()
    def forward(self, outputs: dict[str, Tensor], targets: list[dict[str, Tensor]]) -> list[tuple[Tensor, Tensor]]:
        """For each image, (prediction indices, target indices) of the optimal matching."""
        batch, num_queries = outputs["pred_logits"].shape[:2]
        # Batch the cost computation over all images, then solve one assignment per image.
        prob = outputs["pred_logits"].flatten(0, 1).softmax(-1)
        boxes = outputs["pred_boxes"].flatten(0, 1)
        tgt_labels = torch.cat([t["labels"] for t in targets])
        tgt_boxes = torch.cat([t["boxes"] for t in targets])
        # The class cost is -p(target class): the constant 1 of 1 - p does not change the assignment.
        cost = (
            self.cost_bbox * torch.cdist(boxes, tgt_boxes, p=1)
            - self.cost_class * prob[:, tgt_labels]
            - self.cost_giou * generalized_box_iou(box_cxcywh_to_xyxy(boxes), box_cxcywh_to_xyxy(tgt_boxes))
        )
        cost = cost.view(batch, num_queries, -1).cpu()
        sizes = [len(t["boxes"]) for t in targets]
        matches = []
        for image, block in enumerate(cost.split(sizes, -1)):
            rows, cols = linear_sum_assignment(block[image])
            matches.append((torch.as_tensor(rows, dtype=torch.int64), torch.as_tensor(cols, dtype=torch.int64)))
        return matches

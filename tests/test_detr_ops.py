"""Box utilities, GIoU, the Hungarian matcher and the set criterion on hand-made cases."""
import math

import pytest
import torch

from ablate.models.detr import build_criterion
from ablate.models.detr.box_ops import box_cxcywh_to_xyxy, box_xyxy_to_cxcywh, generalized_box_iou
from ablate.models.detr.matcher import HungarianMatcher


def test_box_format_round_trip():
    xyxy = torch.tensor([[0.1, 0.2, 0.5, 0.9], [0.0, 0.0, 1.0, 1.0]])
    cxcywh = box_xyxy_to_cxcywh(xyxy)
    assert torch.allclose(cxcywh[0], torch.tensor([0.3, 0.55, 0.4, 0.7]))
    assert torch.allclose(box_cxcywh_to_xyxy(cxcywh), xyxy)


def test_giou_hand_values():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0], [3.0, 0.0, 4.0, 2.0]])
    giou = generalized_box_iou(a, b)[0]
    # identical: 1; overlap 1 of union 7 in a 3x3 hull: 1/7 - 2/9; disjoint, union 6 in a 4x2 hull: -2/8
    expected = torch.tensor([1.0, 1 / 7 - 2 / 9, -0.25])
    assert torch.allclose(giou, expected)


def test_giou_rejects_inverted_boxes():
    with pytest.raises(ValueError, match="x1 >= x0"):
        generalized_box_iou(torch.tensor([[1.0, 0.0, 0.0, 1.0]]), torch.tensor([[0.0, 0.0, 1.0, 1.0]]))


def _outputs(logits: list[list[float]], boxes: list[list[float]]) -> dict:
    return {"pred_logits": torch.tensor([logits]), "pred_boxes": torch.tensor([boxes])}


def test_matcher_recovers_permutation_by_boxes():
    boxes = [[0.2, 0.2, 0.1, 0.1], [0.7, 0.7, 0.2, 0.2], [0.5, 0.3, 0.3, 0.1]]
    outputs = _outputs([[0.0, 0.0, 0.0]] * 3, boxes)
    # targets are predictions 2 and 0, in that order
    targets = [{"labels": torch.tensor([0, 1]), "boxes": torch.tensor([boxes[2], boxes[0]])}]
    (rows, cols), = HungarianMatcher()(outputs, targets)
    assert dict(zip(cols.tolist(), rows.tolist())) == {0: 2, 1: 0}


def test_matcher_uses_class_cost_when_boxes_tie():
    box = [0.5, 0.5, 0.2, 0.2]
    # query 0 is confident in class 1, query 1 in class 0; both boxes are identical to both targets
    outputs = _outputs([[0.0, 5.0, 0.0], [5.0, 0.0, 0.0]], [box, box])
    targets = [{"labels": torch.tensor([0, 1]), "boxes": torch.tensor([box, box])}]
    (rows, cols), = HungarianMatcher()(outputs, targets)
    assert dict(zip(cols.tolist(), rows.tolist())) == {0: 1, 1: 0}


def test_matcher_batches_images_with_empty_targets():
    outputs = {"pred_logits": torch.zeros(2, 4, 3), "pred_boxes": torch.full((2, 4, 4), 0.5)}
    targets = [{"labels": torch.zeros(0, dtype=torch.int64), "boxes": torch.zeros(0, 4)},
               {"labels": torch.tensor([1]), "boxes": torch.tensor([[0.5, 0.5, 0.2, 0.2]])}]
    matches = HungarianMatcher()(outputs, targets)
    assert [len(r) for r, _ in matches] == [0, 1]


def test_criterion_values_on_a_perfect_and_an_unmatched_prediction():
    criterion = build_criterion(num_classes=2)
    box = [0.5, 0.5, 0.2, 0.2]
    # query 0: exact box, class 1 with high confidence; query 1: confident "no object"
    outputs = _outputs([[-20.0, 20.0, -20.0], [-20.0, -20.0, 20.0]], [box, [0.2, 0.2, 0.1, 0.1]])
    targets = [{"labels": torch.tensor([1]), "boxes": torch.tensor([box])}]
    losses = criterion(outputs, targets)
    assert losses["loss_bbox"].item() == pytest.approx(0.0, abs=1e-6)
    assert losses["loss_giou"].item() == pytest.approx(0.0, abs=1e-6)
    assert losses["loss_ce"].item() == pytest.approx(0.0, abs=1e-6)
    # now query 0 predicts "no object" for the target: CE is -log softmax at the true class,
    # averaged with weights 1 (matched query) and 0.1 (unmatched query, correct no-object)
    outputs["pred_logits"] = torch.tensor([[[0.0, 0.0, math.log(2.0)], [-20.0, -20.0, 20.0]]])
    expected_ce = (-math.log(1 / 4)) / (1 + 0.1)
    assert criterion(outputs, targets)["loss_ce"].item() == pytest.approx(expected_ce, rel=1e-4)


def test_criterion_sums_weighted_auxiliary_losses():
    criterion = build_criterion(num_classes=2)
    torch.manual_seed(0)
    layer = {"pred_logits": torch.randn(1, 3, 3), "pred_boxes": torch.rand(1, 3, 4) * 0.5 + 0.25}
    targets = [{"labels": torch.tensor([0]), "boxes": torch.tensor([[0.4, 0.4, 0.3, 0.2]])}]
    losses = criterion({**layer, "aux_outputs": [layer]}, targets)
    assert set(losses) == {"loss_ce", "loss_bbox", "loss_giou", "loss_ce_0", "loss_bbox_0", "loss_giou_0", "loss"}
    single = losses["loss_ce"] + 5 * losses["loss_bbox"] + 2 * losses["loss_giou"]
    assert losses["loss"].item() == pytest.approx(2 * single.item(), rel=1e-6)

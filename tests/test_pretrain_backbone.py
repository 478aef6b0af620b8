"""The composite proxy's backbone pretraining: single-item scenes, a trunk that learns, weights DETR loads."""
import torch

from ablate.engine.pretrain_backbone import item_scenes, pretrain_backbone
from ablate.models.detr.backbone import Backbone

FASHION = "/usr/share/datasets/fashion-mnist"


def test_item_scenes_are_normalised_and_labelled_like_fashion_mnist():
    x, y = item_scenes(FASHION, "train", 64, 32, seed=0)
    assert x.shape == (64, 3, 32, 32) and y.shape == (64,)
    assert 0 <= y.min() and y.max() <= 9 and len(set(y.tolist())) > 5
    assert -2.2 < x.min() < -1.0 and 1.5 < x.max() < 2.7  # ImageNet normalisation of 0..255 pixels
    again, _ = item_scenes(FASHION, "train", 64, 32, seed=0)
    assert torch.equal(x, again)


def test_pretraining_learns_and_detr_loads_the_weights(tmp_path):
    out = tmp_path / "w" / "r18.pth"
    result = pretrain_backbone(out, "resnet18", width=8, fashion_root=FASHION, images=4000, epochs=4, seed=0)
    assert result["top1"] > 20  # chance is 10
    assert sorted(p.name for p in out.parent.iterdir()) == ["r18.pth"]  # nothing half-written left behind
    backbone = Backbone("resnet18", train_backbone=True, output_stride=16, weights=str(out), width=8)
    state = torch.load(out, weights_only=True)
    assert torch.equal(backbone.body.layer3[0].conv1.weight, state["layer3.0.conv1.weight"])
    assert torch.equal(backbone.body.bn1.running_mean, state["bn1.running_mean"])


def test_cli_refuses_to_overwrite(cli, tmp_path):
    out = tmp_path / "r18.pth"
    out.write_bytes(b"weights")
    result = cli("pretrain-backbone", str(out))
    assert result.exit_code == 2 and "pass --force" in result.stderr
    assert out.read_bytes() == b"weights"

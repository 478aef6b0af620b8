"""DETR with iRPE: the official checkpoint layout, padding semantics, every RPE variant, training signal."""
import pytest
import torch

from ablate.models.weights import checkpoint_state, load_into
from ablate.models.detr import build_criterion, build_detr, postprocess
from ablate.models.detr.position_encoding import PositionEmbeddingSine
from ablate.models.detr.transformer import Transformer
from ablate.rpe import RPEConfig


def official_r50_layout(num_classes: int = 91, rpe_buckets: int = 81) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the authors' R50 DETR with rpe-2.0-product-ctx-1-k, written out from the architecture."""
    shapes: dict[str, tuple[int, ...]] = {}

    def frozen_bn(prefix: str, channels: int) -> None:
        for name in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{name}"] = (channels,)

    body = "backbone.0.body"
    shapes[f"{body}.conv1.weight"] = (64, 3, 7, 7)
    frozen_bn(f"{body}.bn1", 64)
    inplanes = 64
    for layer, (blocks, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512)), start=1):
        for b in range(blocks):
            p = f"{body}.layer{layer}.{b}"
            shapes[f"{p}.conv1.weight"] = (width, inplanes, 1, 1)
            shapes[f"{p}.conv2.weight"] = (width, width, 3, 3)
            shapes[f"{p}.conv3.weight"] = (4 * width, width, 1, 1)
            for i, c in ((1, width), (2, width), (3, 4 * width)):
                frozen_bn(f"{p}.bn{i}", c)
            if b == 0:
                shapes[f"{p}.downsample.0.weight"] = (4 * width, inplanes, 1, 1)
                frozen_bn(f"{p}.downsample.1", 4 * width)
            inplanes = 4 * width

    d, ff = 256, 2048

    def attention(p: str) -> None:
        shapes.update({f"{p}.in_proj_weight": (3 * d, d), f"{p}.in_proj_bias": (3 * d,),
                       f"{p}.out_proj.weight": (d, d), f"{p}.out_proj.bias": (d,)})

    def ffn_and_norms(p: str, norms: int) -> None:
        shapes.update({f"{p}.linear1.weight": (ff, d), f"{p}.linear1.bias": (ff,),
                       f"{p}.linear2.weight": (d, ff), f"{p}.linear2.bias": (d,)})
        for i in range(1, norms + 1):
            shapes.update({f"{p}.norm{i}.weight": (d,), f"{p}.norm{i}.bias": (d,)})

    for i in range(6):
        p = f"transformer.encoder.layers.{i}"
        attention(f"{p}.self_attn")
        shapes[f"{p}.self_attn.rpe_k.lookup_table_weight"] = (1, 32, rpe_buckets)
        ffn_and_norms(p, 2)
    for i in range(6):
        p = f"transformer.decoder.layers.{i}"
        attention(f"{p}.self_attn")
        attention(f"{p}.multihead_attn")
        ffn_and_norms(p, 3)
    shapes.update({"transformer.decoder.norm.weight": (d,), "transformer.decoder.norm.bias": (d,),
                   "class_embed.weight": (num_classes + 1, d), "class_embed.bias": (num_classes + 1,),
                   "bbox_embed.layers.0.weight": (d, d), "bbox_embed.layers.0.bias": (d,),
                   "bbox_embed.layers.1.weight": (d, d), "bbox_embed.layers.1.bias": (d,),
                   "bbox_embed.layers.2.weight": (4, d), "bbox_embed.layers.2.bias": (4,),
                   "query_embed.weight": (100, d), "input_proj.weight": (d, 2048, 1, 1), "input_proj.bias": (d,)})
    return shapes


def test_official_checkpoint_layout_loads_strictly(tmp_path):
    model = build_detr("rpe-2.0-product-ctx-1-k", num_classes=91)
    layout = official_r50_layout()
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == layout
    torch.manual_seed(0)
    state = {k: torch.randn(shape) for k, shape in layout.items()}
    torch.save({"model": state, "epoch": 149}, tmp_path / "checkpoint.pth")
    load_into(model, checkpoint_state(tmp_path / "checkpoint.pth"), tmp_path / "checkpoint.pth")
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


def test_checkpoint_of_other_rpe_is_rejected_with_a_clear_message(tmp_path):
    model = build_detr("rpe-1.9-product-ctx-1-k", num_classes=91)
    torch.save({"model": {k: torch.zeros(s) for k, s in official_r50_layout().items()}}, tmp_path / "c.pth")
    with pytest.raises(ValueError, match=r"shape mismatch .*rpe_k.lookup_table_weight \(1, 32, 81\) vs model \(1, 32, 49\)"):
        load_into(model, checkpoint_state(tmp_path / "c.pth"), tmp_path / "c.pth")


def test_rpe_tables_get_xavier_initialisation():
    model = build_detr("rpe-2.0-product-ctx-1-k", backbone="resnet18", hidden_dim=64, nheads=4, enc_layers=1,
                       dec_layers=1, dim_feedforward=128, num_queries=10)
    table = model.transformer.encoder.layers[0].self_attn.rpe_k.lookup_table_weight
    # xavier-uniform on (1, 16, 81): fan_in 16*81, fan_out 81 -> bound sqrt(6 / (fan_in + fan_out))
    bound = (6 / (16 * 81 + 81)) ** 0.5
    assert table.abs().max() <= bound and table.abs().max() > 0.9 * bound


@pytest.mark.parametrize("rpe", [RPEConfig(rpe_on="qkv"), RPEConfig(method="cross", mode="bias", rpe_on="qk")])
def test_padded_image_matches_the_image_alone_on_valid_tokens(rpe):
    """Padding only at the bottom keeps the grid width, so valid tokens keep their row-major offsets."""
    torch.manual_seed(0)
    d, height, width, padded_height = 32, 3, 5, 6
    transformer = Transformer(d, 4, 2, 1, 64, dropout=0.0, enc_rpe=rpe).eval()
    position = PositionEmbeddingSine(d // 2)
    image = torch.randn(1, d, height, width)
    alone_mask = torch.zeros(1, height, width, dtype=torch.bool)
    alone = transformer.encode(image, alone_mask, position(alone_mask))

    batch = torch.randn(2, d, padded_height, width)  # garbage in the padding, a full second image
    batch[0, :, :height] = image[0]
    mask = torch.zeros(2, padded_height, width, dtype=torch.bool)
    mask[0, height:] = True
    padded = transformer.encode(batch, mask, position(mask))
    assert torch.allclose(padded[0, : height * width], alone[0], atol=1e-5)


def tiny_detr(rpe: str | RPEConfig | None, **kwargs: object) -> torch.nn.Module:
    """A DETR small enough for unit tests on a CPU."""
    settings = dict(num_classes=3, backbone="resnet18", hidden_dim=32, nheads=4, enc_layers=1, dec_layers=2,
                    dim_feedforward=64, num_queries=6, dropout=0.0)
    return build_detr(rpe, **{**settings, **kwargs})


def padded_batch() -> tuple[torch.Tensor, torch.Tensor, list[dict]]:
    """Two images, the second padded at the bottom-right, with one and two objects."""
    images = torch.randn(2, 3, 64, 96)
    mask = torch.zeros(2, 64, 96, dtype=torch.bool)
    mask[1, 32:] = True
    mask[1, :, 64:] = True
    targets = [{"labels": torch.tensor([1]), "boxes": torch.tensor([[0.3, 0.4, 0.2, 0.3]])},
               {"labels": torch.tensor([0, 2]), "boxes": torch.tensor([[0.7, 0.6, 0.3, 0.2], [0.2, 0.2, 0.2, 0.2]])}]
    return images, mask, targets


@pytest.mark.parametrize("method", ["euc", "quant", "cross", "product"])
@pytest.mark.parametrize("mode", ["bias", "contextual"])
def test_every_rpe_variant_trains_in_detr(method, mode):
    torch.manual_seed(0)
    rpe = RPEConfig(method=method, mode=mode, ratio=2.0, rpe_on="qk" if mode == "bias" else "qkv")
    model = tiny_detr(rpe)
    images, mask, targets = padded_batch()
    losses = build_criterion(num_classes=3)(model(images, mask), targets)
    losses["loss"].backward()
    attn = model.transformer.encoder.layers[0].self_attn
    tables = [p for name, p in attn.named_parameters() if name.startswith("rpe_")]
    assert len(tables) == (4 if method == "cross" else 2) * (1 if mode == "bias" else 1.5)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in tables)
    assert torch.isfinite(losses["loss"])


def test_loss_falls_on_a_tiny_batch():
    torch.manual_seed(0)
    model = tiny_detr("rpe-2.0-product-ctx-1-k", train_backbone=False)
    criterion = build_criterion(num_classes=3)
    images, mask, targets = padded_batch()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    history = []
    for _ in range(25):
        loss = criterion(model(images, mask), targets)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    assert history[-1] < 0.6 * history[0]


def test_postprocess_scales_boxes_to_the_original_size():
    outputs = {"pred_logits": torch.tensor([[[0.0, 3.0, 0.0]]]), "pred_boxes": torch.tensor([[[0.5, 0.5, 0.2, 0.4]]])}
    result, = postprocess(outputs, torch.tensor([[100, 200]]))
    assert result["labels"].tolist() == [1]
    assert torch.allclose(result["boxes"], torch.tensor([[80.0, 30.0, 120.0, 70.0]]))
    assert result["scores"].item() == pytest.approx(torch.tensor([0.0, 3.0, 0.0]).softmax(0)[1].item())


def test_position_encodings():
    from ablate.models.detr.position_encoding import build_position_encoding

    mask = torch.zeros(2, 3, 4, dtype=torch.bool)
    mask[1, 2:] = True
    sine = build_position_encoding("sine", 16)(mask)
    assert sine.shape == (2, 16, 3, 4)
    # valid pixels of a bottom-padded image keep the x encoding; y is normalised by the valid height
    assert torch.allclose(sine[1, 8:, :2], sine[0, 8:, :2])
    assert not torch.allclose(sine[1, :8, :2], sine[0, :8, :2])
    learned = build_position_encoding("learned", 16)(mask)
    assert learned.shape == (2, 16, 3, 4) and torch.equal(learned[0], learned[1])
    assert not build_position_encoding("none", 16)(mask).any()
    with pytest.raises(ValueError, match="up to 50x50"):
        build_position_encoding("learned", 16)(torch.zeros(1, 51, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="position_embedding must be one of"):
        build_position_encoding("rope", 16)


def test_backbone_loads_local_weights_and_freezes_the_stem(tmp_path):
    import timm

    from ablate.models.detr.backbone import Backbone

    source = timm.create_model("resnet18", num_classes=1000)
    torch.save(source.state_dict(), tmp_path / "r18.pth")
    backbone = Backbone("resnet18", train_backbone=True, weights=str(tmp_path / "r18.pth"))
    assert torch.equal(backbone.body.layer3[0].conv1.weight, source.layer3[0].conv1.weight)
    assert torch.equal(backbone.body.bn1.running_var, source.bn1.running_var)
    assert not backbone.body.conv1.weight.requires_grad and not backbone.body.layer1[0].conv1.weight.requires_grad
    assert backbone.body.layer2[0].conv1.weight.requires_grad
    with pytest.raises(FileNotFoundError, match="backbone weights file not found"):
        Backbone("resnet18", train_backbone=True, weights=str(tmp_path / "missing.pth"))


def test_backbone_without_weights_keeps_its_residual_branches_alive():
    from ablate.models.detr.backbone import Backbone

    # Frozen batch norm on timm's zero-initialised last norm of each block would zero every residual branch.
    backbone = Backbone("resnet18", train_backbone=True)
    features, _ = backbone(torch.randn(2, 3, 64, 64), torch.zeros(2, 64, 64, dtype=torch.bool))
    features.sum().backward()
    assert backbone.body.layer2[0].conv1.weight.grad.abs().sum() > 0
    assert not backbone.body.conv1.weight.requires_grad


def test_backbone_from_scratch_trains_everything_with_batch_norm():
    from ablate.models.detr.backbone import Backbone

    backbone = Backbone("resnet18", train_backbone=True, output_stride=8, from_scratch=True, width=16)
    assert all(p.requires_grad for p in backbone.parameters())
    assert isinstance(backbone.body.bn1, torch.nn.BatchNorm2d) and backbone.num_channels == 128
    before = backbone.body.layer1[0].bn1.running_mean.clone()
    features, mask = backbone(torch.randn(2, 3, 64, 48), torch.zeros(2, 64, 48, dtype=torch.bool))
    assert features.shape == (2, 128, 8, 6) and mask.shape == (2, 8, 6)
    assert backbone.body.layer1[0].conv1.weight.shape[0] == 16
    assert not torch.equal(before, backbone.body.layer1[0].bn1.running_mean)
    features.sum().backward()
    assert backbone.body.conv1.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="from scratch takes no weights"):
        Backbone("resnet18", train_backbone=True, weights="r18.pth", from_scratch=True)


def test_the_authors_default_flag_is_no_rpe(tmp_path):
    """The authors' DETR takes --enc_rpe2d '' for no RPE: the same here, in the builder and in a config."""
    from ablate.rpe.config import flag_config
    from ablate.sweep.plan import plan_runs

    assert flag_config("") is None and flag_config(None) is None
    model = build_detr("", num_classes=3, backbone="resnet18", backbone_width=8, hidden_dim=32, nheads=2,
                       enc_layers=1, dec_layers=1, dim_feedforward=32, num_queries=5)
    assert not [n for n, _ in model.named_parameters() if "lookup_table" in n]
    [job] = plan_runs(["experiment=detr_composite", "model.enc_rpe2d=''", f"data.root={tmp_path}"], tmp_path,
                      sweep=False)
    assert job.config.model.enc_rpe2d == ""

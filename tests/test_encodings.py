"""The position encodings beside iRPE, each against its published definition written out independently, and
through every backend and both models."""
import math

import pytest
import timm
import torch
from timm.layers import gen_relative_position_index

from ablate.attention.layer import RPEAttention, attend
from ablate.pe.interface import Grid
from ablate.pe.registry import ENCODINGS, build_encoding
from ablate.pe.terms import gather_logits

torch.manual_seed(0)
HEADS, HEAD_DIM = 2, 8
DIM = HEADS * HEAD_DIM


def _qk(grid: Grid, batch: int = 2, dtype=torch.float64):
    g = torch.Generator().manual_seed(1)
    return [torch.randn(batch, HEADS, grid.length, HEAD_DIM, generator=g, dtype=dtype) for _ in range(2)]


def _rotate_reference(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs (2m, 2m+1) of x (..., L, d) by angles (L, d/2)."""
    even, odd = x[..., 0::2], x[..., 1::2]
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    return torch.stack([even * cos - odd * sin, odd * cos + even * sin], dim=-1).flatten(-2)


def _ropevit_phases(height: int, width: int, head_dim: int) -> torch.Tensor:
    """RoPE-ViT's axial phases, written from the paper: patch t of a row-major H x W grid sits at x = t mod W,
    y = t div W; channel pair m < head_dim/4 turns by x * 100^(-4m/head_dim), pair head_dim/4 + m by y times the
    same frequency."""
    freqs = 100.0 ** (-4 * torch.arange(head_dim // 4, dtype=torch.float64) / head_dim)
    t = torch.arange(height * width, dtype=torch.float64)
    return torch.cat([torch.outer(t % width, freqs), torch.outer(t // width, freqs)], dim=1)


def _ropevit_rotate(x: torch.Tensor, phases: torch.Tensor) -> torch.Tensor:
    """Channels (2m, 2m+1) as the complex number x_2m + i x_2m+1, multiplied by e^(i phase_m)."""
    z = torch.view_as_complex(x.double().reshape(*x.shape[:-1], -1, 2).contiguous())
    return torch.view_as_real(z * torch.polar(torch.ones_like(phases), phases)).flatten(-2)


def test_rope_axial_is_ropevits_layout_x_first():
    grid = Grid(3, 4, 1)
    [layer] = build_encoding("rope_axial", DIM, HEADS, 1, 1, (3, 4)).layers
    q, k = _qk(grid)
    rq, rk = layer.rotate(q, k, grid)
    phases = _ropevit_phases(3, 4, HEAD_DIM)
    torch.testing.assert_close(rq[..., 1:, :], _ropevit_rotate(q[..., 1:, :], phases), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(rk[..., 1:, :], _ropevit_rotate(k[..., 1:, :], phases), rtol=1e-6, atol=1e-6)
    assert torch.equal(rq[..., 0, :], q[..., 0, :]) and torch.equal(rk[..., 0, :], k[..., 0, :])  # class token


def test_a_ropevit_attention_layers_weights_give_its_outputs():
    """RoPE-ViT's RoPE-Axial attention, written from the paper (q, k projected, patch tokens rotated, the class
    token not, softmax(q k^T / sqrt(d)) v, projected), with random weights, against ours with the same weights."""
    dim, heads, height, width = 32, 2, 3, 5
    head_dim = dim // heads
    ours = RPEAttention(dim, heads, qkv_bias=True)
    ours.set_encoding(build_encoding("rope_axial", dim, heads, 1, 1, (height, width)).layers[0])
    ours.grid = (height, width)
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(0, 0.3)
    x = torch.randn(2, 1 + height * width, dim)
    qkv = (x.double() @ ours.qkv.weight.double().t() + ours.qkv.bias.double())
    q, k, v = qkv.reshape(2, -1, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
    phases = _ropevit_phases(height, width, head_dim)
    q = torch.cat([q[..., :1, :], _ropevit_rotate(q[..., 1:, :], phases)], dim=-2)
    k = torch.cat([k[..., :1, :], _ropevit_rotate(k[..., 1:, :], phases)], dim=-2)
    attn = (q @ k.transpose(-2, -1) / math.sqrt(head_dim)).softmax(-1)
    out = (attn @ v).transpose(1, 2).reshape(2, -1, dim) @ ours.proj.weight.double().t() + ours.proj.bias.double()
    torch.testing.assert_close(ours(x).double(), out, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["rope_axial", "rope_mixed"])
def test_rope_scores_depend_only_on_the_offset(name):
    """The same query and key vector at every position: after rotation their score depends on pos_i - pos_j."""
    grid = Grid(4, 5, 0)
    encoding = build_encoding(name, DIM, HEADS, 2, 0, (4, 5))
    q = torch.randn(1, HEADS, 1, HEAD_DIM).expand(1, HEADS, grid.length, HEAD_DIM)
    k = torch.randn(1, HEADS, 1, HEAD_DIM).expand(1, HEADS, grid.length, HEAD_DIM)
    rq, rk = encoding.layers[1].rotate(q, k, grid)
    scores = (rq @ rk.transpose(-2, -1))[0]
    by_offset: dict[tuple[int, int], torch.Tensor] = {}
    for i in range(grid.length):
        for j in range(grid.length):
            offset = (i // 5 - j // 5, i % 5 - j % 5)
            if offset in by_offset:
                torch.testing.assert_close(scores[:, i, j], by_offset[offset], rtol=1e-4, atol=1e-4)
            by_offset[offset] = scores[:, i, j]
    assert len({tuple(v.tolist()) for v in by_offset.values()}) > 10  # not trivially constant


def test_rope_mixed_frequencies_are_the_models_and_learn():
    model = timm.create_model("deit_pico_patch4_28", pe="rope_mixed", abs_pos="none")
    assert [n for n, _ in model.named_parameters() if "freq" in n] == ["rope.freqs"]
    model(torch.randn(2, 1, 28, 28)).sum().backward()
    assert model.rope.freqs.grad is not None and model.rope.freqs.grad.abs().sum() > 0
    assert model.rope.freqs.shape == (2, 4, 2, 16)  # (axes, depth, heads, head_dim / 2), head_dim 32


def test_bias_table_index_is_timms_and_clamps_beyond_its_window():
    [layer] = build_encoding("bias_table", DIM, HEADS, 1, 1, (3, 4)).layers
    torch.nn.init.normal_(layer.relative_position_bias_table)
    q, k = _qk(Grid(3, 4, 1), dtype=torch.float32)
    [term] = layer.logits(q, k, Grid(3, 4, 1))
    assert torch.equal(term.ids, gen_relative_position_index((3, 4), class_token=True))
    gathered, table = gather_logits(term)[0], layer.relative_position_bias_table  # (heads, L, L), (entries, heads)
    offsets = 5 * 7  # (2H - 1)(2W - 1)
    assert torch.equal(gathered[:, 0, 5], table[offsets]) and torch.equal(gathered[:, 5, 0], table[offsets + 1])
    assert torch.equal(gathered[:, 0, 0], table[offsets + 2])
    # from patch (2, 3) to patch (0, 1): offset (+2, +2) is entry (2 + 2) * 7 + (2 + 3)
    assert torch.equal(gathered[:, 1 + 2 * 4 + 3, 1 + 0 * 4 + 1], table[4 * 7 + 5])
    # a larger grid reads the window's edge entries for offsets beyond it
    [big] = layer.logits(*_qk(Grid(5, 6, 1), dtype=torch.float32), Grid(5, 6, 1))
    far = big.ids[1 + 0, 1 + 4 * 6 + 5]  # from (0, 0) to (4, 5): offset (-4, -5) clamps to (-2, -3)
    assert far == (-2 + 3 - 1) * 7 + (-3 + 4 - 1)


def test_shared_bias_table_is_one_parameter_for_every_layer():
    model = timm.create_model("deit_pico_patch4_28", pe="bias_table", pe_options={"shared": True})
    tables = [n for n, _ in model.named_parameters() if "relative_position_bias_table" in n]
    assert tables == ["rel_pos_bias.relative_position_bias_table"]
    model(torch.randn(2, 1, 28, 28)).sum().backward()
    assert model.rel_pos_bias.relative_position_bias_table.grad.abs().sum() > 0
    per_layer = timm.create_model("deit_pico_patch4_28", pe="bias_table")
    assert "blocks.3.attn.relative_position_bias_table" in per_layer.state_dict()


def test_alibi_is_minus_slope_times_euclidean_distance():
    grid = Grid(3, 4, 1)
    [layer] = build_encoding("alibi", DIM, HEADS, 1, 1, (3, 4)).layers
    [term] = layer.logits(*_qk(grid, dtype=torch.float32), grid)
    gathered = gather_logits(term)[0]
    slopes = [2 ** (-8 * h / HEADS) for h in range(1, HEADS + 1)]
    for i in range(grid.length):
        for j in range(grid.length):
            if i == 0 or j == 0:
                distance = 0.0
            else:
                (ri, ci), (rj, cj) = divmod(i - 1, 4), divmod(j - 1, 4)
                distance = math.hypot(ri - rj, ci - cj)
            for h in range(HEADS):
                assert gathered[h, i, j].item() == pytest.approx(-slopes[h] * distance, abs=1e-6)


def test_peg_adds_a_depthwise_convolution_of_the_patch_grid_after_its_blocks():
    model = timm.create_model("deit_pico_patch4_28", pe="peg", pe_options={"blocks": [1]}).eval()
    torch.nn.init.normal_(model.pos_block["1"].pos.proj[0].weight)
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():  # the blocks alone, given the grid: the PEG is applied by hand after block 1
        manual = model.norm_pre(model.patch_drop(model._pos_embed(model.patch_embed(x))))
        for i, block in enumerate(model.blocks):
            manual = block(manual, Grid(7, 7, 1))
            if i == 1:
                conv = model.pos_block["1"].pos.proj[0]
                patches = manual[:, 1:].transpose(1, 2).reshape(2, 64, 7, 7)
                mixed = torch.nn.functional.conv2d(patches, conv.weight, conv.bias, padding=1, groups=64) + patches
                manual = torch.cat([manual[:, :1], mixed.flatten(2).transpose(1, 2)], dim=1)
        expected = model.forward_head(model.norm(manual))
        got = model(x)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", [n for n in ENCODINGS if n != "none"])
def test_every_encoding_runs_the_same_on_every_backend(name):
    """Each encoding's model: SDPA equals eager on outputs and gradients, flex on outputs (CPU: forward only)."""
    options = {"blocks": [0, 2]} if name == "peg" else {}
    outs, grads = {}, {}
    for backend in ("eager", "sdpa", "flex"):
        torch.manual_seed(0)
        model = timm.create_model("deit_pico_patch4_28", pe=name, pe_options=options, attn_backend=backend)
        with torch.no_grad():  # the tables start at zero: give them something to say
            for n, p in model.named_parameters():
                if any(key in n for key in ("lookup_table", "relative_position", ".u", ".v", "rows", "cols")):
                    p.normal_()
        x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(3))
        if backend == "flex":
            with torch.no_grad():
                outs[backend] = model(x)
            continue
        out = model(x)
        out.sum().backward()
        outs[backend] = out.detach()
        grads[backend] = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    torch.testing.assert_close(outs["sdpa"], outs["eager"], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(outs["flex"], outs["eager"], rtol=1e-4, atol=1e-5)
    for n in grads["eager"]:
        torch.testing.assert_close(grads["sdpa"][n], grads["eager"][n], rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("name", ["rope_axial", "rope_mixed", "bias_table", "alibi"])
def test_detr_encoder_takes_the_encoding(name):
    from ablate.models.detr import build_detr

    torch.manual_seed(0)
    model = build_detr("rpe-2.0-product-ctx-1-k", num_classes=3, backbone="resnet18", backbone_width=8,
                       hidden_dim=32, nheads=2, enc_layers=2, dec_layers=1, dim_feedforward=32, num_queries=5,
                       pe=name, pe_grid=(2, 2))
    layers = [layer.self_attn for layer in model.transformer.encoder.layers]
    assert all(attn.pe is not None and attn.rpe_k is not None for attn in layers)
    images, mask = torch.randn(2, 3, 64, 96), torch.zeros(2, 64, 96, dtype=torch.bool)
    mask[1, :, 64:] = True  # padding: a 2 x 3 feature map, the second image 2 x 2
    out = model(images, mask)
    out["pred_boxes"].sum().backward()
    learned = [p for n, p in model.named_parameters() if "relative_position" in n or "rope" in n]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in learned)


def test_attend_gives_logit_terms_the_unrotated_q_and_k():
    """A relative logit term stays relative beside RoPE: it is computed before the rotation."""
    grid = Grid(2, 3, 1)
    rope = build_encoding("rope_axial", DIM, HEADS, 1, 1, (2, 3)).layers[0]
    seen = {}

    class Spy(torch.nn.Module):
        def rotate(self, q, k, grid):
            return q, k

        def logits(self, q, k, grid):
            seen["q"] = q
            return []

        def values(self, grid):
            return []

    q, k = _qk(grid, dtype=torch.float32)
    attend(q, k, k, [rope, Spy()], grid)
    assert torch.equal(seen["q"], q)


def test_checkpoint_of_a_model_with_an_encoding_round_trips():
    a = timm.create_model("deit_pico_patch4_28", pe="txl")
    b = timm.create_model("deit_pico_patch4_28", pe="txl")
    with torch.no_grad():
        for p in a.parameters():
            p.normal_()
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 1, 28, 28)
    torch.testing.assert_close(a(x), b(x))
    assert "blocks.0.attn.w_r.weight" in a.state_dict()


def test_the_attention_layer_takes_one_encoding_besides_irpe():
    layer = RPEAttention(DIM, HEADS)
    layer.set_encoding(build_encoding("alibi", DIM, HEADS, 1, 0, (2, 2)).layers[0])
    with pytest.raises(ValueError, match="already has an encoding"):
        layer.set_encoding(build_encoding("alibi", DIM, HEADS, 1, 0, (2, 2)).layers[0])


@pytest.mark.parametrize("name", ["rope_mixed", "bias_table"])
def test_detr_takes_encodings_through_the_pe_group(tmp_path, name):
    from ablate.engine.detection import build_detr_model
    from ablate.sweep.plan import plan_runs

    [job] = plan_runs(["experiment=detr_composite", f"pe={name}", f"data.root={tmp_path}"], tmp_path, sweep=False)
    assert job.config.pe.absolute == "sincos"  # DETR's sine encoding stays beside it
    model = build_detr_model(job.config)
    assert all(layer.self_attn.pe is not None for layer in model.transformer.encoder.layers)

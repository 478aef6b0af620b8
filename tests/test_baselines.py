"""The paper's baseline RPEs (Table 5) against their paper-tables.md formulas, written out with loops.

2D adaptation (paper): offsets bucketed by the product mapping with the clip index, ratio 1.9 (offsets
-3..3 per axis), one table shared by all heads; e_ij is the logit before the 1/sqrt(d) scale.
"""
import math

import pytest
import torch

from ablate.attention.layer import RPEAttention
from ablate.pe.registry import build_encoding
from test_rpe_spec import spec_bucket_map

DIM, HEADS, HEIGHT, WIDTH, SKIP = 16, 2, 2, 4, 1
HEAD_DIM = DIM // HEADS
LENGTH = SKIP + HEIGHT * WIDTH
BASELINES = ("shaw", "txl", "huang", "sasa")


def baseline_attention(name: str) -> RPEAttention:
    """One attention layer (timm's interface) with the named baseline as its encoding."""
    [encoding] = build_encoding(name, DIM, HEADS, 1, SKIP, (HEIGHT, WIDTH)).layers
    return RPEAttention(DIM, num_heads=HEADS, qkv_bias=True, encoding=encoding)


def _layer(name: str, seed: int = 0) -> torch.nn.Module:
    layer = baseline_attention(name).double()
    generator = torch.Generator().manual_seed(seed)
    for p in layer.parameters():
        p.data = 0.5 * torch.randn(p.shape, generator=generator, dtype=torch.float64)
    layer.grid = (HEIGHT, WIDTH)
    return layer


def _split(layer, x):
    qkv = x @ layer.qkv.weight.T + layer.qkv.bias
    q, k, v = qkv.reshape(x.shape[0], LENGTH, 3, HEADS, HEAD_DIM).permute(2, 0, 3, 1, 4)
    return q, k, v


def _finish(layer, e, v, extra_v=None):
    """softmax(e / sqrt(d)) @ v (+ the value-side term), heads merged, output projection."""
    attn = (e / math.sqrt(HEAD_DIM)).softmax(-1)
    out = attn @ v
    if extra_v is not None:
        out = out + extra_v(attn)
    return out.transpose(1, 2).reshape(v.shape[0], LENGTH, DIM) @ layer.proj.weight.T + layer.proj.bias


def _pairs():
    return [(i, j) for i in range(LENGTH) for j in range(LENGTH)]


IDS = spec_bucket_map("product", 1.9, HEIGHT, WIDTH, SKIP, "clip")
PREFIX_BUCKET = 49


def _offset(bucket: int) -> tuple[int, int]:
    """(dr, dc) of a clipped product bucket (b' = 3, 7 ids per axis)."""
    return bucket // 7 - 3, bucket % 7 - 3


def reference_shaw(layer, x):
    q, k, v = _split(layer, x)
    p_k = layer.pe.rpe_k.lookup_table_weight[0]   # (d, buckets)
    p_v = layer.pe.rpe_v.lookup_table_weight[0]   # (buckets, d)
    e = torch.zeros(x.shape[0], HEADS, LENGTH, LENGTH, dtype=x.dtype)
    for i, j in _pairs():
        e[:, :, i, j] = (q[:, :, i] * (k[:, :, j] + p_k[:, IDS[i][j]])).sum(-1)

    def value_term(attn):
        out = torch.zeros_like(v)
        for i, j in _pairs():
            out[:, :, i] += attn[:, :, i, j, None] * p_v[IDS[i][j]]
        return out
    return _finish(layer, e, v, value_term)


def reference_txl(layer, x):
    q, k, v = _split(layer, x)
    u, w = layer.pe.u.reshape(HEAD_DIM), layer.pe.v.reshape(HEAD_DIM)
    e = torch.zeros(x.shape[0], HEADS, LENGTH, LENGTH, dtype=x.dtype)
    for i, j in _pairs():
        r = layer.pe.w_r(_sinusoid(IDS[i][j]).float().double())  # the buffer is stored in float32
        e[:, :, i, j] = ((q[:, :, i] + u) * k[:, :, j]).sum(-1) + ((q[:, :, i] + w) * r).sum(-1)
    return _finish(layer, e, v)


def _sinusoid(bucket: int) -> torch.Tensor:
    """s of a 2D offset: sin and cos of the row, then of the column, at frequencies 10000^(-t/(d/4));
    the prefix bucket has no offset and gets zeros."""
    if bucket == PREFIX_BUCKET:
        return torch.zeros(HEAD_DIM, dtype=torch.float64)
    quarter = HEAD_DIM // 4
    values = []
    for axis in _offset(bucket):
        values += [math.sin(axis * 10000 ** (-t / quarter)) for t in range(quarter)]
        values += [math.cos(axis * 10000 ** (-t / quarter)) for t in range(quarter)]
    return torch.tensor(values, dtype=torch.float64)


def reference_huang(layer, x):
    q, k, v = _split(layer, x)
    table = layer.pe.lookup_table_weight[0]   # (d, buckets)
    e = torch.zeros(x.shape[0], HEADS, LENGTH, LENGTH, dtype=x.dtype)
    for i, j in _pairs():
        p = table[:, IDS[i][j]]
        e[:, :, i, j] = ((q[:, :, i] + p) * (k[:, :, j] + p)).sum(-1) - (p * p).sum()
    return _finish(layer, e, v)


def reference_sasa(layer, x):
    q, k, v = _split(layer, x)
    rows = spec_bucket_map("cross_rows", 1.9, HEIGHT, WIDTH, SKIP, "clip")
    cols = spec_bucket_map("cross_cols", 1.9, HEIGHT, WIDTH, SKIP, "clip")
    e = torch.zeros(x.shape[0], HEADS, LENGTH, LENGTH, dtype=x.dtype)
    for i, j in _pairs():
        p = torch.cat([layer.pe.rows[0, :, rows[i][j]], layer.pe.cols[0, :, cols[i][j]]])
        e[:, :, i, j] = (q[:, :, i] * (k[:, :, j] + p)).sum(-1)
    return _finish(layer, e, v)


REFERENCES = {"shaw": reference_shaw, "txl": reference_txl, "huang": reference_huang, "sasa": reference_sasa}


@pytest.mark.parametrize("name", BASELINES)
def test_baseline_matches_its_formula(name):
    layer = _layer(name)
    x = torch.randn(2, LENGTH, DIM, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(layer(x), REFERENCES[name](layer, x), rtol=1e-10, atol=1e-10)


def test_txl_sinusoid_buffer_encodes_offsets():
    layer = _layer("txl")
    expected = torch.stack([_sinusoid(t) for t in range(50)])
    torch.testing.assert_close(layer.pe.sinusoid, expected)


@pytest.mark.parametrize("name", BASELINES)
def test_baseline_trains(name):
    """From the default (zero) initialisation, every RPE parameter gets a gradient and a step lowers the loss."""
    torch.manual_seed(0)
    layer = baseline_attention(name)
    layer.grid = (HEIGHT, WIDTH)
    x, target = torch.randn(4, LENGTH, DIM), torch.randn(4, LENGTH, DIM)
    rpe_params = {n: p for n, p in layer.named_parameters() if not n.startswith(("qkv.", "proj."))}
    assert rpe_params, name
    optimizer = torch.optim.SGD(rpe_params.values(), lr=0.5)
    losses = []
    for _ in range(3):
        loss = (layer(x) - target).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        for n, p in rpe_params.items():
            assert p.grad is not None and p.grad.abs().sum() > 0, (name, n)
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


KEYS = {"shaw": ["rpe_k.lookup_table_weight", "rpe_v.lookup_table_weight"], "txl": ["u", "v", "w_r.weight"],
        "huang": ["lookup_table_weight"], "sasa": ["rows", "cols"]}


@pytest.mark.parametrize("name", BASELINES)
def test_checkpoint_keys_stay_on_the_attention_layer(name):
    """The baselines' parameters are saved where they always were (blocks.N.attn.u ...), and load back."""
    layer = _layer(name)
    state = layer.state_dict()
    assert sorted(k for k in state if not k.startswith(("qkv.", "proj."))) == sorted(KEYS[name])
    fresh = baseline_attention(name).double()
    fresh.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), state.values()))


def test_unknown_baseline():
    with pytest.raises(ValueError, match="rope.*shaw"):
        baseline_attention("rope")

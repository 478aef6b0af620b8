"""The authors' API (get_rpe_config, build_rpe): names, shapes, strict loading, and outputs and gradients
equal to the formulas of irpe.md section 4 computed here with explicit loops in float64."""
import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from ablate.attention import RPEAttention, rpe_attention
from ablate.rpe import build_rpe, get_rpe_config
from test_rpe_spec import spec_allocated, spec_bucket_map

HEAD_DIM, HEADS = 4, 2


def _tables(method: str) -> list[str]:
    return ["rp_rows", "rp_cols"] if method == "cross" else [""]


def official_layout(method: str, mode: str, ratio: float, shared: bool, sites: str, skip: int) -> dict:
    """Parameter names and shapes of irpe.md section 4, written out from the spec."""
    heads = 1 if shared else HEADS
    layout = {}
    for site in sites:
        for table in _tables(method):
            buckets = spec_allocated("cross_rows" if method == "cross" else method, ratio, skip)
            prefix = f"rpe_{site}." + (f"{table}." if table else "")
            if mode == "bias":
                layout[prefix + "lookup_table_bias"] = (heads, buckets)
            elif site == "v":
                layout[prefix + "lookup_table_weight"] = (heads, buckets, HEAD_DIM)
            else:
                layout[prefix + "lookup_table_weight"] = (heads, HEAD_DIM, buckets)
    return layout


def _holder(config) -> nn.Module:
    holder = nn.Module()
    for name, site in zip("qkv", build_rpe(config, HEAD_DIM, HEADS)):
        if site is not None:
            holder.add_module(f"rpe_{name}", site)
    return holder


def test_build_rpe_returns_none_where_unused():
    assert build_rpe(None, HEAD_DIM, HEADS) == (None, None, None)
    rpe_q, rpe_k, rpe_v = build_rpe(get_rpe_config(rpe_on="k"), HEAD_DIM, HEADS)
    assert rpe_q is None and rpe_k is not None and rpe_v is None
    rpe_q, rpe_k, rpe_v = build_rpe(get_rpe_config(rpe_on="qv"), HEAD_DIM, HEADS)
    assert rpe_q is not None and rpe_k is None and rpe_v is not None


def test_deit_checkpoint_shapes():
    config = get_rpe_config(ratio=1.9, method="product", mode="ctx", shared_head=True, skip=1, rpe_on="qkv")
    rpe_q, rpe_k, rpe_v = build_rpe(config, 64, 6)
    assert rpe_k.lookup_table_weight.shape == rpe_q.lookup_table_weight.shape == (1, 64, 50)
    assert rpe_v.lookup_table_weight.shape == (1, 50, 64)
    assert all((p == 0).all() for m in (rpe_q, rpe_k, rpe_v) for p in m.parameters())
    detr = get_rpe_config(ratio=2.0, method="product", mode="ctx", shared_head=True, skip=0, rpe_on="k")
    assert build_rpe(detr, 32, 8)[1].lookup_table_weight.shape == (1, 32, 81)


CASES = [(method, mode, shared) for method in ("euc", "quant", "cross", "product")
         for mode in ("contextual", "bias") for shared in (True, False)]
GRIDS = [(2, 3, 1), (3, 3, 0)]


def _config(method, mode, shared, skip, ratio=1.0):
    return get_rpe_config(ratio=ratio, method=method, mode="ctx" if mode == "contextual" else mode,
                          shared_head=shared, skip=skip, rpe_on="qkv" if mode == "contextual" else "qk")


def _random_state(layout: dict, seed: int) -> dict:
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.randn(shape, generator=generator, dtype=torch.float64) for name, shape in layout.items()}


@pytest.mark.parametrize("method,mode,shared", CASES)
def test_official_state_dict_loads_strictly(method, mode, shared):
    config = _config(method, mode, shared, skip=1, ratio=1.9)
    layout = official_layout(method, mode, 1.9, shared, config.rpe_on, 1)
    holder = _holder(config)
    assert {k: tuple(v.shape) for k, v in holder.state_dict().items()} == layout
    holder.double().load_state_dict(_random_state(layout, 0), strict=True)


def _embedding(state: dict, name: str, heads: int, ids: list[list[int]], site: str) -> torch.Tensor:
    """(heads, L, L, d) contextual or (heads, L, L) bias embedding of each pair, gathered by loops."""
    table = state[name]
    out = []
    for h in range(heads):
        hh = 0 if table.shape[0] == 1 else h
        rows = []
        for row in ids:
            if name.endswith("bias"):
                rows.append(torch.stack([table[hh, t] for t in row]))
            elif site == "v":
                rows.append(torch.stack([table[hh, t, :] for t in row]))
            else:
                rows.append(torch.stack([table[hh, :, t] for t in row]))
        out.append(torch.stack(rows))
    return torch.stack(out)


def _site_embeddings(state, method, ratio, site, grid, mode):
    """Sum over the site's tables (two for cross) of per-pair embeddings."""
    height, width, skip = grid
    total = 0
    for table in _tables(method):
        site_method = f"cross_{table[3:]}" if table else method
        ids = spec_bucket_map(site_method, ratio, height, width, skip)
        prefix = f"rpe_{site}." + (f"{table}." if table else "")
        name = prefix + ("lookup_table_bias" if mode == "bias" else "lookup_table_weight")
        total = total + _embedding(state, name, HEADS, ids, site)
    return total


def reference_attention(q, k, v, state, method, mode, ratio, grid, sites, mask=None):
    """irpe.md section 4 with per-pair embeddings: logits, softmax, A @ V, plus the V term."""
    s = HEAD_DIM ** -0.5
    logits = s * torch.einsum("bhid,bhjd->bhij", q, k)
    if "k" in sites:
        emb = _site_embeddings(state, method, ratio, "k", grid, mode)
        logits = logits + (emb[None] if mode == "bias" else s * torch.einsum("bhid,hijd->bhij", q, emb))
    if "q" in sites:
        emb = _site_embeddings(state, method, ratio, "q", grid, mode)  # emb[h, a, b] is bucket of offset a - b
        emb_t = emb.transpose(1, 2)  # at (i, j): bucket of (j - i): the reversed offset
        logits = logits + (emb_t[None] if mode == "bias" else s * torch.einsum("bhjd,hijd->bhij", k, emb_t))
    if mask is not None:
        logits = logits.masked_fill(mask[:, None, None, :], float("-inf"))
    attn = logits.softmax(-1)
    out = torch.einsum("bhij,bhjd->bhid", attn, v)
    if "v" in sites:
        out = out + torch.einsum("bhij,hijd->bhid", attn, _site_embeddings(state, method, ratio, "v", grid, mode))
    return out


def _grads(out, leaves, seed):
    cotangent = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=out.dtype)
    return torch.autograd.grad(out, leaves, cotangent)


def _qkv(length, seed):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(2, HEADS, length, HEAD_DIM, generator=generator, dtype=torch.float64, requires_grad=True)
            for _ in range(3)]


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("method,mode,shared", CASES)
def test_site_modules_match_formulas(method, mode, shared, grid):
    height, width, skip = grid
    config = _config(method, mode, shared, skip)
    layout = official_layout(method, mode, 1.0, shared, config.rpe_on, skip)
    holder = _holder(config).double()
    state = _random_state(layout, 1)
    holder.load_state_dict(state, strict=True)
    ref_state = {name: t.clone().requires_grad_() for name, t in state.items()}
    q, k, v = _qkv(skip + height * width, 2)
    s = HEAD_DIM ** -0.5
    for site in config.rpe_on:
        module = getattr(holder, f"rpe_{site}")
        emb = _site_embeddings(ref_state, method, 1.0, site, grid, mode)
        if site == "v":
            attn = torch.rand(2, HEADS, q.shape[2], q.shape[2], dtype=torch.float64, requires_grad=True)
            got = module(attn, height=height, width=width)
            expected = torch.einsum("bhij,hijd->bhid", attn, emb)
            inputs = [attn]
        else:
            x = q if site == "k" else k  # rpe_k(q * s); rpe_q(k * s) returns the term before the transpose
            got = module(x * s, height=height, width=width)
            expected = emb[None].expand(2, -1, -1, -1) if mode == "bias" else \
                torch.einsum("bhid,hijd->bhij", x * s, emb)
            inputs = [x]
        assert got.shape[-2:] == expected.shape[-2:]
        torch.testing.assert_close(got.expand_as(expected), expected, rtol=1e-12, atol=1e-12)
        params = [p for n, p in holder.named_parameters() if n.startswith(f"rpe_{site}.")]
        ref_params = [ref_state[n] for n, _ in holder.named_parameters() if n.startswith(f"rpe_{site}.")]
        needs_input = mode == "contextual" or site == "v"
        got_grads = _grads(got.expand_as(expected), inputs + params if needs_input else params, 3)
        ref_grads = _grads(expected, inputs + ref_params if needs_input else ref_params, 3)
        for a, b in zip(got_grads, ref_grads):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("method,mode,shared", CASES)
def test_whole_attention_matches_formulas(method, mode, shared, grid):
    height, width, skip = grid
    config = _config(method, mode, shared, skip)
    layout = official_layout(method, mode, 1.0, shared, config.rpe_on, skip)
    holder = _holder(config).double()
    state = _random_state(layout, 4)
    holder.load_state_dict(state, strict=True)
    ref_state = {name: t.clone().requires_grad_() for name, t in state.items()}
    length = skip + height * width
    q, k, v = _qkv(length, 5)
    mask = torch.zeros(2, length, dtype=torch.bool)
    mask[1, -2:] = True
    sites = {f"rpe_{s}": getattr(holder, f"rpe_{s}", None) for s in "qkv"}
    got = rpe_attention(q, k, v, **sites, height=height, width=width, key_padding_mask=mask, backend="eager")
    expected = reference_attention(q, k, v, ref_state, method, mode, 1.0, grid, config.rpe_on, mask)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    names = [n for n, _ in holder.named_parameters()]
    got_grads = _grads(got, [q, k, v] + [dict(holder.named_parameters())[n] for n in names], 6)
    ref_grads = _grads(expected, [q, k, v] + [ref_state[n] for n in names], 6)
    for a, b in zip(got_grads, ref_grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_rpe_attention_layer_matches_formulas():
    """RPEAttention: the qkv projection, the grid attribute and the output projection around the formulas."""
    height, width, skip, dim = 2, 3, 1, HEADS * HEAD_DIM
    config = _config("product", "contextual", False, skip)
    layer = RPEAttention(dim, HEADS, qkv_bias=True, rpe=config, backend="eager").double()
    generator = torch.Generator().manual_seed(7)
    for p in layer.parameters():
        p.data = torch.randn(p.shape, generator=generator, dtype=torch.float64)
    layer.grid = (height, width)
    x = torch.randn(2, skip + height * width, dim, generator=generator, dtype=torch.float64)
    qkv = (x @ layer.qkv.weight.T + layer.qkv.bias).reshape(2, -1, 3, HEADS, HEAD_DIM).permute(2, 0, 3, 1, 4)
    state = {n: p for n, p in layer.named_parameters() if n.startswith("rpe_")}
    ref = reference_attention(*qkv, state, "product", "contextual", 1.0, (height, width, skip), "qkv")
    ref = ref.transpose(1, 2).reshape(2, -1, dim) @ layer.proj.weight.T + layer.proj.bias
    torch.testing.assert_close(layer(x), ref, rtol=1e-12, atol=1e-12)


def test_length_mismatch_names_l_h_w_and_prefix():
    rpe_q, rpe_k, rpe_v = build_rpe(get_rpe_config(skip=1, rpe_on="qkv"), HEAD_DIM, HEADS)
    q, k, v = _qkv(9, 0)
    for call in (lambda: rpe_k(q, height=2, width=3), lambda: rpe_v(q @ k.transpose(-2, -1), height=2, width=3),
                 lambda: rpe_attention(q, k, v, rpe_k=rpe_k, height=2, width=3)):
        with pytest.raises(ValueError) as err:
            call()
        assert "L=9" in str(err.value) and "prefix" in str(err.value) and "1 + 2*3" in str(err.value)


def test_square_grid_inferred_only_when_square():
    rpe_k = build_rpe(get_rpe_config(skip=1, rpe_on="k"), HEAD_DIM, HEADS)[1].double()
    nn.init.normal_(rpe_k.lookup_table_weight)
    q = _qkv(10, 0)[0]
    torch.testing.assert_close(rpe_k(q), rpe_k(q, height=3, width=3))
    with pytest.raises(ValueError, match="height and width"):
        rpe_k(_qkv(7, 0)[0])


def test_rpe_attention_layer_needs_its_grid():
    layer = RPEAttention(8, 2, rpe=get_rpe_config(skip=1))
    with pytest.raises(ValueError, match="grid"):
        layer(torch.randn(1, 10, 8))


class _LargestTensor(TorchDispatchMode):
    """Records the largest number of elements of any tensor an op produces."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


@pytest.mark.parametrize("method", ["product", "cross"])
def test_v_never_builds_a_pair_by_dim_tensor(method):
    head_dim, length = 32, 1 + 6 * 6
    rpe_v = build_rpe(get_rpe_config(method=method, skip=1, rpe_on="v", shared_head=False), head_dim, HEADS)[2]
    attn = torch.rand(1, HEADS, length, length, requires_grad=True)
    recorder = _LargestTensor()
    with recorder:
        out = rpe_v(attn, height=6, width=6)
        out.sum().backward()
    # An (L, L, head_dim) tensor per head would hold HEADS * L * L * head_dim elements.
    assert recorder.largest < length * length * head_dim
    assert attn.grad is not None and rpe_v.parameters().__next__().grad is not None

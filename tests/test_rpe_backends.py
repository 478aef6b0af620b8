"""Every attention backend equals eager (the reference) on outputs and all gradients, fp32 relative error
< 1e-5, with relative error = max|a - b| / max(max|b|, 1).

Why the floor of 1: inputs, tables and cotangents are N(0, 1), so every gradient is a sum of O(1) terms and
fp32 rounding (~1e-7 per term) is relative to those terms, not to the sum. Sums that cancel are common here
(a bias bucket collects dlogits whose rows sum to zero; the rows table of cross on a one-row grid only shifts
the softmax, true gradient 0), and there max|b| alone would turn rounding noise into a large "relative" error.
A wrong backend errs by the size of the gradient itself, which this still catches.
"""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ablate.attention import BACKENDS, rpe_attention
from ablate.rpe import build_rpe, get_rpe_config

TOLERANCE = 1e-5
FLOOR = 1.0


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """max|a - b| / max|b|, with max|b| floored at FLOOR (a gradient that is zero up to rounding)."""
    return (a - b).abs().max().item() / max(b.abs().max().item(), FLOOR)


def _setup(method, mode, sites, index, ratio, shared, heads, head_dim, batch, height, width, skip, seed):
    config = get_rpe_config(ratio=ratio, method=method, mode=mode, shared_head=shared, skip=skip, rpe_on=sites)
    config = config.replace(index=index)
    generator = torch.Generator().manual_seed(seed)
    sites_modules = build_rpe(config, head_dim, heads)
    for module in sites_modules:
        if module is not None:
            for p in module.parameters():
                p.data = torch.randn(p.shape, generator=generator)
    length = skip + height * width
    qkv = [torch.randn(batch, heads, length, head_dim, generator=generator, requires_grad=True) for _ in range(3)]
    return sites_modules, qkv


def _run(backend, sites_modules, qkv, height, width, mask, cotangent):
    rpe_q, rpe_k, rpe_v = sites_modules
    params = [p for m in sites_modules if m is not None for p in m.parameters()]
    out = rpe_attention(*qkv, rpe_q=rpe_q, rpe_k=rpe_k, rpe_v=rpe_v, height=height, width=width,
                        key_padding_mask=mask, backend=backend)
    return out, torch.autograd.grad(out, qkv + params, cotangent)


@st.composite
def attention_cases(draw):
    mode = draw(st.sampled_from(["contextual", "bias"]))
    site_choices = ["q", "k", "qk"] + (["v", "kv", "qv", "qkv"] if mode == "contextual" else [])
    height, width, skip, batch = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(0, 2)), \
        draw(st.integers(1, 2))
    length = skip + height * width
    mask = None
    if draw(st.booleans()):
        rows = [draw(st.lists(st.booleans(), min_size=length, max_size=length)) for _ in range(batch)]
        for row in rows:
            row[draw(st.integers(0, length - 1))] = False  # at least one visible key per row
        mask = torch.tensor(rows)
    return dict(method=draw(st.sampled_from(["euc", "quant", "cross", "product"])), mode=mode,
                sites=draw(st.sampled_from(site_choices)), index=draw(st.sampled_from(["piecewise", "clip"])),
                ratio=draw(st.sampled_from([0.5, 1.0, 1.9, 3.0])), shared=draw(st.booleans()),
                heads=draw(st.integers(1, 3)), head_dim=draw(st.sampled_from([4, 8])), batch=batch,
                height=height, width=width, skip=skip), mask


@settings(max_examples=60, deadline=None)
@given(case=attention_cases(), seed=st.integers(0, 2**16))
def test_backends_equal_eager(case, seed):
    args, mask = case
    sites_modules, qkv = _setup(**args, seed=seed)
    length = args["skip"] + args["height"] * args["width"]
    cotangent = torch.randn(args["batch"], args["heads"], length, args["head_dim"],
                            generator=torch.Generator().manual_seed(seed + 1))
    reference, reference_grads = _run("eager", sites_modules, qkv, args["height"], args["width"], mask, cotangent)
    for backend in ("sdpa", "auto"):
        out, grads = _run(backend, sites_modules, qkv, args["height"], args["width"], mask, cotangent)
        assert relative_error(out, reference) < TOLERANCE, backend
        for got, expected in zip(grads, reference_grads):
            assert relative_error(got, expected) < TOLERANCE, backend
    # On a CPU, terms that need a gradient take the eager route in sdpa: its own path (a float mask), forward.
    rpe_q, rpe_k, rpe_v = sites_modules
    with torch.no_grad():
        out = rpe_attention(*qkv, rpe_q=rpe_q, rpe_k=rpe_k, rpe_v=rpe_v, height=args["height"], width=args["width"],
                            key_padding_mask=mask, backend="sdpa")
    assert relative_error(out, reference) < TOLERANCE


FLEX_CASES = [
    # method, mode, sites, shared, height, width, skip, padded
    ("product", "contextual", "qk", True, 3, 5, 1, True),
    ("cross", "bias", "k", False, 2, 3, 2, False),
    ("euc", "contextual", "k", False, 4, 6, 0, True),  # L = 8 and 24: torch's CPU kernel is wrong at L % 16 == 8
]


def test_flex_forward_equals_eager_on_cpu():
    """Forward only: torch has no FlexAttention backward on CPU. A few fixed cases (each one compiles)."""
    for method, mode, sites, shared, height, width, skip, padded in FLEX_CASES:
        sites_modules, qkv = _setup(method, mode, sites, "piecewise", 1.0, shared, 2, 8, 2, height, width, skip, 0)
        rpe_q, rpe_k, rpe_v = sites_modules
        length = skip + height * width
        mask = None
        if padded:
            mask = torch.zeros(2, length, dtype=torch.bool)
            mask[1, -3:] = True
        with torch.no_grad():
            outs = [rpe_attention(*qkv, rpe_q=rpe_q, rpe_k=rpe_k, rpe_v=rpe_v, height=height, width=width,
                                  key_padding_mask=mask, backend=backend) for backend in ("eager", "flex")]
        assert relative_error(outs[1], outs[0]) < TOLERANCE, (method, mode, sites)


def test_flex_refuses_what_it_cannot_do_on_cpu():
    sites_modules, qkv = _setup("product", "contextual", "k", "piecewise", 1.9, True, 2, 8, 1, 2, 2, 1, 0)
    with pytest.raises(ValueError, match="backward"):
        rpe_attention(*qkv, rpe_k=sites_modules[1], height=2, width=2, backend="flex")
    with torch.no_grad(), pytest.raises(ValueError, match="dropout"):
        rpe_attention(*qkv, rpe_k=sites_modules[1], height=2, width=2, backend="flex", dropout_p=0.1)


def test_unknown_backend():
    sites_modules, qkv = _setup("product", "contextual", "k", "piecewise", 1.9, True, 2, 8, 1, 2, 2, 1, 0)
    with pytest.raises(ValueError, match="fast.*auto"):
        rpe_attention(*qkv, rpe_k=sites_modules[1], height=2, width=2, backend="fast")
    assert set(BACKENDS) == {"auto", "eager", "sdpa", "flex", "triton"}


@pytest.mark.parametrize("backend", ["eager", "sdpa"])
def test_attention_dropout_is_applied_in_training(backend):
    sites_modules, qkv = _setup("product", "contextual", "k", "piecewise", 1.9, True, 2, 8, 1, 3, 3, 1, 0)
    kwargs = dict(rpe_k=sites_modules[1], height=3, width=3, backend=backend)
    with torch.no_grad():
        plain = rpe_attention(*qkv, **kwargs)
        torch.manual_seed(0)
        dropped = rpe_attention(*qkv, **kwargs, dropout_p=0.5)
    assert not torch.allclose(plain, dropped)


TRITON_CASES = [
    # method, mode, sites, shared, height, width, skip, padded: every kind of term the kernels take
    ("cross", "contextual", "qkv", False, 2, 3, 1, True),  # 4 logit terms (by query and by key), 2 value terms
    ("product", "bias", "qk", True, 3, 2, 2, False),
    ("euc", "contextual", "kv", True, 1, 4, 0, True),
]


@pytest.mark.parametrize("case", TRITON_CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}")
def test_triton_backend_equals_eager(case):
    """The fused kernels behind the attention interface (CPU: Triton's interpreter), outputs and every gradient."""
    method, mode, sites, shared, height, width, skip, padded = case
    sites_modules, qkv = _setup(method, mode, sites, "piecewise", 1.0, shared, 2, 8, 2, height, width, skip, 0)
    length = skip + height * width
    mask = None
    if padded:
        mask = torch.zeros(2, length, dtype=torch.bool)
        mask[1, -2:] = True
    cotangent = torch.randn(2, 2, length, 8, generator=torch.Generator().manual_seed(5))
    reference, reference_grads = _run("eager", sites_modules, qkv, height, width, mask, cotangent)
    out, grads = _run("triton", sites_modules, qkv, height, width, mask, cotangent)
    assert relative_error(out, reference) < TOLERANCE
    for got, expected in zip(grads, reference_grads):
        assert relative_error(got, expected) < TOLERANCE

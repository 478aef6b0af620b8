"""The fused Triton attention (ablate.attention.kernels) against a float64 eager reference, on CPU.

On CPU the kernels run through Triton's interpreter: the same kernel code as on a GPU, executed with numpy,
one program and tile at a time. Shapes stay small (L <= 32, 16 x 16 tiles, so 1-2 tiles a side with ragged
edges; each tile shape the GPU autotuner may choose runs too, with one L = 71 case) to keep the file near a
minute on two cores. test_kernels_cuda.py repeats the checks at real sizes on a GPU; test_compiles_for_sm90
compiles the GPU kernels here, without a GPU, in every config the autotuner tries.
"""
import os
from dataclasses import dataclass, field

import pytest
import torch
import torch.nn.functional as F
import triton

from ablate.rpe.buckets import allocated_buckets, bucket_map
from ablate.attention.kernels import draw_dropout_seed, dropout_keep_mask, fused_attention, launch, tuning
from ablate.pe.terms import BucketLogits, BucketValues, gather_logits, value_term


# ----------------------------------------------------------------------------------------------------------
# The reference: the definition, written out in float64 with every (B, H, L, L) tensor materialised.

def reference(q, k, v, logits=(), values=(), key_padding_mask=None, keep=None, dropout_p=0.0, scale=None):
    """float64 attention with bucket terms; keep (B, H, L, L) bool replays a dropout draw."""
    batch, heads, length, head_dim = q.shape
    scale = head_dim ** -0.5 if scale is None else scale
    s = scale * q.double() @ k.double().transpose(-1, -2)
    rows = torch.arange(length, device=q.device)[:, None]
    for term in logits:
        table = term.table.double().expand(batch, heads, length, term.table.shape[-1])
        ids = term.ids.long().to(q.device)
        read = table[:, :, rows, ids]  # read[b, h, r, c] = table[b', h', r', ids[r, c]]
        s = s + (read if term.by == "query" else read.transpose(-1, -2))
    if key_padding_mask is not None:
        s = s.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
    attn = s.softmax(-1)
    if keep is not None:
        attn = attn * keep / (1.0 - dropout_p)
    out = attn @ v.double()
    for term in values:
        onehot = F.one_hot(term.ids.long().to(q.device), term.table.shape[-2]).double()  # (L, L, NB)
        out = out + torch.einsum("bhij,ijn->bhin", attn, onehot) @ term.table.double()
    return out


# ----------------------------------------------------------------------------------------------------------
# Cases: terms are built from leaf tensors, so that both the kernel (fp32 leaves) and the reference (float64
# copies) see the same function of the same numbers, and every leaf's gradient can be compared.

@dataclass(frozen=True)
class Term:
    """kind: K (contextual, table = (q * scale) W^T, by query), Q (the same from k, by key), V (value),
    bias / bias_key (a (1, H, 1, NB) table, by query / by key), shared (a (B, 1, L, NB) table, by key)."""

    kind: str
    method: str
    ratio: float


@dataclass(frozen=True)
class Case:
    name: str
    batch: int
    heads: int
    grid: tuple[int, int]
    skip: int
    head_dim: int
    terms: tuple[Term, ...] = ()
    masked: bool = False
    value_heads: int | None = None  # 1: value tables shared by the heads
    length: int = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "length", self.skip + self.grid[0] * self.grid[1])

    def sites(self, term: Term) -> list[str]:
        return ["cross_rows", "cross_cols"] if term.method == "cross" else [term.method]

    def leaves(self, generator: torch.Generator) -> list[torch.Tensor]:
        """q, k, v, then one parameter per term site (a W or a table), fp32 with requires_grad."""
        b, h, length, d = self.batch, self.heads, self.length, self.head_dim
        shapes = [(b, h, length, d)] * 3
        for term in self.terms:
            for site in self.sites(term):
                nb = allocated_buckets(site, term.ratio, self.skip)
                shapes.append({"K": (h, nb, d), "Q": (h, nb, d), "V": (self.value_heads or h, nb, d),
                               "bias": (1, h, 1, nb), "bias_key": (1, h, 1, nb),
                               "shared": (b, 1, length, nb)}[term.kind])
        return [torch.randn(s, generator=generator).requires_grad_() for s in shapes]

    def build(self, leaves: list[torch.Tensor]) -> tuple:
        """(q, k, v, logits, values) from leaves (any dtype)."""
        q, k, v, *params = leaves
        scale = self.head_dim ** -0.5
        logits, values, params = [], [], iter(params)
        for term in self.terms:
            for site in self.sites(term):
                ids, w = bucket_map(site, term.ratio, *self.grid, self.skip), next(params)
                if term.kind == "K":
                    logits.append(BucketLogits((q * scale) @ w.transpose(-1, -2), ids, "query"))
                elif term.kind == "Q":
                    logits.append(BucketLogits((k * scale) @ w.transpose(-1, -2), ids, "key"))
                elif term.kind == "V":
                    values.append(BucketValues(w, ids))
                else:
                    by = "query" if term.kind == "bias" else "key"  # bias_key, shared
                    logits.append(BucketLogits(w, ids, by))
        return q, k, v, logits, values

    def mask(self, generator: torch.Generator) -> torch.Tensor | None:
        """Random key padding (about a third of the keys), never a whole row."""
        if not self.masked:
            return None
        mask = torch.rand(self.batch, self.length, generator=generator) < 0.35
        mask[:, 0] = False
        return mask


CASES = [
    Case("plain", 2, 3, (2, 5), 0, 8),
    Case("k_euc", 2, 2, (3, 4), 1, 8, (Term("K", "euc", 0.6),)),
    Case("q_quant_mask_d6", 2, 2, (4, 5), 2, 6, (Term("Q", "quant", 0.9),), masked=True),
    Case("bias_shared_product", 1, 3, (5, 5), 0, 16,
         (Term("bias", "product", 0.8), Term("bias_key", "quant", 0.9), Term("shared", "euc", 0.7))),
    Case("k_v_product_nonsquare", 2, 2, (2, 7), 1, 12, (Term("K", "product", 1.0), Term("V", "product", 1.0))),
    Case("qkv_cross_mask", 2, 2, (3, 5), 1, 8,
         (Term("Q", "cross", 0.7), Term("K", "cross", 0.7), Term("V", "cross", 0.7)), masked=True),
    Case("kv_shared_values_l29", 1, 1, (4, 7), 1, 4, (Term("K", "product", 1.2), Term("V", "euc", 1.2)),
         masked=True, value_heads=1),
    Case("qk_euc_l32", 1, 2, (5, 6), 2, 8, (Term("Q", "euc", 1.5), Term("K", "euc", 1.5))),
]


def run_both(case: Case, seed: int = 0, dropout_p: float = 0.0):
    """(kernel out, kernel grads, reference out, reference grads) for the same leaves and output gradient."""
    generator = torch.Generator().manual_seed(seed)
    leaves = case.leaves(generator)
    mask = case.mask(generator)
    q, k, v, logits, values = case.build(leaves)
    torch.manual_seed(seed)
    out = fused_attention(q, k, v, logits, values, mask, dropout_p=dropout_p)
    keep = None
    if dropout_p > 0:
        torch.manual_seed(seed)  # the seed the call above drew
        keep = dropout_keep_mask(draw_dropout_seed(), case.batch, case.heads, case.length, dropout_p)
    grad_out = torch.randn(out.shape, generator=generator, dtype=torch.float64)
    grads = torch.autograd.grad(out, leaves, grad_out.to(out.dtype))
    ref_leaves = [x.detach().double().requires_grad_() for x in leaves]
    ref = reference(*case.build(ref_leaves), key_padding_mask=mask, keep=keep, dropout_p=dropout_p)
    ref_grads = torch.autograd.grad(ref, ref_leaves, grad_out)
    return out, grads, ref, ref_grads


def assert_near(actual: torch.Tensor, expected: torch.Tensor, tol: float, what: str) -> None:
    """max |actual - expected| <= tol * max(1, max |expected|): an error relative to the tensor's scale."""
    err = (actual.double() - expected).abs().max().item()
    bound = tol * max(1.0, expected.abs().max().item())
    assert err <= bound, f"{what}: max error {err:.3g} > {bound:.3g}"


# fp32 kernel vs float64: every output or gradient entry is a sum over at most L <= 32 keys (queries, for dk,
# dv, key-indexed tables) of products of fp32-rounded values, after an exp and a division with relative
# errors of a few ulp; broadcast tables sum up to B * L * L <= 2 * 32 * 32 such entries. Rounding errors
# (u = 6e-8) grow at worst linearly with the count (2048 u = 1.2e-4) and in practice like its square root
# (~50 u = 3e-6); measured over every case here, with and without dropout: below 7e-7 relative to each
# tensor's largest entry. 1e-5 leaves a tenfold margin over that and still catches any wrong term, bucket,
# mask, dropout or scale (errors of order 1e-2 or more).
FP32_TOL = 1e-5


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_matches_reference(case: Case) -> None:
    out, grads, ref, ref_grads = run_both(case)
    assert out.shape == ref.shape and out.dtype == torch.float32
    assert_near(out, ref, FP32_TOL, "out")
    names = ["dq", "dk", "dv"] + [f"d{t.kind}.{s}" for t in case.terms for s in case.sites(t)]
    for name, grad, ref_grad in zip(names, grads, ref_grads, strict=True):
        assert grad.shape == ref_grad.shape
        assert_near(grad, ref_grad, FP32_TOL, name)


def test_reference_agrees_with_terms_module() -> None:
    """The test's own reference and ablate.pe.terms' gather/aggregate give one answer (cross-check)."""
    case = CASES[5]  # qkv_cross_mask: by-query and by-key logit terms, value terms
    generator = torch.Generator().manual_seed(1)
    leaves = [x.detach().double() for x in case.leaves(generator)]
    mask = case.mask(generator)
    q, k, v, logits, values = case.build(leaves)
    s = (q * case.head_dim ** -0.5) @ k.transpose(-1, -2)
    for term in logits:
        s = s + gather_logits(term)
    attn = s.masked_fill(mask[:, None, None, :], float("-inf")).softmax(-1)
    out = attn @ v + sum(value_term(attn, term) for term in values)
    torch.testing.assert_close(out, reference(q, k, v, logits, values, mask), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("blocks", [launch.Blocks(16, 32), launch.Blocks(32, 16), launch.Blocks(8, 8)],
                         ids=["16x32", "32x16", "8x8"])
def test_tile_shape_does_not_matter(monkeypatch, blocks: launch.Blocks) -> None:
    """Other tile shapes give the reference too: non-square, and 8 x 8 (no GPU shape: tl.dot needs 16 there,
    but two query blocks and two key blocks become four a side, so the online softmax rescales thrice)."""
    monkeypatch.setattr(launch, "INTERPRETER_BLOCKS", blocks)
    out, grads, ref, ref_grads = run_both(CASES[6])  # K + V with shared value tables and a mask, L = 29
    assert_near(out, ref, FP32_TOL, "out")
    for grad, ref_grad in zip(grads, ref_grads, strict=True):
        assert_near(grad, ref_grad, FP32_TOL, "grad")


# Longer than a 64-row tile: two or more tiles a side for every GPU tile shape.
TWO_TILES = Case("kv_product_l71", 1, 2, (7, 10), 1, 8, (Term("K", "product", 1.0), Term("V", "product", 1.0)),
                 masked=True)


@pytest.mark.parametrize("config", tuning.GPU_CONFIGS, ids=tuning.describe)
def test_every_gpu_tile_matches_the_reference(monkeypatch, config: triton.Config) -> None:
    """Each tile shape the autotuner may choose on a GPU (warps and stages mean nothing to the interpreter): every
    kind of term with padding and dropout in one tile, and K + V terms over several tiles, forward and backward,
    against float64."""
    blocks = launch.Blocks(config.kwargs["BLOCK_M"], config.kwargs["BLOCK_N"])
    monkeypatch.setattr(launch, "INTERPRETER_BLOCKS", blocks)
    for case, dropout_p in ((CASES[5], 0.3), (TWO_TILES, 0.0)):
        out, grads, ref, ref_grads = run_both(case, seed=3, dropout_p=dropout_p)
        assert_near(out, ref, FP32_TOL, f"{case.name} out")
        for grad, ref_grad in zip(grads, ref_grads, strict=True):
            assert_near(grad, ref_grad, FP32_TOL, f"{case.name} grad")


# ----------------------------------------------------------------------------------------------------------
# Dropout

@pytest.mark.parametrize("case", [CASES[1], CASES[5]], ids=lambda c: c.name)
def test_dropout_replays_exactly(case: Case) -> None:
    """With the keep-mask of the seed the call drew, the reference equals the kernel, forward and backward."""
    out, grads, ref, ref_grads = run_both(case, seed=3, dropout_p=0.3)
    assert_near(out, ref, FP32_TOL, "out")
    for grad, ref_grad in zip(grads, ref_grads, strict=True):
        assert_near(grad, ref_grad, FP32_TOL, "grad")


def test_dropout_keep_fraction_and_seeds() -> None:
    keep = dropout_keep_mask(1234, 2, 2, 64, 0.3)
    # 16384 pairs: the fraction kept has a standard deviation of sqrt(0.21 / 16384) = 0.0036; allow 6 of them.
    assert abs(keep.float().mean().item() - 0.7) < 0.022
    # Every (b, h) slice draws its own mask.
    flat = keep.reshape(4, -1)
    assert all(not torch.equal(flat[i], flat[j]) for i in range(4) for j in range(i))
    assert not torch.equal(keep, dropout_keep_mask(1235, 2, 2, 64, 0.3))
    assert torch.equal(keep, dropout_keep_mask(1234, 2, 2, 64, 0.3))
    assert dropout_keep_mask(7, 1, 1, 20, 0.0).all()


def test_dropout_draws_from_torch_rng() -> None:
    """The same global seed gives the same output; another seed another one."""
    case = CASES[1]
    q, k, v, logits, values = case.build(case.leaves(torch.Generator().manual_seed(0)))
    outs = []
    for seed in (5, 5, 6):
        torch.manual_seed(seed)
        outs.append(fused_attention(q, k, v, logits, values, dropout_p=0.5).detach())
    assert torch.equal(outs[0], outs[1]) and not torch.equal(outs[0], outs[2])


# ----------------------------------------------------------------------------------------------------------
# Inputs

def test_ids_dtypes_agree() -> None:
    """int16, int32 and int64 id maps give bitwise the same output and gradients."""
    case = CASES[5]
    results = []
    for dtype in (torch.int16, torch.int32, torch.int64):
        leaves = case.leaves(torch.Generator().manual_seed(2))
        q, k, v, logits, values = case.build(leaves)
        logits = [BucketLogits(t.table, t.ids.to(dtype), t.by) for t in logits]
        values = [BucketValues(t.table, t.ids.to(dtype)) for t in values]
        out = fused_attention(q, k, v, logits, values)
        results.append([out, *torch.autograd.grad(out.sum(), leaves)])
    for other in results[1:]:
        assert all(torch.equal(a, b) for a, b in zip(results[0], other, strict=True))


@pytest.mark.parametrize("dtype, tol", [(torch.float16, 5e-3), (torch.bfloat16, 4e-2)], ids=["fp16", "bf16"])
def test_half_precision(dtype: torch.dtype, tol: float) -> None:
    """fp16/bf16 inputs: dots in the input precision, fp32 statistics; against float64 of the same inputs.

    On this path each value is rounded to the input dtype a handful of times: the contextual table
    (q * scale) @ W^T and its gradients are torch half-precision ops, the kernel rounds p and dS before their
    dots and every output on store. Each rounding is a relative half-unit, 2^-12 (fp16) or 2^-9 (bf16), so
    a chain of ~5 gives ~1.2e-3 and ~1e-2 of the tensor's largest entry (measured: 7e-4 and 1e-2). The
    bounds leave a fourfold margin; a wrong term or bucket is off by far more.
    """
    case = CASES[4]  # K + V with product buckets
    leaves = [x.detach().to(dtype).requires_grad_() for x in case.leaves(torch.Generator().manual_seed(4))]
    q, k, v, logits, values = case.build(leaves)
    out = fused_attention(q, k, v, logits, values)
    assert out.dtype == dtype
    grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    grads = torch.autograd.grad(out, leaves, grad_out.to(dtype))
    ref_leaves = [x.detach().double().requires_grad_() for x in leaves]
    ref = reference(*case.build(ref_leaves))
    ref_grads = torch.autograd.grad(ref, ref_leaves, grad_out)
    assert_near(out, ref, tol, "out")
    for grad, ref_grad, leaf in zip(grads, ref_grads, leaves, strict=True):
        assert grad.dtype == leaf.dtype
        assert_near(grad, ref_grad, tol, "grad")


def test_explicit_scale() -> None:
    case = CASES[1]
    leaves = case.leaves(torch.Generator().manual_seed(6))
    q, k, v, logits, values = case.build(leaves)
    out = fused_attention(q, k, v, logits, values, scale=0.2)
    assert_near(out, reference(q, k, v, logits, values, scale=0.2), FP32_TOL, "out")


def test_bad_inputs_are_refused() -> None:
    q = torch.randn(1, 2, 5, 4)
    ids = torch.zeros(5, 5, dtype=torch.long)
    with pytest.raises(ValueError, match="share one"):
        fused_attention(q, q, q[..., :3])
    with pytest.raises(ValueError, match="logit table"):
        fused_attention(q, q, q, [BucketLogits(torch.zeros(1, 3, 5, 4), ids)])
    with pytest.raises(ValueError, match="value table"):
        fused_attention(q, q, q, values=[BucketValues(torch.zeros(2, 4, 3), ids)])
    with pytest.raises(ValueError, match="bucket ids"):
        fused_attention(q, q, q, [BucketLogits(torch.zeros(1, 2, 5, 4), ids[:4])])
    with pytest.raises(ValueError, match="at most"):
        fused_attention(q, q, q, [BucketLogits(torch.zeros(1, 2, 1, 4), ids)] * 5)
    with pytest.raises(ValueError, match="dropout_p"):
        fused_attention(q, q, q, dropout_p=1.0)


# ----------------------------------------------------------------------------------------------------------
# Fusion and integration

def test_no_length_squared_tensor() -> None:
    """Forward and backward create no tensor with B * H * L * L elements (only the shared (L, L) id maps)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    case = CASES[5]
    leaves = case.leaves(torch.Generator().manual_seed(0))
    sizes = []

    class Record(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            result = func(*args, **(kwargs or {}))
            for t in result if isinstance(result, (tuple, list)) else [result]:
                if isinstance(t, torch.Tensor):
                    sizes.append((str(func), t.numel()))
            return result

    with Record():
        q, k, v, logits, values = case.build(leaves)
        out = fused_attention(q, k, v, logits, values, case.mask(torch.Generator().manual_seed(0)), 0.2)
        torch.autograd.grad(out.sum(), leaves)
    length_squared = case.batch * case.heads * case.length ** 2
    assert sizes and max(n for _, n in sizes) < length_squared, max(sizes, key=lambda s: s[1])


def test_custom_op_registration() -> None:
    """torch.library.opcheck: schema, fake (meta) implementation and autograd registration are consistent."""
    case = CASES[5]
    q, k, v, logits, values = case.build(case.leaves(torch.Generator().manual_seed(0)))
    tables = [t.table.detach().float().requires_grad_() for t in logits]
    by_key = [t.by == "key" for t in logits]
    ids = [(t.ids.t() if key else t.ids).to(torch.int32).contiguous() for t, key in zip(logits, by_key)]
    value_ids = [t.ids.to(torch.int32).contiguous() for t in values]
    args = (q.detach().requires_grad_(), k.detach(), v.detach().requires_grad_(), tables, ids, by_key, value_ids,
            [t.table.shape[-2] for t in values], case.mask(torch.Generator().manual_seed(0)), 0.0, 0.35)
    torch.library.opcheck(torch.ops.ablate.rpe_fused_attention.default, args,
                          test_utils=("test_schema", "test_autograd_registration", "test_faketensor"))


class _TinyRPEAttention(torch.nn.Module):
    """qkv projection, iRPE on K (contextual) and V, fused attention, output projection."""

    def __init__(self, dim: int = 8, heads: int = 2, grid: tuple[int, int] = (3, 3)) -> None:
        super().__init__()
        self.heads, self.grid = heads, grid
        self.ids = bucket_map("product", 1.0, *grid, 1)
        buckets = allocated_buckets("product", 1.0, 1)
        self.qkv = torch.nn.Linear(dim, 3 * dim)
        self.rpe_k = torch.nn.Parameter(0.5 * torch.randn(heads, buckets, dim // heads))
        self.rpe_v = torch.nn.Parameter(0.5 * torch.randn(heads, buckets, dim // heads))
        self.proj = torch.nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, dim = x.shape
        q, k, v = self.qkv(x).reshape(batch, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        table = (q * q.shape[-1] ** -0.5) @ self.rpe_k.transpose(-1, -2)
        out = fused_attention(q, k, v, [BucketLogits(table, self.ids)], [BucketValues(self.rpe_v, self.ids)])
        return self.proj(out.transpose(1, 2).reshape(batch, length, dim))


def test_torch_compile_matches_eager() -> None:
    """torch.compile (inductor, CPU) over a model calling fused_attention: same output and gradients."""
    torch.manual_seed(0)
    model = _TinyRPEAttention()
    x = torch.randn(2, 10, 8)
    eager_out = model(x)
    eager_grads = torch.autograd.grad(eager_out.square().sum(), list(model.parameters()))
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)
    out = compiled(x)
    grads = torch.autograd.grad(out.square().sum(), list(model.parameters()))
    torch.testing.assert_close(out, eager_out, rtol=1e-5, atol=1e-6)
    for grad, eager_grad in zip(grads, eager_grads, strict=True):
        torch.testing.assert_close(grad, eager_grad, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------------------------
# The GPU kernels compile (Triton -> PTX -> sm_90 cubin, ptxas included) on this machine, without a GPU: the
# interpreter accepts code the compiler refuses (dot shapes, types of loop-carried values, constexpr use).

class _Sm90Driver:
    """Just enough of a Triton driver for JITFunction.warmup to compile for an H100/H200."""

    def get_current_device(self):
        return 901  # an id of its own: nothing compiled here lands in a real device's cache

    def get_current_stream(self, device=None):
        return 0

    def get_current_target(self):
        from triton.backends.compiler import GPUTarget

        return GPUTarget("cuda", 90, 32)


def _ptxas_available() -> bool:
    path = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "ptxas")
    return os.path.exists(path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CUDA tests run the compiled kernels themselves")
@pytest.mark.skipif(bool(triton.knobs.runtime.interpret), reason="TRITON_INTERPRET is set: nothing compiles")
@pytest.mark.skipif(not _ptxas_available(), reason="Triton's NVIDIA backend (ptxas) is not installed")
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32], ids=str)
def test_compiles_for_sm90(monkeypatch, dtype: torch.dtype) -> None:
    """Every config the autotuner tries for the dtype compiles (its warmup compiles them all), with tensor-core
    MMAs for fp16/bf16."""
    from ablate.attention.kernels import dispatch
    from triton.runtime import driver

    compiled = {}

    def compile_only(name, grid, device, *args, **meta):
        compiled[name] = dispatch._compiled[name].warmup(*args, grid=grid, **dict(meta, UPCAST=False))

    monkeypatch.setattr(launch, "_launch", compile_only)
    monkeypatch.setattr(driver, "_active", _Sm90Driver())
    # DeiT-S-like: class token + 14 x 14 (L = 197), head_dim 64, iRPE cross on Q, K, V, padding and dropout.
    case = Case("sm90", 1, 2, (14, 14), 1, 64,
                (Term("Q", "cross", 1.9), Term("K", "cross", 1.9), Term("V", "cross", 1.9)), masked=True)
    leaves = [x.detach().to(dtype).requires_grad_() for x in case.leaves(torch.Generator().manual_seed(0))]
    q, k, v, logits, values = case.build(leaves)
    out = fused_attention(q, k, v, logits, values, case.mask(torch.Generator().manual_seed(0)), dropout_p=0.1)
    torch.autograd.grad(out.float().sum(), leaves)
    assert sorted(compiled) == ["backward_kv", "backward_q", "forward"]
    tried = tuning.configs_for(tuning.GPU_CONFIGS, {"Q": torch.empty(0, dtype=dtype)})
    assert len(tried) == (3 if dtype == torch.float32 else 4)
    for kernels in compiled.values():  # tensor-core MMAs for fp16/bf16; fp32 is exact ("ieee"): FMAs
        assert len(kernels) == len(tried)
        assert all(k.asm["cubin"] and ("mma" in k.asm["ptx"]) == (dtype != torch.float32) for k in kernels)


def test_every_launch_names_each_argument_of_its_kernel(monkeypatch) -> None:
    """launch.py passes arguments by name: the names it passes are exactly each kernel's parameters."""
    from triton.runtime import Autotuner

    from ablate.attention.kernels import dispatch

    passed = {}

    class Recorder:
        def __init__(self, name):
            self.name = name

        def __getitem__(self, grid):
            return lambda **arguments: passed.setdefault(self.name, set(arguments))

    monkeypatch.setattr(launch, "kernel", lambda name, device: Recorder(name))
    case = Case("names", 2, 2, (3, 3), 1, 8, (Term("Q", "product", 1.9), Term("V", "cross", 1.9)), masked=True)
    leaves = [x.detach().requires_grad_() for x in case.leaves(torch.Generator().manual_seed(0))]
    q, k, v, logits, values = case.build(leaves)
    out = fused_attention(q, k, v, logits, values, case.mask(torch.Generator().manual_seed(0)), dropout_p=0.1)
    torch.autograd.grad(out.sum(), leaves)
    dropout_keep_mask(1, 1, 1, 5, 0.1)
    assert sorted(passed) == sorted(dispatch.KERNELS)
    for name, arguments in passed.items():
        fn = dispatch._compiled[name]
        assert arguments == set((fn.fn if isinstance(fn, Autotuner) else fn).arg_names), name

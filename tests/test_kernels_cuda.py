"""The fused Triton attention compiled for a GPU, at the shapes the models use, against float64.

Skipped without CUDA. The cases and the reference are those of test_kernels.py (the CPU/interpreter tests):
DeiT-S (B 2, H 6, L 197 = class token + 14 x 14, head_dim 64, product buckets at ratio 1.9: 50 of them) with
iRPE on K, Q+K, Q+K+V, cross on Q+K+V, and bias tables; a DETR encoder (B 2, H 8, head_dim 32, a 25 x 40
feature map, L 1000, product at ratio 2.0: 81 buckets) with image padding masks. fp32, fp16 and bf16.
"""
import pytest
import torch

from ablate.attention.kernels import dispatch, draw_dropout_seed, dropout_keep_mask, fused_attention, tuning
from ablate.pe.terms import BucketLogits, BucketValues
from test_kernels import Case, Term, _TinyRPEAttention, assert_near, reference

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

DEIT = {
    "deit_k": (Term("K", "product", 1.9),),
    "deit_qk": (Term("Q", "product", 1.9), Term("K", "product", 1.9)),
    "deit_qkv": (Term("Q", "product", 1.9), Term("K", "product", 1.9), Term("V", "product", 1.9)),
    "deit_qkv_cross": (Term("Q", "cross", 1.9), Term("K", "cross", 1.9), Term("V", "cross", 1.9)),
    "deit_bias": (Term("bias_key", "product", 1.9), Term("bias", "product", 1.9)),
}
DETR = {
    "detr_k": (Term("K", "product", 2.0),),
    "detr_qk": (Term("Q", "product", 2.0), Term("K", "product", 2.0)),
    "detr_qkv": (Term("Q", "product", 2.0), Term("K", "product", 2.0), Term("V", "product", 2.0)),
}
CASES = ([Case(name, 2, 6, (14, 14), 1, 64, terms) for name, terms in DEIT.items()]
         + [Case(name, 2, 8, (25, 40), 0, 32, terms) for name, terms in DETR.items()])

# Max error relative to max(1, the largest reference entry), as in test_kernels.py, at L = 197 and 1000:
# - fp32: exact fp32 dots ("ieee"), fp32 softmax with the GPU's exp2/division (within 2 ulp), sums of up to
#   L = 1000 products: rounding grows like sqrt(1000) u ~ 2e-6, at worst 1000 u = 6e-5 -> 1e-4.
# - fp16/bf16: p and dS are rounded to the input dtype for their dots (a relative half-unit: 2^-12 and 2^-9),
#   outputs on store, and the contextual tables (q * scale) @ W^T are computed by torch in that dtype; a chain
#   of about five roundings gives 1.2e-3 (fp16) and 1e-2 (bf16); sums over many keys average rounding out
#   rather than add it up. Bounds: 1e-2 and 5e-2, what the CPU test measures with a fourfold margin.
TOLERANCES = {torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 5e-2}


def use_tiles(monkeypatch, configs: list) -> None:
    """Let the autotuner choose among these configs only (one: no timing, that one runs)."""
    for name in tuning.KEYS:
        monkeypatch.setattr(dispatch._compiled[name], "configs", configs)


@pytest.fixture(autouse=True)
def one_tile(monkeypatch):
    """The first config unless a test says otherwise: tuning every case here would compile each kernel 3-4 times."""
    use_tiles(monkeypatch, tuning.GPU_CONFIGS[:1])


def detr_padding(case: Case) -> torch.Tensor:
    """DETR-style key padding: image 0 fills the 25 x 40 map, image 1 is 20 x 30 in its top-left corner."""
    rows, cols = case.grid
    mask = torch.zeros(case.batch, rows, cols, dtype=torch.bool)
    mask[1, 20:, :] = True
    mask[1, :, 30:] = True
    return mask.reshape(case.batch, case.length).cuda()


def run_cuda(case: Case, dtype: torch.dtype, dropout_p: float = 0.0, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    leaves = [x.detach().to("cuda", dtype).requires_grad_() for x in case.leaves(generator)]
    mask = detr_padding(case) if case.grid == (25, 40) else None
    q, k, v, logits, values = case.build(leaves)
    torch.manual_seed(seed)
    out = fused_attention(q, k, v, logits, values, mask, dropout_p=dropout_p)
    keep = None
    if dropout_p > 0:
        torch.manual_seed(seed)
        keep = dropout_keep_mask(draw_dropout_seed(), case.batch, case.heads, case.length, dropout_p, "cuda")
    grad_out = torch.randn(out.shape, generator=generator, dtype=torch.float64).cuda()
    grads = torch.autograd.grad(out, leaves, grad_out.to(dtype))
    ref_leaves = [x.detach().double().requires_grad_() for x in leaves]
    ref = reference(*case.build(ref_leaves), key_padding_mask=mask, keep=keep, dropout_p=dropout_p)
    ref_grads = torch.autograd.grad(ref, ref_leaves, grad_out)
    return out, grads, ref, ref_grads, leaves


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_matches_reference_cuda(case: Case, dtype: torch.dtype) -> None:
    out, grads, ref, ref_grads, leaves = run_cuda(case, dtype)
    tol = TOLERANCES[dtype]
    assert out.dtype == dtype and out.is_cuda
    assert_near(out.float(), ref, tol, "out")
    for grad, ref_grad, leaf in zip(grads, ref_grads, leaves, strict=True):
        assert grad.dtype == leaf.dtype and grad.shape == leaf.shape
        assert_near(grad.float(), ref_grad, tol, "grad")


@pytest.mark.parametrize("config", tuning.GPU_CONFIGS[1:], ids=tuning.describe)
@pytest.mark.parametrize("case", [CASES[3], CASES[5]], ids=lambda c: c.name)
def test_every_tile_cuda(monkeypatch, case: Case, config) -> None:
    """The other tiles the autotuner may choose, bf16 (what training uses): DeiT cross on Q, K, V (every kind of
    term) and DETR's padded 1,000 tokens (many tiles a side)."""
    use_tiles(monkeypatch, [config])
    out, grads, ref, ref_grads, _ = run_cuda(case, torch.bfloat16)
    assert_near(out.float(), ref, TOLERANCES[torch.bfloat16], "out")
    for grad, ref_grad in zip(grads, ref_grads, strict=True):
        assert_near(grad.float(), ref_grad, TOLERANCES[torch.bfloat16], "grad")


def test_tiles_are_tuned_once_per_kind_cuda(monkeypatch) -> None:
    """The first call of a kind times the configs and keeps one per kernel; the next call reuses them."""
    use_tiles(monkeypatch, tuning.GPU_CONFIGS)
    before = dispatch.chosen_tiles()
    out, grads, ref, ref_grads, _ = run_cuda(CASES[3], torch.bfloat16)
    chosen = dispatch.chosen_tiles()
    assert sorted(name for name, _ in set(chosen) - set(before)) == ["backward_kv", "backward_q", "forward"]
    assert_near(out.float(), ref, TOLERANCES[torch.bfloat16], "out")
    run_cuda(CASES[3], torch.bfloat16, seed=1)
    assert dispatch.chosen_tiles() == chosen


@pytest.mark.parametrize("case", [CASES[0], CASES[3]], ids=lambda c: c.name)
def test_dropout_replays_cuda(case: Case) -> None:
    out, grads, ref, ref_grads, _ = run_cuda(case, torch.float32, dropout_p=0.1, seed=7)
    assert_near(out, ref, TOLERANCES[torch.float32], "out")
    for grad, ref_grad in zip(grads, ref_grads, strict=True):
        assert_near(grad, ref_grad, TOLERANCES[torch.float32], "grad")


def test_dropout_mask_cuda() -> None:
    keep = dropout_keep_mask(2024, 2, 6, 197, 0.1, "cuda")
    # 465708 pairs: standard deviation of the kept fraction sqrt(0.09 / 465708) = 4.4e-4; allow 7 of them.
    assert abs(keep.float().mean().item() - 0.9) < 3e-3
    # The interpreter and the GPU draw the same Philox stream.
    assert torch.equal(dropout_keep_mask(5, 1, 2, 40, 0.3, "cuda").cpu(), dropout_keep_mask(5, 1, 2, 40, 0.3))


def test_ids_dtypes_and_determinism_cuda() -> None:
    """int16/int32/int64 maps agree bitwise, and a rerun repeats bitwise (no atomics anywhere)."""
    case = CASES[3]  # DeiT cross on Q, K, V: four logit terms and two value terms
    results = []
    for dtype in (torch.int16, torch.int32, torch.int64, torch.int64):
        leaves = [x.detach().to("cuda", torch.float16).requires_grad_()
                  for x in case.leaves(torch.Generator().manual_seed(1))]
        q, k, v, logits, values = case.build(leaves)
        logits = [BucketLogits(t.table, t.ids.to("cuda", dtype), t.by) for t in logits]
        values = [BucketValues(t.table, t.ids.to("cuda", dtype)) for t in values]
        out = fused_attention(q, k, v, logits, values)
        results.append([out, *torch.autograd.grad(out.float().square().sum(), leaves)])
    for other in results[1:]:
        assert all(torch.equal(a, b) for a, b in zip(results[0], other, strict=True))


def test_torch_compile_cuda() -> None:
    torch.manual_seed(0)
    model = _TinyRPEAttention().cuda()
    x = torch.randn(2, 10, 8, device="cuda")
    eager_out = model(x)
    eager_grads = torch.autograd.grad(eager_out.square().sum(), list(model.parameters()))
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)
    out = compiled(x)
    grads = torch.autograd.grad(out.square().sum(), list(model.parameters()))
    torch.testing.assert_close(out, eager_out, rtol=1e-5, atol=1e-5)
    for grad, eager_grad in zip(grads, eager_grads, strict=True):
        torch.testing.assert_close(grad, eager_grad, rtol=1e-5, atol=1e-5)

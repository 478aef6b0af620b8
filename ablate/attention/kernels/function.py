"""fused_attention: attention with bucketed relative-position terms through the fused Triton kernels."""
from collections.abc import Sequence

import torch
from torch import Tensor

from ablate.pe.terms import BucketLogits, BucketValues

from . import ops  # noqa: F401  (registers torch.ops.ablate.*)

MAX_LOGIT_TERMS = 4
MAX_VALUE_TERMS = 2


def _kernel_ids(ids: Tensor, length: int, device: torch.device, transpose: bool) -> Tensor:
    """A bucket map as the kernels read it: contiguous int32 on `device`, transposed for a key-indexed term."""
    if ids.shape != (length, length) or ids.dtype not in (torch.int16, torch.int32, torch.int64):
        raise ValueError(f"bucket ids must be an integer ({length}, {length}) map, got {ids.dtype} "
                         f"{tuple(ids.shape)}")
    ids = ids.t() if transpose else ids
    return ids.to(device=device, dtype=torch.int32).contiguous()


def _check(q: Tensor, k: Tensor, v: Tensor, logits: Sequence[BucketLogits], values: Sequence[BucketValues],
           key_padding_mask: Tensor | None, dropout_p: float) -> None:
    if q.dim() != 4 or q.shape != k.shape or q.shape != v.shape:
        raise ValueError(f"q, k, v must share one (B, H, L, D) shape, got {tuple(q.shape)}, {tuple(k.shape)}, "
                         f"{tuple(v.shape)}")
    if q.dtype not in (torch.float32, torch.float16, torch.bfloat16) or k.dtype != q.dtype or v.dtype != q.dtype:
        raise ValueError(f"q, k, v must share one dtype of fp32, fp16, bf16, got {q.dtype}, {k.dtype}, {v.dtype}")
    if len(logits) > MAX_LOGIT_TERMS or len(values) > MAX_VALUE_TERMS:
        raise ValueError(f"at most {MAX_LOGIT_TERMS} logit and {MAX_VALUE_TERMS} value terms, "
                         f"got {len(logits)} and {len(values)}")
    batch, heads, length, head_dim = q.shape
    for term in logits:
        shape = term.table.shape
        if (len(shape) != 4 or shape[0] not in (1, batch) or shape[1] not in (1, heads)
                or shape[2] not in (1, length) or shape[3] < 1):
            raise ValueError(f"a logit table must be (B|1, H|1, L|1, buckets) = ({batch}|1, {heads}|1, "
                             f"{length}|1, NB), got {tuple(shape)}")
    for term in values:
        shape = term.table.shape
        if len(shape) != 3 or shape[0] not in (1, heads) or shape[1] < 1 or shape[2] != head_dim:
            raise ValueError(f"a value table must be (H|1, buckets, D) = ({heads}|1, NB, {head_dim}), "
                             f"got {tuple(shape)}")
    if key_padding_mask is not None and key_padding_mask.shape != (batch, length):
        raise ValueError(f"key_padding_mask must be ({batch}, {length}), got {tuple(key_padding_mask.shape)}")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p}")


def fused_attention(q: Tensor, k: Tensor, v: Tensor, logits: Sequence[BucketLogits] = (),
                    values: Sequence[BucketValues] = (), key_padding_mask: Tensor | None = None,
                    dropout_p: float = 0.0, scale: float | None = None) -> Tensor:
    """softmax(scale q k^T + logit terms, keys masked) -> dropout -> @ v + value terms; (B, H, L, D).

    The terms mean what ablate.pe.terms says. Bucket ids must lie in [0, buckets) of their table (they
    are not checked: an out-of-range id reads out of bounds). key_padding_mask (B, L), True = ignore the key;
    a query whose keys are all masked is undefined (the kernels return 0 for it and pass it no gradient).
    dropout_p is applied as given (pass 0 outside training); its seed comes from torch's global RNG.
    Differentiable in q, k, v and every table; the tables are read and differentiated in fp32.
    Runs on CUDA tensors (compiled) and on CPU tensors (Triton's interpreter: slow, for tests).
    """
    _check(q, k, v, logits, values, key_padding_mask, dropout_p)
    _, _, length, head_dim = q.shape
    scale = head_dim ** -0.5 if scale is None else float(scale)
    tables = [term.table.float().contiguous() for term in logits]
    by_key = [term.by == "key" for term in logits]
    logit_ids = [_kernel_ids(term.ids, length, q.device, key) for term, key in zip(logits, by_key)]
    value_ids = [_kernel_ids(term.ids, length, q.device, False) for term in values]
    value_buckets = [term.table.shape[-2] for term in values]
    mask = None if key_padding_mask is None else key_padding_mask.to(device=q.device, dtype=torch.bool)
    out, _, sums, _ = torch.ops.ablate.rpe_fused_attention(
        q.contiguous(), k.contiguous(), v.contiguous(), tables, logit_ids, by_key, value_ids, value_buckets,
        mask, float(dropout_p), scale)
    if not values:
        return out
    # The value terms: one (B, H, L, NB) @ (H|1, NB, D) matmul per term on the kernel's bucket sums, in fp32.
    result, offset = out.float(), 0
    for term, buckets in zip(values, value_buckets):
        result = result + sums[..., offset:offset + buckets] @ term.table.float()
        offset += buckets
    return result.to(q.dtype)

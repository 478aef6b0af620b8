"""The kernels as two torch custom ops (forward, backward), opaque to torch.compile, joined by autograd.

ablate::rpe_fused_attention(q, k, v, tables, logit_ids, by_key, value_ids, value_buckets, key_padding_mask,
                            dropout_p, scale) -> (out, lse, sums, seed)
  out   (B, H, L, D) attention @ v, in q's dtype (the value terms are added by the caller: sums @ table)
  lse   (B, H, L) fp32 log-sum-exp of the logits, for the backward
  sums  (B, H, L, sum of the value terms' buckets) fp32 per-bucket attention (after dropout)
  seed  () int64 CPU tensor: the Philox seed the dropout used (drawn from torch's global RNG inside the op,
        so eager and compiled graphs draw alike), for the backward
ablate::rpe_fused_attention_backward(...) -> (dq, dk, dv, dT_query, dT_key), see launch.backward.
Both take the id maps and tables already in kernel form (see launch.py); `by_key` and the bucket counts
are plain lists of bools and ints in the schema.
"""
from typing import Optional

import torch
from torch import Tensor

from . import launch


@torch.library.custom_op("ablate::rpe_fused_attention", mutates_args=())
def rpe_fused_attention(q: Tensor, k: Tensor, v: Tensor, tables: list[Tensor], logit_ids: list[Tensor],
                        by_key: list[bool], value_ids: list[Tensor], value_buckets: list[int],
                        key_padding_mask: Optional[Tensor], dropout_p: float,
                        scale: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    seed = launch.draw_dropout_seed() if dropout_p > 0 else 0
    out, lse, sums = launch.forward(q, k, v, tables, logit_ids, by_key, value_ids, value_buckets,
                                    key_padding_mask, dropout_p, scale, seed)
    return out, lse, sums, torch.tensor(seed, dtype=torch.int64)


@rpe_fused_attention.register_fake
def _(q, k, v, tables, logit_ids, by_key, value_ids, value_buckets, key_padding_mask, dropout_p, scale):
    batch, heads, length, _ = q.shape
    return (torch.empty_like(q), q.new_empty((batch, heads, length), dtype=torch.float32),
            q.new_empty((batch, heads, length, sum(value_buckets)), dtype=torch.float32),
            torch.empty((), dtype=torch.int64, device="cpu"))


@torch.library.custom_op("ablate::rpe_fused_attention_backward", mutates_args=())
def rpe_fused_attention_backward(dout: Tensor, dsums: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor,
                                 lse: Tensor, sums: Tensor, seed: Tensor, tables: list[Tensor],
                                 logit_ids: list[Tensor], by_key: list[bool], value_ids: list[Tensor],
                                 value_buckets: list[int], key_padding_mask: Optional[Tensor], dropout_p: float,
                                 scale: float) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    return launch.backward(dout, dsums, q, k, v, out, lse, sums, tables, logit_ids, by_key, value_ids,
                           value_buckets, key_padding_mask, dropout_p, scale, int(seed))


@rpe_fused_attention_backward.register_fake
def _(dout, dsums, q, k, v, out, lse, sums, seed, tables, logit_ids, by_key, value_ids, value_buckets,
      key_padding_mask, dropout_p, scale):
    batch, heads, length, _ = q.shape
    query = sum(t.shape[-1] for t, key in zip(tables, by_key) if not key)
    key = sum(t.shape[-1] for t, key in zip(tables, by_key) if key)
    return (torch.empty_like(q), torch.empty_like(k), torch.empty_like(v),
            q.new_empty((batch, heads, length, query), dtype=torch.float32),
            q.new_empty((batch, heads, length, key), dtype=torch.float32))


def _setup_context(ctx, inputs, output) -> None:
    q, k, v, tables, logit_ids, by_key, value_ids, value_buckets, key_padding_mask, dropout_p, scale = inputs
    out, lse, sums, seed = output
    ctx.save_for_backward(q, k, v, out, lse, sums, seed, key_padding_mask, *tables, *logit_ids, *value_ids)
    ctx.counts = len(tables), len(value_ids)
    ctx.options = by_key, value_buckets, dropout_p, scale
    ctx.mark_non_differentiable(lse, seed)


def _sum_to(grad: Tensor, shape: torch.Size) -> Tensor:
    """Sum a (B, H, L, NB) gradient over the dimensions its table broadcast over."""
    dims = [d for d in range(3) if shape[d] == 1 and grad.shape[d] != 1]
    return grad.sum(dims, keepdim=True) if dims else grad


def _backward(ctx, dout, dlse, dsums, dseed):
    q, k, v, out, lse, sums, seed, key_padding_mask, *rest = ctx.saved_tensors
    n_logit, n_value = ctx.counts
    tables, logit_ids, value_ids = rest[:n_logit], rest[n_logit:2 * n_logit], rest[2 * n_logit:]
    by_key, value_buckets, dropout_p, scale = ctx.options
    dout = torch.zeros_like(out) if dout is None else dout
    dsums = torch.zeros_like(sums) if dsums is None else dsums
    dq, dk, dv, dtq, dtk = rpe_fused_attention_backward(
        dout, dsums, q, k, v, out, lse, sums, seed, list(tables), list(logit_ids), by_key, list(value_ids),
        value_buckets, key_padding_mask, dropout_p, scale)
    dtables, offsets = [], {False: 0, True: 0}
    for table, key in zip(tables, by_key):
        buckets = table.shape[-1]
        grad = (dtk if key else dtq)[..., offsets[key]:offsets[key] + buckets]
        offsets[key] += buckets
        dtables.append(_sum_to(grad, table.shape))
    # One entry per input (q, k, v, tables, logit_ids, by_key, value_ids, value_buckets, key_padding_mask,
    # dropout_p, scale), a list for every list[Tensor]; torch takes an empty list of any type for one too.
    plain = [] if not by_key else None
    return (dq, dk, dv, dtables, [None] * n_logit, plain, [None] * n_value, [] if not value_buckets else None,
            None, None, None)


rpe_fused_attention.register_autograd(_backward, setup_context=_setup_context)

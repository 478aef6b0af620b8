"""FlexAttention with a score_mod that reads the per-bucket tables: never builds an L x L term.

torch has no FlexAttention backward on CPU, so there it evaluates only; it has no attention dropout;
V terms need the probabilities, which it does not return, so with V terms it takes the eager route.
"""
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.attention.flex_attention import flex_attention

from ablate.attention.backends import eager
from ablate.attention.compiler import quiet_cuda_probe
from ablate.pe.terms import BucketLogits, BucketValues

_compiled = None


def attention(q: Tensor, k: Tensor, v: Tensor, logits: list[BucketLogits], values: list[BucketValues],
              key_padding_mask: Tensor | None, dropout_p: float, scale: float) -> Tensor:
    """Fused attention whose score_mod adds each term's table entry for the pair."""
    global _compiled
    if values:
        return eager.attention(q, k, v, logits, values, key_padding_mask, dropout_p, scale)
    if dropout_p > 0:
        raise ValueError("the flex backend has no attention dropout: use backend 'sdpa' or 'eager'")
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in [q, k, v] + [t.table for t in logits])
    if q.device.type == "cpu" and needs_grad:
        raise ValueError("the flex backend has no backward pass on CPU (a torch limit): use 'sdpa' to train")
    if not needs_grad:
        # torch refuses CPU inputs that merely carry requires_grad, even under no_grad.
        q, k, v = q.detach(), k.detach(), v.detach()
        logits = [BucketLogits(t.table.detach(), t.ids, t.by) for t in logits]
    batch, heads, length, _ = q.shape
    tables = [(t.table.expand(batch, heads, length, t.table.shape[-1]).contiguous(), t.ids.long(), t.by == "query")
              for t in logits]
    # torch's compiled CPU kernel returns wrong values when L % 16 == 8 (seen with head_dim 8 and 16, L = 8, 24,
    # 40, 200): pad the sequence to a multiple of 16 with masked keys (bucket 0) and drop the padded queries.
    pad = -length % 16 if q.device.type == "cpu" else 0
    if pad:
        if key_padding_mask is None:
            key_padding_mask = torch.zeros(batch, length, dtype=torch.bool, device=q.device)
        key_padding_mask = F.pad(key_padding_mask, (0, pad), value=True)
        q, k, v = (F.pad(t, (0, 0, 0, pad)) for t in (q, k, v))
        tables = [(F.pad(t, (0, 0, 0, pad)), F.pad(ids, (0, pad, 0, pad)), by_query) for t, ids, by_query in tables]

    def score_mod(score, b, h, qi, ki):
        for table, ids, by_query in tables:
            score = score + (table[b, h, qi, ids[qi, ki]] if by_query else table[b, h, ki, ids[ki, qi]])
        if key_padding_mask is not None:
            score = torch.where(key_padding_mask[b, ki], float("-inf"), score)
        return score

    if _compiled is None:
        quiet_cuda_probe()
        _compiled = torch.compile(flex_attention, dynamic=False)
    run = _outside_compile if q.device.type == "cpu" else _compiled
    return run(q, k, v, score_mod=score_mod, scale=scale)[:, :, :length]


@torch.compiler.disable
def _outside_compile(*args: object, **kwargs: object) -> Tensor:
    """FlexAttention compiled on its own: inside an enclosing torch.compile, inductor's CPU lowering of it fails
    (torch 2.14: no template choice), so on a CPU a compiled model calls out to it."""
    return _compiled(*args, **kwargs)

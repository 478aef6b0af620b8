"""torch's scaled_dot_product_attention with the logit terms gathered into one float mask.

SDPA fuses softmax and A @ V but returns no probabilities, which V terms need: with V terms this backend
takes the eager route (the V terms are still summed per bucket, never as an (L, L, head_dim) tensor).
On a CPU, torch has no fused kernel for a mask that needs a gradient (trained iRPE, bias tables): it runs
its unfused math path, which is eager's plus a -inf-safe softmax (three more passes over the logits), so
such a call takes the eager route too.
"""
import torch
import torch.nn.functional as F
from torch import Tensor

from ablate.attention.backends import eager
from ablate.pe.terms import BucketLogits, BucketValues


def padding_bias(key_padding_mask: Tensor, dtype: torch.dtype) -> Tensor:
    """(B, 1, 1, L) additive mask: -inf on padded keys."""
    bias = torch.zeros(key_padding_mask.shape, dtype=dtype, device=key_padding_mask.device)
    return bias.masked_fill(key_padding_mask, float("-inf"))[:, None, None, :]


def attention(q: Tensor, k: Tensor, v: Tensor, logits: list[BucketLogits], values: list[BucketValues],
              key_padding_mask: Tensor | None, dropout_p: float, scale: float) -> Tensor:
    """Fused attention with the terms (and padding) as an additive mask."""
    if values or (q.device.type == "cpu" and any(term.table.requires_grad for term in logits)):
        return eager.attention(q, k, v, logits, values, key_padding_mask, dropout_p, scale)
    mask = eager.summed_logits(logits)
    if key_padding_mask is not None:
        padding = padding_bias(key_padding_mask, q.dtype)
        mask = padding if mask is None else mask + padding
    if mask is not None:
        mask = mask.to(q.dtype)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, scale=scale)

"""The fused Triton kernels (ablate.attention.kernels): flash-style attention reading every term by bucket, forward and
backward, with no (B, heads, L, L) tensor in memory. Compiled on CUDA; on CPU they run through Triton's
interpreter (exact, slow: for tests). At most 4 logit and 2 value terms per layer (iRPE on Q and K with the
cross method is 4)."""
from torch import Tensor

from ablate.attention.kernels import fused_attention
from ablate.pe.terms import BucketLogits, BucketValues


def attention(q: Tensor, k: Tensor, v: Tensor, logits: list[BucketLogits], values: list[BucketValues],
              key_padding_mask: Tensor | None, dropout_p: float, scale: float) -> Tensor:
    """Fused attention with every term inside the kernels."""
    return fused_attention(q, k, v, logits, values, key_padding_mask, dropout_p, scale)

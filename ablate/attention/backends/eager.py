"""The reference backend: materialised logits with every term added, softmax, dropout, A @ V plus V terms."""
import torch.nn.functional as F
from torch import Tensor

from ablate.pe.terms import BucketLogits, BucketValues, gather_logits, value_term


def summed_logits(logits: list[BucketLogits]) -> Tensor | None:
    """The logit terms as one tensor broadcastable to (B, heads, L, L), summed in order; None without terms."""
    total: Tensor | None = None
    for term in logits:
        gathered = gather_logits(term)
        total = gathered if total is None else total + gathered
    return total


def attention(q: Tensor, k: Tensor, v: Tensor, logits: list[BucketLogits], values: list[BucketValues],
              key_padding_mask: Tensor | None, dropout_p: float, scale: float) -> Tensor:
    """softmax(s q k^T + terms, masked) with dropout, times v, plus the V terms of the same probabilities."""
    # The logits are a fresh product, which no backward reads: terms and mask go in place (on a CPU an (L, L)
    # pass less to allocate and write), unless the dtypes differ (autocast: the sum takes the wider one).
    scores = (q * scale) @ k.transpose(-2, -1)
    terms = summed_logits(logits)
    if terms is not None:
        scores = scores.add_(terms) if terms.dtype == scores.dtype else scores + terms
    if key_padding_mask is not None:
        scores = scores.masked_fill_(key_padding_mask[:, None, None, :], float("-inf"))
    attn = F.dropout(scores.softmax(dim=-1), p=dropout_p, training=dropout_p > 0)
    out = attn @ v
    for term in values:
        out = out + value_term(attn, term)
    return out

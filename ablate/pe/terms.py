"""What a relative position encoding adds to attention, in the one form every backend executes.

Every relative encoding here (iRPE in both modes, the paper's baselines, bias tables, ALiBi) is a table
read by a bucket id per (query, key) pair:

- BucketLogits: logit[b, h, i, j] += table[b, h, r, ids[r, c]], with (r, c) = (i, j) when the table is
  indexed by the query (iRPE on K) and (j, i) when by the key (iRPE on Q). Size-1 batch, head and row
  dimensions broadcast: a bias table is (1, heads, 1, buckets), a contextual one (B, heads, L, buckets).
- BucketValues: out[b, h, i] += sum_j attn[b, h, i, j] * table[h, ids[i, j]], attn after softmax and
  dropout (iRPE on V); table is (1 or heads, buckets, head_dim).

The ids are one (L, L) map per grid, shared by batch and heads, so no backend needs a per-pair tensor
wider than the logits themselves, and a fused kernel needs none at all.
"""
from typing import NamedTuple

import torch
from torch import Tensor


# NamedTuples rather than dataclasses: TorchScript compiles them, so a scripted model builds and reads its terms.
class BucketLogits(NamedTuple):
    """An additive logit term read from a per-bucket table (see the module docstring)."""

    table: Tensor  # (B|1, heads|1, L|1, buckets)
    ids: Tensor  # (L, L) integer bucket ids
    by: str = "query"  # "query": row i, ids[i, j];  "key": row j, ids[j, i]


class BucketValues(NamedTuple):
    """An output term: the attention summed per bucket, times a per-bucket value table."""

    table: Tensor  # (heads|1, buckets, head_dim)
    ids: Tensor  # (L, L) integer bucket ids


def gather_logits(term: BucketLogits) -> Tensor:
    """The term as a (B|1, heads|1, L, L) tensor (what the eager and SDPA backends add to the logits)."""
    if term.by != "query" and term.by != "key":
        raise ValueError(f"BucketLogits.by={term.by}: expected query or key")
    table, ids = term.table, term.ids.long()
    length = ids.shape[0]
    if table.shape[2] == 1:  # no row dimension (a bias table): select along the bucket axis
        # index_select on a (rows, buckets) view: on a CPU about 8x faster, forward and backward, than advanced
        # indexing behind slices (table[:, :, 0][:, :, ids]), whose backward is a slow accumulating index_put.
        batch, heads = table.shape[:2]
        out = table.reshape(batch * heads, -1).index_select(1, ids.view(-1)).view(batch, heads, length, length)
    else:
        out = torch.gather(table, -1, ids.expand(table.shape[0], table.shape[1], length, length))
    return out if term.by == "query" else out.transpose(-2, -1)


def aggregate_by_bucket(attn: Tensor, ids: Tensor, buckets: int) -> Tensor:
    """(B, heads, L, buckets): for each query, the sum of its attention over the keys of each bucket."""
    batch, heads, length, _ = attn.shape
    out = attn.new_zeros(batch, heads, length, buckets)
    return out.scatter_add_(-1, ids.long().expand(batch, heads, length, length), attn)


def value_term(attn: Tensor, term: BucketValues) -> Tensor:
    """The (B, heads, L, head_dim) output of a BucketValues term for attention probabilities attn."""
    return aggregate_by_bucket(attn, term.ids, term.table.shape[-2]) @ term.table.unsqueeze(0)

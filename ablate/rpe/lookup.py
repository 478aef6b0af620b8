"""Lookup-table modules of one attention site (Q, K or V), with the authors' names and call contract.

A Q/K site adds a (B, heads, L, L) term to the attention logits; a V site adds a (B, heads, L, head_dim)
term to the output. Contextual Q/K first multiplies the input by the table once per bucket
(B*heads*L*buckets work, paper Eq. 26) and then gathers per pair, so no (L, L, head_dim) tensor exists.
Contextual V sums the attention of each query per bucket (scatter-add) and multiplies once by the table.
"""
import math

import torch
from torch import Tensor, nn

from ablate.rpe.buckets import allocated_buckets, bucket_map
from ablate.rpe.config import RPEConfig


def resolve_grid(length: int, height: int | None, width: int | None, skip: int) -> tuple[int, int]:
    """The (H, W) grid of a sequence; without H and W only a square grid can be inferred."""
    if height is None and width is None:
        side = math.isqrt(max(length - skip, 0))
        if side * side != length - skip:
            raise ValueError(f"cannot infer the grid: L={length} minus skip={skip} is not a square; "
                             "pass height and width")
        height = width = side
    if height is None or width is None or length != skip + height * width:
        raise ValueError(f"sequence length L={length} does not match the grid: expected "
                         f"skip + H*W = {skip} + {height}*{width}")
    return height, width


class iRPE(nn.Module):
    """One lookup table of one site: Q/K (transposed=True) or V (transposed=False)."""

    def __init__(self, head_dim: int, num_heads: int, mode: str, method: str, transposed: bool,
                 ratio: float, index: str = "piecewise", skip: int = 0) -> None:
        super().__init__()
        if mode == "bias" and not transposed:
            raise ValueError("invalid RPE mode='bias' on V: bias mode exists only for Q and K")
        self.head_dim, self.num_heads = head_dim, num_heads
        self.mode, self.method, self.transposed = mode, method, transposed
        self.ratio, self.index, self.skip = ratio, index, skip
        self.num_buckets = allocated_buckets(method, ratio, skip)
        if mode == "bias":
            self.lookup_table_bias = nn.Parameter(torch.zeros(num_heads, self.num_buckets))
        elif transposed:
            self.lookup_table_weight = nn.Parameter(torch.zeros(num_heads, head_dim, self.num_buckets))
        else:
            self.lookup_table_weight = nn.Parameter(torch.zeros(num_heads, self.num_buckets, head_dim))

    def extra_repr(self) -> str:
        return (f"mode={self.mode}, method={self.method}, ratio={self.ratio}, index={self.index}, "
                f"heads={self.num_heads}, buckets={self.num_buckets}, skip={self.skip}")

    def bucket_ids(self, length: int, height: int | None, width: int | None, device: torch.device) -> Tensor:
        """(L, L) bucket ids for this sequence length and grid."""
        height, width = resolve_grid(length, height, width, self.skip)
        return bucket_map(self.method, self.ratio, height, width, self.skip, self.index, device)

    def table(self, x: Tensor) -> Tensor:
        """Per-bucket values: (1, heads, 1, buckets) for bias, (B, heads, L, buckets) for contextual Q/K."""
        if self.mode == "bias":
            return self.lookup_table_bias[None, :, None, :]
        return x @ self.lookup_table_weight.unsqueeze(0)

    def forward(self, x: Tensor, height: int | None = None, width: int | None = None) -> Tensor:
        """Q/K: the (B, heads, L, L) logit term of scaled x. V: the (B, heads, L, head_dim) output term."""
        ids = self.bucket_ids(x.shape[-2], height, width, x.device)
        if not self.transposed:
            return aggregate_by_bucket(x, ids, self.num_buckets) @ self.lookup_table_weight.unsqueeze(0)
        return gather_pairs(self.table(x), ids)


class iRPECross(nn.Module):
    """The cross method: a row-offset table and a column-offset table whose terms add up."""

    def __init__(self, head_dim: int, num_heads: int, mode: str, transposed: bool, ratio: float,
                 index: str = "piecewise", skip: int = 0) -> None:
        super().__init__()
        self.rp_rows = iRPE(head_dim, num_heads, mode, "cross_rows", transposed, ratio, index, skip)
        self.rp_cols = iRPE(head_dim, num_heads, mode, "cross_cols", transposed, ratio, index, skip)

    @property
    def parts(self) -> tuple[iRPE, iRPE]:
        """The per-axis tables."""
        return self.rp_rows, self.rp_cols

    def forward(self, x: Tensor, height: int | None = None, width: int | None = None) -> Tensor:
        """Sum of the row and column terms (same shapes as iRPE.forward)."""
        return self.rp_rows(x, height, width) + self.rp_cols(x, height, width)


def site_parts(site: nn.Module) -> tuple[iRPE, ...]:
    """The lookup tables of a site: one, or two for cross."""
    return site.parts if isinstance(site, iRPECross) else (site,)


def gather_pairs(table: Tensor, ids: Tensor) -> Tensor:
    """term[b, h, i, j] = table[b, h, i, ids[i, j]], broadcasting size-1 batch/head/query dims."""
    batch, heads = table.shape[0], table.shape[1]
    length = ids.shape[0]
    if table.shape[2] == 1:
        # Bias tables have no query dim: index the bucket axis directly, (1|B, heads, L, L).
        return table[:, :, 0, :][:, :, ids]
    return torch.gather(table, -1, ids.expand(batch, heads, length, length))


def aggregate_by_bucket(attn: Tensor, ids: Tensor, num_buckets: int) -> Tensor:
    """(B, heads, L, buckets): for each query, the sum of its attention over the keys of each bucket."""
    batch, heads, length, _ = attn.shape
    out = attn.new_zeros(batch, heads, length, num_buckets)
    return out.scatter_add_(-1, ids.expand(batch, heads, length, length), attn)


def _site(config: RPEConfig, head_dim: int, num_heads: int, transposed: bool) -> nn.Module:
    heads = 1 if config.shared_head else num_heads
    if config.method == "cross":
        return iRPECross(head_dim, heads, config.mode, transposed, config.ratio, config.index, config.skip)
    return iRPE(head_dim, heads, config.mode, config.method, transposed, config.ratio, config.index,
                config.skip)


def build_rpe(config: RPEConfig | None, head_dim: int, num_heads: int
              ) -> tuple[nn.Module | None, nn.Module | None, nn.Module | None]:
    """(rpe_q, rpe_k, rpe_v) for a config, None where a site is unused (all None for no config)."""
    if config is None:
        return None, None, None
    return tuple(_site(config, head_dim, num_heads, transposed=s != "v") if s in config.rpe_on else None
                 for s in "qkv")

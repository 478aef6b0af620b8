"""iRPE's lookup tables, one module per attention site (Q, K or V), with the authors' names and call contract.

As an encoding (ablate.pe.interface), a K site adds s * q_i . W[:, bkt(i, j)] to the logits: the table
(q * s) @ W (B, heads, L, buckets) read by bucket (paper Eq. 26, no (L, L, head_dim) tensor); a Q site
adds s * k_j . W[:, bkt(j, i)] (the same map, read by the key); bias mode reads a per-head table; a V
site adds sum_j a_ij W[bkt(i, j)] to the output. Called directly, as in the authors' code, a Q/K site
returns the (B, heads, L, L) logit term of its scaled input and a V site the (B, heads, L, head_dim)
output term of the attention it is given.
"""
import math

import torch
from torch import Tensor, nn

from ablate.rpe.buckets import allocated_buckets, bucket_map, compute_bucket_map
from ablate.rpe.config import RPEConfig
from ablate.pe.interface import AttentionEncoding, Grid
from ablate.pe.terms import BucketLogits, BucketValues, gather_logits, value_term

SITES = ("q", "k", "v")


def resolve_grid(length: int, height: int | None, width: int | None, prefix: int) -> Grid:
    """The grid of a sequence; without H and W only a square grid can be inferred (as the authors' code does)."""
    if height is None and width is None:
        side = math.isqrt(max(length - prefix, 0))
        if side * side != length - prefix:
            raise ValueError(f"cannot infer the grid: L={length} minus prefix={prefix} is not a square; "
                             "pass height and width")
        height = width = side
    if height is None or width is None:
        raise ValueError("pass both height and width, or neither")
    grid = Grid(height, width, prefix)
    grid.check(length)
    return grid


class iRPE(AttentionEncoding):
    """One lookup table of one site: Q/K (transposed=True) or V (transposed=False)."""

    def __init__(self, head_dim: int, num_heads: int, mode: str, method: str, transposed: bool,
                 ratio: float, index: str = "piecewise", prefix: int = 0, site: str | None = None) -> None:
        super().__init__()
        if mode == "bias" and not transposed:
            raise ValueError("invalid RPE mode='bias' on V: bias mode exists only for Q and K")
        self.head_dim, self.num_heads = head_dim, num_heads
        self.mode, self.method, self.transposed = mode, method, transposed
        self.ratio, self.index, self.prefix = ratio, index, prefix
        self.site = site or ("k" if transposed else "v")
        self.num_buckets = allocated_buckets(method, ratio, prefix)
        if mode == "bias":
            self.lookup_table_bias = nn.Parameter(torch.zeros(num_heads, self.num_buckets))
        elif transposed:
            self.lookup_table_weight = nn.Parameter(torch.zeros(num_heads, head_dim, self.num_buckets))
        else:
            self.lookup_table_weight = nn.Parameter(torch.zeros(num_heads, self.num_buckets, head_dim))

    def extra_repr(self) -> str:
        return (f"site={self.site}, mode={self.mode}, method={self.method}, ratio={self.ratio}, index={self.index}, "
                f"heads={self.num_heads}, buckets={self.num_buckets}, prefix={self.prefix}")

    def bucket_ids(self, grid: Grid, device: torch.device) -> Tensor:
        """(L, L) bucket ids of the grid (cached per grid and device)."""
        if grid.prefix != self.prefix:
            raise ValueError(f"this iRPE table was built for {self.prefix} prefix tokens, "
                             f"the sequence has {grid.prefix}")
        if torch.jit.is_scripting():  # TorchScript has no cache: compute the map
            return compute_bucket_map(self.method, self.ratio, grid.height, grid.width, self.prefix, self.index,
                                      device)
        return bucket_map(self.method, self.ratio, grid.height, grid.width, self.prefix, self.index, device)

    def table(self, x: Tensor) -> Tensor:
        """Per-bucket values: (1, heads, 1, buckets) for bias, (B, heads, L, buckets) for contextual Q/K."""
        # hasattr, not self.mode: TorchScript compiles only the branch whose table this module has.
        if hasattr(self, "lookup_table_bias"):
            return self.lookup_table_bias[None, :, None, :]
        return x @ self.lookup_table_weight.unsqueeze(0)

    def logits(self, q: Tensor, k: Tensor, grid: Grid) -> list[BucketLogits]:
        """The K site reads its table by query, the Q site by key (each from its scaled input)."""
        if self.site == "v":
            return []
        x = q if self.site == "k" else k
        ids = self.bucket_ids(grid, x.device)
        table = self.table(x) if self.mode == "bias" else self.table(x * x.shape[-1] ** -0.5)  # bias: x unused
        return [BucketLogits(table, ids, "query" if self.site == "k" else "key")]

    def values(self, grid: Grid) -> list[BucketValues]:
        """The V site's table, summed per bucket by the attention."""
        # A bias table (Q or K only) has no lookup_table_weight: hasattr keeps TorchScript off the last line.
        if self.site != "v" or not hasattr(self, "lookup_table_weight"):
            return []
        return [BucketValues(self.lookup_table_weight, self.bucket_ids(grid, self.lookup_table_weight.device))]

    @torch.jit.unused  # the authors' call contract; models call logits() and values()
    def forward(self, x: Tensor, height: int | None = None, width: int | None = None) -> Tensor:
        """Q/K: the (B, heads, L, L) logit term of scaled x. V: the (B, heads, L, head_dim) output term."""
        grid = resolve_grid(x.shape[-2], height, width, self.prefix)
        ids = self.bucket_ids(grid, x.device)
        if not self.transposed:
            return value_term(x, BucketValues(self.lookup_table_weight, ids))
        return gather_logits(BucketLogits(self.table(x), ids))


class iRPECross(AttentionEncoding):
    """The cross method: a row-offset table and a column-offset table whose terms add up."""

    __jit_unused_properties__ = ["parts"]  # a tuple of modules, which TorchScript cannot type

    def __init__(self, head_dim: int, num_heads: int, mode: str, transposed: bool, ratio: float,
                 index: str = "piecewise", prefix: int = 0, site: str | None = None) -> None:
        super().__init__()
        self.rp_rows = iRPE(head_dim, num_heads, mode, "cross_rows", transposed, ratio, index, prefix, site)
        self.rp_cols = iRPE(head_dim, num_heads, mode, "cross_cols", transposed, ratio, index, prefix, site)

    @property
    def parts(self) -> tuple[iRPE, iRPE]:
        """The per-axis tables."""
        return self.rp_rows, self.rp_cols

    def logits(self, q: Tensor, k: Tensor, grid: Grid) -> list[BucketLogits]:
        """Both axes' terms."""
        return self.rp_rows.logits(q, k, grid) + self.rp_cols.logits(q, k, grid)

    def values(self, grid: Grid) -> list[BucketValues]:
        """Both axes' terms."""
        return self.rp_rows.values(grid) + self.rp_cols.values(grid)

    @torch.jit.unused  # the authors' call contract; models call logits() and values()
    def forward(self, x: Tensor, height: int | None = None, width: int | None = None) -> Tensor:
        """Sum of the row and column terms (same shapes as iRPE.forward)."""
        return self.rp_rows(x, height, width) + self.rp_cols(x, height, width)


def site_parts(site: nn.Module) -> tuple[iRPE, ...]:
    """The lookup tables of a site: one, or two for cross."""
    return site.parts if isinstance(site, iRPECross) else (site,)


def _site(config: RPEConfig, head_dim: int, num_heads: int, site: str) -> AttentionEncoding:
    heads = 1 if config.shared_head else num_heads
    transposed = site != "v"
    if config.method == "cross":
        return iRPECross(head_dim, heads, config.mode, transposed, config.ratio, config.index, config.prefix, site)
    return iRPE(head_dim, heads, config.mode, config.method, transposed, config.ratio, config.index,
                config.prefix, site)


def build_rpe(config: RPEConfig | None, head_dim: int, num_heads: int
              ) -> tuple[AttentionEncoding | None, AttentionEncoding | None, AttentionEncoding | None]:
    """(rpe_q, rpe_k, rpe_v) for a config, None where a site is unused (all None for no config)."""
    if config is None:
        return None, None, None
    return tuple(_site(config, head_dim, num_heads, s) if s in config.rpe_on else None for s in SITES)

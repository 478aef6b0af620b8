"""The paper's baseline RPEs (its Table 5), adapted to 2D as the paper did, as encodings of the one attention.

Offsets are bucketed with the product mapping and the clip index, one table shared by all heads
(ratio 1.9: offsets -3..3 per axis, 7x7 buckets + 1 for prefix tokens). Definitions, with e_ij the logit
before the 1/sqrt(d) scale s (paper-tables.md); each term below is handed to the backend times s:
- shaw:   e_ij = q_i . (k_j + pK[ij]),   z_i = sum_j a_ij (v_j + pV[ij])  -- contextual iRPE on K and V
- txl:    e_ij = (q_i + u) . k_j + (q_i + v) . R[ij],  R = S W^R, S a fixed sinusoid of the 2D offset
- huang:  e_ij = (q_i + p_ij) . (k_j + p_ij) - p_ij . p_ij = q_i . k_j + q_i . p_ij + p_ij . k_j
- sasa:   e_ij = q_i . (k_j + concat(r[d_row], c[d_col])), r and c each of length d/2
"""
import torch
from torch import Tensor, nn

from ablate.rpe.buckets import allocated_buckets, bucket_map, compute_bucket_map
from ablate.rpe.config import RPEConfig
from ablate.pe.interface import AttentionEncoding, Grid, ModelEncoding
from ablate.rpe.lookup import build_rpe
from ablate.pe.terms import BucketLogits, BucketValues

RATIO = 1.9


class Baseline(AttentionEncoding):
    """A baseline built for a number of prefix tokens; its offsets are clip-indexed buckets of the grid."""

    def __init__(self, head_dim: int, prefix: int) -> None:
        super().__init__()
        self.head_dim, self.prefix = head_dim, prefix
        self.ratio = RATIO  # an attribute: TorchScript reads no global floats

    def bucket_ids(self, method: str, grid: Grid, device: torch.device) -> Tensor:
        """(L, L) clip-index bucket ids of the grid."""
        if grid.prefix != self.prefix:
            raise ValueError(f"this baseline was built for {self.prefix} prefix tokens, the sequence has "
                             f"{grid.prefix}")
        if torch.jit.is_scripting():  # TorchScript has no cache: compute the map
            return compute_bucket_map(method, self.ratio, grid.height, grid.width, self.prefix, "clip", device)
        return bucket_map(method, self.ratio, grid.height, grid.width, self.prefix, "clip", device)


class TransformerXL(Baseline):
    """Transformer-XL: global content bias u, global position bias v, R = S W^R per 2D offset."""

    def __init__(self, head_dim: int, prefix: int = 0) -> None:
        super().__init__(head_dim, prefix)
        self.u = nn.Parameter(torch.zeros(1, 1, 1, head_dim))
        self.v = nn.Parameter(torch.zeros(1, 1, 1, head_dim))
        self.w_r = nn.Linear(head_dim, head_dim, bias=False)
        self.register_buffer("sinusoid", offset_sinusoid(head_dim, prefix), persistent=False)

    def logits(self, q: Tensor, k: Tensor, grid: Grid) -> list[BucketLogits]:
        """s u . k_j, the same for every query (one bucket read by key), and s (q_i + v) . R[ij]."""
        scale = self.head_dim ** -0.5
        ids = self.bucket_ids("product", grid, q.device)
        content = (k @ self.u.transpose(-2, -1)) * scale
        return [BucketLogits(content, torch.zeros_like(ids), "key"),
                BucketLogits(((q + self.v) @ self.w_r(self.sinusoid).t()) * scale, ids, "query")]


class Huang(Baseline):
    """Huang et al.: one embedding p_ij shared by queries and keys."""

    def __init__(self, head_dim: int, prefix: int = 0) -> None:
        super().__init__(head_dim, prefix)
        self.lookup_table_weight = nn.Parameter(torch.zeros(1, head_dim, allocated_buckets("product", RATIO, prefix)))

    def logits(self, q: Tensor, k: Tensor, grid: Grid) -> list[BucketLogits]:
        """s q_i . p_ij (read by query) and s k_j . p_ij (read by key at the pair's own bucket, hence ids^T)."""
        scale = self.head_dim ** -0.5
        ids = self.bucket_ids("product", grid, q.device)
        return [BucketLogits((q * scale) @ self.lookup_table_weight, ids, "query"),
                BucketLogits((k * scale) @ self.lookup_table_weight, ids.t(), "key")]


class SASA(Baseline):
    """SASA: half of each key gets a row-offset embedding, the other half a column-offset one."""

    def __init__(self, head_dim: int, prefix: int = 0) -> None:
        if head_dim % 2:
            raise ValueError(f"SASA needs an even head_dim, got {head_dim}")
        super().__init__(head_dim, prefix)
        buckets = allocated_buckets("cross_rows", RATIO, prefix)
        self.rows = nn.Parameter(torch.zeros(1, head_dim // 2, buckets))
        self.cols = nn.Parameter(torch.zeros(1, head_dim // 2, buckets))

    def logits(self, q: Tensor, k: Tensor, grid: Grid) -> list[BucketLogits]:
        """s q_i[:d/2] . r[d_row] and s q_i[d/2:] . c[d_col], both read by query."""
        half, scale = self.head_dim // 2, self.head_dim ** -0.5
        return [BucketLogits((q[..., :half] * scale) @ self.rows, self.bucket_ids("cross_rows", grid, q.device)),
                BucketLogits((q[..., half:] * scale) @ self.cols, self.bucket_ids("cross_cols", grid, q.device))]


def offset_sinusoid(dim: int, prefix: int) -> Tensor:
    """(buckets, dim) fixed encoding of each product bucket's (row, col) offset; zeros for the prefix bucket."""
    b = int(2 * RATIO)
    offsets = torch.arange(-b, b + 1, dtype=torch.float64)
    rows, cols = offsets.repeat_interleave(2 * b + 1), offsets.repeat(2 * b + 1)
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / max(quarter, 1))
    parts = [f(axis[:, None] * omega) for axis in (rows, cols) for f in (torch.sin, torch.cos)]
    table = torch.cat(parts, dim=1)
    table = torch.nn.functional.pad(table, (0, dim - table.shape[1]))
    if prefix > 0:
        table = torch.cat([table, table.new_zeros(1, dim)])
    return table.float()


def shaw_config(prefix: int = 0) -> RPEConfig:
    """Shaw's RPE is iRPE's contextual product on K and V with the clip index, one shared table per site."""
    return RPEConfig(method="product", mode="contextual", ratio=RATIO, shared_head=True, rpe_on="kv",
                     index="clip", prefix=prefix)


class Shaw(AttentionEncoding):
    """Shaw et al.: iRPE sites on K and V (saved as the attention's rpe_k and rpe_v, as iRPE's are)."""

    def __init__(self, head_dim: int, num_heads: int, prefix: int = 0) -> None:
        super().__init__()
        _, self.rpe_k, self.rpe_v = build_rpe(shaw_config(prefix), head_dim, num_heads)

    def logits(self, q: Tensor, k: Tensor, grid: Grid) -> list[BucketLogits]:
        """The K site's term."""
        return self.rpe_k.logits(q, k, grid)

    def values(self, grid: Grid) -> list[BucketValues]:
        """The V site's term."""
        return self.rpe_v.values(grid)


def build(name: str, dim: int, num_heads: int, depth: int, prefix: int, grid: tuple[int, int]) -> ModelEncoding:
    """The named baseline in every layer."""
    head_dim = dim // num_heads
    make = {"shaw": lambda: Shaw(head_dim, num_heads, prefix), "txl": lambda: TransformerXL(head_dim, prefix),
            "huang": lambda: Huang(head_dim, prefix), "sasa": lambda: SASA(head_dim, prefix)}
    return ModelEncoding([make[name]() for _ in range(depth)])

"""The paper's baseline RPEs (its Table 5), adapted to 2D as the paper did.

Offsets are bucketed with the product mapping and the clip index, one table shared by all heads
(ratio 1.9: offsets -3..3 per axis, 7x7 buckets + 1 for prefix tokens). Definitions, with e_ij the logit
before the 1/sqrt(d) scale (paper-tables.md):
- shaw:   e_ij = q_i . (k_j + pK[ij]),   z_i = sum_j a_ij (v_j + pV[ij])  -- contextual iRPE on K and V
- txl:    e_ij = (q_i + u) . k_j + (q_i + v) . R[ij],  R = S W^R, S a fixed sinusoid of the 2D offset
- huang:  e_ij = (q_i + p_ij) . (k_j + p_ij) - p_ij . p_ij = q_i . k_j + q_i . p_ij + p_ij . k_j
- sasa:   e_ij = q_i . (k_j + concat(r[d_row], c[d_col])), r and c each of length d/2
"""

import torch
from torch import Tensor, nn

from ablate.rpe.attention import RPEAttention
from ablate.rpe.buckets import allocated_buckets, bucket_map
from ablate.rpe.config import RPEConfig
from ablate.rpe.lookup import gather_pairs, resolve_grid

BASELINES = ("shaw", "txl", "huang", "sasa")
RATIO = 1.9


class BaselineAttention(nn.Module):
    """Self-attention (timm Attention interface) whose logits get a baseline RPE term."""

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = False, attn_drop: float = 0.0,
                 proj_drop: float = 0.0, skip: int = 0, **timm_kwargs: object) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        self.num_heads, self.head_dim, self.skip = num_heads, dim // num_heads, skip
        self.grid: tuple[int, int] | None = None
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def bucket_ids(self, method: str, length: int, device: torch.device) -> Tensor:
        """(L, L) clip-index bucket ids of the current grid."""
        height, width = self.grid if self.grid is not None else (None, None)
        height, width = resolve_grid(length, height, width, self.skip)
        return bucket_map(method, RATIO, height, width, self.skip, "clip", device)

    def logit_term(self, q: Tensor, k: Tensor) -> Tensor:
        """The baseline's (B, heads, L, L) addition to e_ij (before the 1/sqrt(d) scale)."""
        raise NotImplementedError

    def forward(self, x: Tensor, attn_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        """(B, L, dim) -> (B, L, dim)."""
        if attn_mask is not None or is_causal:
            raise ValueError("baseline RPE attention takes no attn_mask/is_causal")
        batch, length, dim = x.shape
        q, k, v = self.qkv(x).reshape(batch, length, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        logits = (q @ k.transpose(-2, -1) + self.logit_term(q, k)) * self.head_dim ** -0.5
        attn = self.attn_drop(logits.softmax(dim=-1))
        out = (attn @ v).transpose(1, 2).reshape(batch, length, dim)
        return self.proj_drop(self.proj(out))


class TransformerXLAttention(BaselineAttention):
    """Transformer-XL: global content bias u, global position bias v, R = S W^R per 2D offset."""

    def __init__(self, dim: int, num_heads: int = 8, skip: int = 0, **kwargs: object) -> None:
        super().__init__(dim, num_heads, skip=skip, **kwargs)
        self.u = nn.Parameter(torch.zeros(1, 1, 1, self.head_dim))
        self.v = nn.Parameter(torch.zeros(1, 1, 1, self.head_dim))
        self.w_r = nn.Linear(self.head_dim, self.head_dim, bias=False)
        self.register_buffer("sinusoid", offset_sinusoid(self.head_dim, skip), persistent=False)

    def logit_term(self, q: Tensor, k: Tensor) -> Tensor:
        r = self.w_r(self.sinusoid)
        ids = self.bucket_ids("product", q.shape[-2], q.device)
        content = (self.u @ k.transpose(-2, -1))
        return content + gather_pairs((q + self.v) @ r.t(), ids)


class HuangAttention(BaselineAttention):
    """Huang et al.: one embedding p_ij shared by queries and keys."""

    def __init__(self, dim: int, num_heads: int = 8, skip: int = 0, **kwargs: object) -> None:
        super().__init__(dim, num_heads, skip=skip, **kwargs)
        buckets = allocated_buckets("product", RATIO, skip)
        self.lookup_table_weight = nn.Parameter(torch.zeros(1, self.head_dim, buckets))

    def logit_term(self, q: Tensor, k: Tensor) -> Tensor:
        ids = self.bucket_ids("product", q.shape[-2], q.device)
        # k_j . p_ij: the key-side table is indexed by the key's row, hence the transposes.
        key_side = gather_pairs(k @ self.lookup_table_weight, ids.t()).transpose(-2, -1)
        return gather_pairs(q @ self.lookup_table_weight, ids) + key_side


class SASAAttention(BaselineAttention):
    """SASA: half of each key gets a row-offset embedding, the other half a column-offset one."""

    def __init__(self, dim: int, num_heads: int = 8, skip: int = 0, **kwargs: object) -> None:
        super().__init__(dim, num_heads, skip=skip, **kwargs)
        if self.head_dim % 2:
            raise ValueError(f"SASA needs an even head_dim, got {self.head_dim}")
        buckets = allocated_buckets("cross_rows", RATIO, skip)
        self.rows = nn.Parameter(torch.zeros(1, self.head_dim // 2, buckets))
        self.cols = nn.Parameter(torch.zeros(1, self.head_dim // 2, buckets))

    def logit_term(self, q: Tensor, k: Tensor) -> Tensor:
        half = self.head_dim // 2
        rows = gather_pairs(q[..., :half] @ self.rows, self.bucket_ids("cross_rows", q.shape[-2], q.device))
        cols = gather_pairs(q[..., half:] @ self.cols, self.bucket_ids("cross_cols", q.shape[-2], q.device))
        return rows + cols


def offset_sinusoid(dim: int, skip: int) -> Tensor:
    """(buckets, dim) fixed encoding of each product bucket's (row, col) offset; zeros for the prefix bucket."""
    b = int(2 * RATIO)
    offsets = torch.arange(-b, b + 1, dtype=torch.float64)
    rows, cols = offsets.repeat_interleave(2 * b + 1), offsets.repeat(2 * b + 1)
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / max(quarter, 1))
    parts = [f(axis[:, None] * omega) for axis in (rows, cols) for f in (torch.sin, torch.cos)]
    table = torch.cat(parts, dim=1)
    table = torch.nn.functional.pad(table, (0, dim - table.shape[1]))
    if skip > 0:
        table = torch.cat([table, table.new_zeros(1, dim)])
    return table.float()


def baseline_attention(name: str, skip: int = 0) -> type[nn.Module]:
    """The attention class (for timm's attn_layer hook) of a named baseline RPE."""
    if name == "shaw":
        config = RPEConfig(method="product", mode="contextual", ratio=RATIO, shared_head=True,
                           rpe_on="kv", index="clip", skip=skip)
        return RPEAttention.configured(config, "auto")
    classes = {"txl": TransformerXLAttention, "huang": HuangAttention, "sasa": SASAAttention}
    if name not in classes:
        raise ValueError(f"invalid baseline={name!r}: expected one of {', '.join(BASELINES)}")
    base = classes[name]

    def __init__(self, dim: int, **kwargs: object) -> None:
        base.__init__(self, dim, skip=skip, **kwargs)
    return type(base.__name__, (base,), {"__init__": __init__})



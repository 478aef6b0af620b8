"""Encoder self-attention with iRPE (and one other encoding), laid out as nn.MultiheadAttention so DETR
checkpoints load unchanged."""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ablate.attention.layer import EncodedAttention, attend
from ablate.rpe.config import RPEConfig
from ablate.pe.interface import Grid


class RPESelfAttention(EncodedAttention):
    """Multi-head self-attention over an H x W feature map, with iRPE lookup tables rpe_q / rpe_k / rpe_v."""

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0, rpe: RPEConfig | None = None,
                 backend: str = "auto"):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"hidden_dim {dim} is not divisible by nheads {num_heads}")
        self.num_heads = num_heads
        self.dropout = dropout
        self.backend = backend
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)
        self.init_encodings(rpe, dim // num_heads, num_heads)

    def forward(self, query_key: Tensor, value: Tensor, height: int, width: int,
                key_padding_mask: Tensor | None = None) -> Tensor:
        """(B, H*W, dim) inputs (queries/keys carry position, values do not) -> (B, H*W, dim)."""
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3)
        q, k, v = F.linear(query_key, w_q, b_q), F.linear(query_key, w_k, b_k), F.linear(value, w_v, b_v)
        batch, length, dim = q.shape
        q, k, v = (t.view(batch, length, self.num_heads, -1).transpose(1, 2) for t in (q, k, v))
        out = attend(q, k, v, self.encodings(), Grid(height, width), key_padding_mask,
                     self.dropout if self.training else 0.0, self.backend)
        return self.out_proj(out.transpose(1, 2).reshape(batch, length, dim))

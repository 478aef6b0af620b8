"""2D ALiBi (as in CROMA, Fuller et al. 2023): logit(i, j) -= m_h * |pos_i - pos_j|, the Euclidean distance
between patches, with fixed per-head slopes m_h = 2^(-8h/heads), h = 1..heads, as in 1D ALiBi. Prefix
tokens are at distance 0 from everything. Nothing is learned; every grid gets its own distances, so a
larger test grid extends the same rule.
"""
import inspect

import torch
from torch import Tensor

from ablate.pe.constant import grid_constant
from ablate.pe.interface import AttentionEncoding, Grid, ModelEncoding
from ablate.pe.terms import BucketLogits


def slopes(num_heads: int) -> Tensor:
    """m_h = 2^(-8h/heads) for h = 1..heads."""
    return 2.0 ** (-8.0 * torch.arange(1, num_heads + 1, dtype=torch.float64) / num_heads)


@grid_constant
def distance_buckets(height: int, width: int, prefix: int,
                     device: torch.device = torch.device("cpu")) -> tuple[Tensor, Tensor]:
    """((L, L) bucket of each pair, (buckets,) distance of each bucket): one bucket per (dy, dx), the last is 0.

    The grid comes as plain ints: torch.compile calls this while tracing, and passes it only constants."""
    rows = torch.arange(height, device=device).repeat_interleave(width)
    cols = torch.arange(width, device=device).repeat(height)
    dy, dx = rows[:, None] - rows[None, :], cols[:, None] - cols[None, :]
    patches = (dy + height - 1) * (2 * width - 1) + dx + width - 1
    offsets = torch.arange((2 * height - 1) * (2 * width - 1), device=device)
    oy, ox = offsets // (2 * width - 1) - height + 1, offsets % (2 * width - 1) - width + 1
    distance = torch.cat([(oy * oy + ox * ox).double().sqrt(), torch.zeros(1, dtype=torch.float64, device=device)])
    length = prefix + height * width
    ids = torch.full((length, length), len(offsets), dtype=patches.dtype, device=device)
    ids[prefix:, prefix:] = patches
    return ids, distance


_distance_buckets_uncached = inspect.unwrap(distance_buckets)


class ALiBi(AttentionEncoding):
    """Fixed distance penalties, steeper for earlier heads."""

    def __init__(self, num_heads: int) -> None:
        super().__init__()
        self.register_buffer("slopes", slopes(num_heads).float(), persistent=False)

    def logits(self, q: Tensor, k: Tensor, grid: Grid) -> list[BucketLogits]:
        """-m_h times each bucket's distance, read by pair."""
        if torch.jit.is_scripting():  # TorchScript has no cache: compute them
            ids, distance = _distance_buckets_uncached(grid.height, grid.width, grid.prefix, q.device)
        else:
            ids, distance = distance_buckets(grid.height, grid.width, grid.prefix, q.device)
        table = -self.slopes[:, None] * distance.to(self.slopes.dtype)
        return [BucketLogits(table[None, :, None, :], ids)]


def build(name: str, dim: int, num_heads: int, depth: int, prefix: int, grid: tuple[int, int]) -> ModelEncoding:
    """The same penalties in every layer."""
    return ModelEncoding([ALiBi(num_heads) for _ in range(depth)])

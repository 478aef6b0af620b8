"""Absolute position encodings to combine with RPE: learned (timm's own), 2D sinusoid, or none."""
import torch
from torch import Tensor

from ablate.pe.constant import grid_constant


@grid_constant
def sincos_2d(height: int, width: int, dim: int, temperature: float = 10000.0) -> Tensor:
    """(H*W, dim) fixed 2D sinusoid: a quarter of the channels each for sin/cos of row and column."""
    if dim % 4:
        raise ValueError(f"a 2D sinusoid needs dim divisible by 4, got dim={dim}")
    quarter = dim // 4
    omega = 1.0 / temperature ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    rows = torch.arange(height, dtype=torch.float64).repeat_interleave(width)[:, None] * omega
    cols = torch.arange(width, dtype=torch.float64).repeat(height)[:, None] * omega
    return torch.cat([rows.sin(), rows.cos(), cols.sin(), cols.cos()], dim=1).float()

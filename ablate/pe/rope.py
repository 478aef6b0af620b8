"""2D rotary position embeddings (Heo et al., "Rotary Position Embedding for Vision Transformer", ECCV 2024),
written from the paper and laid out as the authors' code (naver-ai/rope-vit) lays them out, so that their
attention weights give the same outputs here:
- a head's channels pair up as (2m, 2m+1), one complex number each, turned by an angle that depends on the
  patch's column x and row y;
- axial: the first half of the pairs turn by x * f_m, the second half by y * f_m, f_m = base^(-4m/head_dim)
  for m < head_dim / 4 (base 100, fixed);
- mixed: pair m turns by x * fx_m + y * fy_m with learned frequencies per head and per layer, one parameter on
  the model (timm's RotaryEmbeddingMixed holds it, initialised as the authors do: random directions, base 10).
Prefix tokens (the class token) are not rotated, as in the authors' ViT. On a grid other than the trained one,
positions are integers (extrapolate, the authors' way) or mapped onto the trained grid's range (interpolate:
x * trained_W / W, timm's ref_feat_shape).
"""
import torch
from timm.layers import RotaryEmbeddingMixed
from torch import Tensor

from ablate.pe.interface import AttentionEncoding, Grid, ModelEncoding, ReadsPositions

BASES = {"rope_axial": 100.0, "rope_mixed": 10.0}  # RoPE-ViT's frequency bases (Heo et al. 2024)


def rotate_pairs(x: Tensor, angles: Tensor) -> Tensor:
    """x (..., N, d) with each channel pair (2m, 2m+1) turned by angles (..., N, d/2), as x_2m + i x_2m+1 times
    e^(i angle)."""
    even, odd = x[..., 0::2], x[..., 1::2]
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    return torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1).flatten(-2)


def _rotate_patches(x: Tensor, angles: Tensor, prefix: int) -> Tensor:
    """Rotate the patch tokens of (B, heads, L, head_dim) x; prefix tokens pass unrotated."""
    return torch.cat([x[..., :prefix, :], rotate_pairs(x[..., prefix:, :], angles)], dim=-2)


class RopeBase(AttentionEncoding, ReadsPositions):
    """What both variants share: the (x, y) position of each patch, read as pe.positions says."""

    def coordinates(self, grid: Grid, device: torch.device) -> tuple[Tensor, Tensor]:
        """(H*W,) columns x and rows y of the patches in row-major order, in float32 (float64 kept for tests)."""
        scale_y, scale_x = 1.0, 1.0
        if self.positions == "interpolate":
            scale_y, scale_x = self.trained[0] / grid.height, self.trained[1] / grid.width
        rows = torch.arange(grid.height, device=device, dtype=torch.float32) * scale_y
        cols = torch.arange(grid.width, device=device, dtype=torch.float32) * scale_x
        return cols.repeat(grid.height), rows.repeat_interleave(grid.width)


class AxialRope(RopeBase):
    """Fixed axial frequencies; nothing to learn."""

    def __init__(self, head_dim: int, base: float, trained: tuple[int, int], positions: str) -> None:
        super().__init__()
        self.init_positions(trained, positions)
        exponents = 4 * torch.arange(head_dim // 4, dtype=torch.float32) / head_dim
        self.register_buffer("freqs", base ** -exponents, persistent=False)

    def rotate(self, q: Tensor, k: Tensor, grid: Grid) -> tuple[Tensor, Tensor]:
        """Rotate each patch token of q and k: half its pairs by its column, half by its row."""
        x, y = self.coordinates(grid, q.device)
        angles = torch.cat([x[:, None] * self.freqs, y[:, None] * self.freqs], dim=1)
        return _rotate_patches(q, angles, grid.prefix), _rotate_patches(k, angles, grid.prefix)


class MixedRope(RopeBase):
    """One layer's share of the model's learned frequencies."""

    def __init__(self, rope: RotaryEmbeddingMixed, layer: int, trained: tuple[int, int], positions: str) -> None:
        super().__init__()
        self.init_positions(trained, positions)
        self._rope = (rope,)  # held by the model (its frequencies are one parameter): a tuple is not registered
        self.layer = layer

    def rotate(self, q: Tensor, k: Tensor, grid: Grid) -> tuple[Tensor, Tensor]:
        """Rotate each patch token of q and k by this layer's per-head mix of its column and row."""
        x, y = self.coordinates(grid, q.device)
        fx, fy = self._rope[0].freqs[:, self.layer].float()  # (heads, head_dim / 2) each
        angles = x[None, :, None] * fx[:, None, :] + y[None, :, None] * fy[:, None, :]  # (heads, N, head_dim / 2)
        return _rotate_patches(q, angles, grid.prefix), _rotate_patches(k, angles, grid.prefix)


def build(name: str, dim: int, num_heads: int, depth: int, prefix: int, grid: tuple[int, int],
          base: float | None = None, positions: str = "extrapolate") -> ModelEncoding:
    """rope_axial: a fixed rotation in every layer; rope_mixed: the model's learned frequencies, per layer."""
    base = BASES[name] if base is None else base
    head_dim = dim // num_heads
    if head_dim % 4:
        raise ValueError(f"{name} needs a head_dim divisible by 4 (two axes, pairs of channels), got {head_dim}")
    if name == "rope_axial":
        return ModelEncoding([AxialRope(head_dim, base, grid, positions) for _ in range(depth)])
    rope = RotaryEmbeddingMixed(dim, depth, num_heads, temperature=base)  # no_weight_decay(): its freqs (rope-vit)
    return ModelEncoding([MixedRope(rope, i, grid, positions) for i in range(depth)], modules={"rope": rope})

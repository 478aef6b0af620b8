"""2D rotary position embeddings (Heo et al., "Rotary Position Embedding for Vision Transformer", ECCV 2024).

Both variants are timm's: axial is RotaryEmbeddingCat over the patch grid in index units with inverse
frequencies base^(-4t/head_dim) (base 100, the authors' choice), half of each head's channel pairs
turning with the row, half with the column; mixed is RotaryEmbeddingMixed (learned frequencies per head
and per layer, initialised at random directions, base 10), held once by the model. Prefix tokens (the
class token) are not rotated, as in the authors' ViT: they attend and are attended without rotation.
"""
import torch
from timm.layers import RotaryEmbeddingCat, RotaryEmbeddingMixed, apply_rot_embed_cat
from torch import Tensor

from ablate.pe.interface import AttentionEncoding, Grid, ModelEncoding


def _rotate_patches(x: Tensor, embed: Tensor, prefix: int) -> Tensor:
    """Rotate the patch tokens of (B, heads, L, head_dim) x; prefix tokens pass unrotated."""
    return torch.cat([x[..., :prefix, :], apply_rot_embed_cat(x[..., prefix:, :], embed)], dim=-2)


class AxialRope(AttentionEncoding):
    """Fixed axial frequencies; nothing to learn."""

    def __init__(self, head_dim: int, base: float) -> None:
        super().__init__()
        self.rope = RotaryEmbeddingCat(head_dim, temperature=base, in_pixels=False)

    def rotate(self, q: Tensor, k: Tensor, grid: Grid) -> tuple[Tensor, Tensor]:
        """Rotate each patch token of q and k by its row and column."""
        embed = self.rope.get_embed((grid.height, grid.width)).to(q.dtype)
        return _rotate_patches(q, embed, grid.prefix), _rotate_patches(k, embed, grid.prefix)


class MixedRope(AttentionEncoding):
    """One layer's share of the model's learned frequencies."""

    def __init__(self, rope: RotaryEmbeddingMixed, layer: int) -> None:
        super().__init__()
        self._rope = (rope,)  # held by the model (its frequencies are one parameter): a tuple is not registered
        self.layer = layer

    def rotate(self, q: Tensor, k: Tensor, grid: Grid) -> tuple[Tensor, Tensor]:
        """Rotate each patch token of q and k by this layer's mix of its row and column."""
        embed = self._rope[0].get_embed((grid.height, grid.width))[self.layer].to(q.dtype)
        return _rotate_patches(q, embed, grid.prefix), _rotate_patches(k, embed, grid.prefix)


BASES = {"rope_axial": 100.0, "rope_mixed": 10.0}  # RoPE-ViT's frequency bases (Heo et al. 2024)


def build(name: str, dim: int, num_heads: int, depth: int, prefix: int, grid: tuple[int, int],
          base: float | None = None) -> ModelEncoding:
    """rope_axial: a fixed rotation in every layer; rope_mixed: the model's learned frequencies, per layer."""
    base = BASES[name] if base is None else base
    head_dim = dim // num_heads
    if head_dim % 4:
        raise ValueError(f"{name} needs a head_dim divisible by 4 (two axes, pairs of channels), got {head_dim}")
    if name == "rope_axial":
        return ModelEncoding([AxialRope(head_dim, base) for _ in range(depth)])
    rope = RotaryEmbeddingMixed(dim, depth, num_heads, temperature=base)
    return ModelEncoding([MixedRope(rope, i) for i in range(depth)], modules={"rope": rope})

"""Conditional position encoding (CPVT, Chu et al. 2021): a position encoding generator (PEG), a 3x3
depthwise convolution over the patch grid added back to the tokens after the chosen blocks (the first,
or blocks 0-5); prefix tokens pass unchanged. The convolution is timm's (Twins' PosConv). Twins, by CPVT's
authors, keeps the PEG out of weight decay (timm's twins.py no_weight_decay: every pos_block parameter); so
does this.
"""
from collections.abc import Sequence

import torch
from timm.models.twins import PosConv
from torch import Tensor

from ablate.pe.interface import Grid, ModelEncoding, TokenMixer


class PEG(TokenMixer):
    """x + depthwise-conv(x) on the patch tokens laid out as the grid."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.pos = PosConv(dim, dim)

    def no_weight_decay(self) -> set[str]:
        """Every parameter of the convolution, as Twins excludes its PosConv."""
        return {name for name, _ in self.named_parameters()}

    def forward(self, x: Tensor, grid: Grid) -> Tensor:
        """(B, L, dim) tokens -> (B, L, dim), the patch tokens mixed with their neighbours."""
        prefix, patches = x[:, :grid.prefix], x[:, grid.prefix:]
        return torch.cat([prefix, self.pos(patches, (grid.height, grid.width))], dim=1)


def build(name: str, dim: int, num_heads: int, depth: int, prefix: int, grid: tuple[int, int],
          blocks: Sequence[int] = (0,)) -> ModelEncoding:
    """A PEG after each of the given blocks."""
    bad = [b for b in blocks if not 0 <= b < depth]
    if bad:
        raise ValueError(f"pe.blocks={list(blocks)}: block {bad[0]} does not exist in a model of depth {depth}")
    return ModelEncoding([None] * depth, mixers={int(b): PEG(dim) for b in blocks})

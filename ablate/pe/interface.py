"""The one interface through which a position encoding acts on attention.

Inside one attention layer an encoding may
- rotate q and k before attention (rotary embeddings),
- add logit terms (ablate.pe.terms.BucketLogits: iRPE on Q or K, bias tables, ALiBi, the paper's baselines;
  computed from q and k as projected, before any rotation),
- add output terms (BucketValues: iRPE on V);
between blocks, a token mixer acts on the patch grid instead (PEG). Each knows the grid: H x W patches
after `prefix` tokens (class, distillation). The attention layers of DeiT and DETR gather what their
encodings contribute and hand it to a backend (ablate.attention.backends), which executes the terms without
knowing which encoding made them.
"""
from dataclasses import dataclass, field
from typing import NamedTuple

from torch import Tensor, nn

from ablate.pe.terms import BucketLogits, BucketValues


class Grid(NamedTuple):
    """The token layout of a sequence: `prefix` tokens, then an H x W patch grid in row-major order.

    A NamedTuple, so that a model passes it to its layers under TorchScript and torch.fx too (scripted code
    reads the fields only: TorchScript compiles no NamedTuple methods)."""

    height: int
    width: int
    prefix: int = 0

    @property
    def length(self) -> int:
        """The sequence length prefix + H * W."""
        return self.prefix + self.height * self.width

    def check(self, length: int) -> None:
        """Raise ValueError unless a sequence of this length lays out on the grid."""
        check_length(self, length)


def check_length(grid: Grid, length: int) -> None:
    """Grid.check as a function, which TorchScript compiles."""
    if grid.prefix < 0 or length != grid.prefix + grid.height * grid.width:
        raise ValueError(f"sequence length L={length} does not match the grid: expected "
                         f"prefix + H*W = {grid.prefix} + {grid.height}*{grid.width}")


class AttentionEncoding(nn.Module):
    """What an encoding does inside one attention layer; each method's default does nothing."""

    def rotate(self, q: Tensor, k: Tensor, grid: Grid) -> tuple[Tensor, Tensor]:
        """q and k (B, heads, L, head_dim) as attention should compare them."""
        return q, k

    def logits(self, q: Tensor, k: Tensor, grid: Grid) -> list[BucketLogits]:
        """Terms added to the logits s * q . k (given q and k as projected, before rotation)."""
        return []

    def values(self, grid: Grid) -> list[BucketValues]:
        """Terms added to the output, weighted by the attention probabilities."""
        return []


class TokenMixer(nn.Module):
    """An encoding that acts on the tokens between blocks (a conditional position encoding)."""

    def forward(self, x: Tensor, grid: Grid) -> Tensor:
        """(B, L, dim) tokens -> (B, L, dim)."""
        raise NotImplementedError


@dataclass
class ModelEncoding:
    """An encoding built for a whole model (ablate.pe.registry.build_encoding): one attention part per
    layer (None where it does nothing), modules the model holds once (e.g. one table shared by all layers,
    registered under these names), and token mixers applied after the blocks they are keyed by."""

    layers: list[AttentionEncoding | None]
    modules: dict[str, nn.Module] = field(default_factory=dict)
    mixers: dict[int, TokenMixer] = field(default_factory=dict)

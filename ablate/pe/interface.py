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

An encoding that reads patch positions (ReadsPositions) knows the grid it was trained on and how it reads
another (ablate.protocol: extrapolate, interpolate); evaluation switches that with `reading_positions`. A
module whose parameters its reference implementation keeps out of weight decay names them in
`no_weight_decay()` (timm's convention); the model gathers them with `no_weight_decay`.
"""
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

from torch import Tensor, nn

from ablate.protocol import POSITIONS

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


class ReadsPositions:
    """Mixed into an encoding that reads patch positions: the grid it was trained on (H, W) and how it reads a
    grid of another size (`positions`: extrapolate or interpolate, ablate.protocol)."""

    def init_positions(self, trained: tuple[int, int], positions: str) -> None:
        """Set the trained grid and the way positions are read."""
        if positions not in POSITIONS:
            raise ValueError(f"pe.positions={positions!r}: expected one of {', '.join(POSITIONS)}")
        self.trained, self.positions = tuple(trained), positions


@contextmanager
def reading_positions(model: nn.Module, positions: str) -> Iterator[None]:
    """Inside, every encoding of model that reads positions reads them this way; restored on exit."""
    readers = [m for m in model.modules() if isinstance(m, ReadsPositions)]
    before = [m.positions for m in readers]
    try:
        for m in readers:
            m.init_positions(m.trained, positions)
        yield
    finally:
        for m, kept in zip(readers, before):
            m.positions = kept


def no_weight_decay(model: nn.Module) -> set[str]:
    """Parameter names (as model.named_parameters gives them) that a submodule keeps out of weight decay through
    its own no_weight_decay(): each encoding follows its reference implementation there."""
    named = {f"{path}.{name}" for path, module in model.named_modules()
             if path and callable(getattr(module, "no_weight_decay", None)) for name in module.no_weight_decay()}
    return named & {name for name, _ in model.named_parameters()}  # timm's PosConv names some it may not have

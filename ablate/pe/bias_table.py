"""Relative position bias tables (Swin, Liu et al. 2021; BEiT, Bao et al. 2022): one learned scalar per head
for each relative offset (dy, dx) of the model's H x W grid, (2H-1)(2W-1) entries at
(dy + H - 1)(2W - 1) + (dx + W - 1), and BEiT's three more for prefix tokens (query prefix, key prefix,
both). One table per layer (Swin), or one the model holds for every layer (BEiT's shared table).

timm's `gen_relative_position_index` builds the same index for the model's own grid (the tests hold the two
equal), but only for that window. On a larger test grid (pe.positions, ablate.protocol) the table is read as
it is, offsets beyond its window clamped to its edge as iRPE's clip index does (extrapolate), or resized
bicubically to the new grid's offsets (interpolate), as BEiT and Swin resize a table for a new window.
Swin and BEiT keep their tables out of weight decay (their no_weight_decay); so do these.
"""
import inspect

import torch
from torch import Tensor, nn

from ablate.pe.constant import grid_constant
from ablate.pe.interface import AttentionEncoding, Grid, ModelEncoding, ReadsPositions
from ablate.pe.terms import BucketLogits

PREFIX_ENTRIES = 3


@grid_constant
@torch.inference_mode(False)  # cached for later calls: never an inference tensor, which autograd cannot save
def relative_index(window: tuple[int, int], height: int, width: int, prefix: int,
                   device: torch.device = torch.device("cpu")) -> Tensor:
    """(L, L) table entry of each pair of the grid, for a table made for `window` (offsets clamped to it).

    The grid comes as plain ints: torch.compile calls this while tracing, and passes it only constants."""
    rows = torch.arange(height, device=device).repeat_interleave(width)
    cols = torch.arange(width, device=device).repeat(height)
    window_height, window_width = window
    dy = (rows[:, None] - rows[None, :]).clamp(1 - window_height, window_height - 1)
    dx = (cols[:, None] - cols[None, :]).clamp(1 - window_width, window_width - 1)
    patches = (dy + window_height - 1) * (2 * window_width - 1) + dx + window_width - 1
    if prefix == 0:
        return patches
    entries = (2 * window_height - 1) * (2 * window_width - 1)
    length = prefix + height * width
    ids = torch.full((length, length), entries, dtype=patches.dtype, device=device)
    ids[:, :prefix] = entries + 1
    ids[:prefix, :prefix] = entries + 2
    ids[prefix:, prefix:] = patches
    return ids


_relative_index_uncached = inspect.unwrap(relative_index)


def resized(table: Tensor, window: tuple[int, int], grid: Grid) -> Tensor:
    """A (entries, heads) table made for `window` resized bicubically to the offsets of `grid`'s patches: the
    (2H-1) x (2W-1) offset plane of each head is an image; the prefix entries stay as they are."""
    height, width = window
    offsets = (2 * height - 1) * (2 * width - 1)
    plane = table[:offsets].t().reshape(1, -1, 2 * height - 1, 2 * width - 1)
    size = (2 * grid.height - 1, 2 * grid.width - 1)
    plane = torch.nn.functional.interpolate(plane, size=size, mode="bicubic", align_corners=False)
    return torch.cat([plane.flatten(2)[0].t(), table[offsets:]])


class BiasTable(nn.Module):
    """A learned table, (entries, heads): timm's layout and name."""

    def __init__(self, window: tuple[int, int], num_heads: int) -> None:
        super().__init__()
        self.window = window
        entries = (2 * window[0] - 1) * (2 * window[1] - 1) + PREFIX_ENTRIES
        self.relative_position_bias_table = nn.Parameter(torch.zeros(entries, num_heads))

    def no_weight_decay(self) -> set[str]:
        """The table, as Swin and BEiT exclude it."""
        return {"relative_position_bias_table"}


class RelativeBias(AttentionEncoding, ReadsPositions):
    """A layer's bias: its own table (saved as attn.relative_position_bias_table), or the model's shared one."""

    def __init__(self, window: tuple[int, int], num_heads: int, shared: BiasTable | None = None,
                 positions: str = "extrapolate") -> None:
        super().__init__()
        self.window = tuple(window)  # hashable: the cached index is keyed on it
        self.init_positions(window, positions)
        if shared is None:
            self.relative_position_bias_table = BiasTable(window, num_heads).relative_position_bias_table
        else:
            self._shared = (shared,)  # held by the model: a tuple is not registered in every layer

    def no_weight_decay(self) -> set[str]:
        """Its own table, as Swin and BEiT exclude it (a shared one is the model's BiasTable's)."""
        return set() if hasattr(self, "_shared") else {"relative_position_bias_table"}

    def logits(self, q: Tensor, k: Tensor, grid: Grid) -> list[BucketLogits]:
        """The table read by the offset of each pair (clamped to the window, or the table resized to the grid),
        the same for every query and batch."""
        table = self._shared[0].relative_position_bias_table if hasattr(self, "_shared") \
            else self.relative_position_bias_table
        window = self.window
        if self.positions == "interpolate" and (grid.height, grid.width) != window:
            table, window = resized(table, window, grid), (grid.height, grid.width)
        if torch.jit.is_scripting():  # TorchScript has no cache: compute them
            ids = _relative_index_uncached(window, grid.height, grid.width, grid.prefix, q.device)
        else:
            ids = relative_index(window, grid.height, grid.width, grid.prefix, q.device)
        return [BucketLogits(table.t()[None, :, None, :], ids)]


def build(name: str, dim: int, num_heads: int, depth: int, prefix: int, grid: tuple[int, int],
          shared: bool = False, positions: str = "extrapolate") -> ModelEncoding:
    """Per-layer tables (Swin), or one the model holds (BEiT's shared one)."""
    if shared:
        table = BiasTable(grid, num_heads)
        return ModelEncoding([RelativeBias(grid, num_heads, table, positions) for _ in range(depth)],
                             modules={"rel_pos_bias": table})
    return ModelEncoding([RelativeBias(grid, num_heads, positions=positions) for _ in range(depth)])

"""Tests at other resolutions: how a test image of R px is made (the mode), how an encoding reads patch positions
on a grid it was not trained on (the positions), and how each metric is named. Torch-free: the plan-time checks,
the evaluation and the reports read it.

Modes (eval.resolution_mode; one, or a list tested in turn):
- upsample: the stored image resized (bicubic) to R x R. Same field of view, no new detail; the object is
  R / trained times larger in pixels and in patches. What every test at another resolution did before modes.
- canvas: the image at its trained size on an R x R field of the dataset's background (data.background), its
  offset a whole number of patches so it is cut into the patches it was trained on: the object keeps its size
  and the grid grows around it.
- crop: for sets stored larger than the training size: the short side resized to R / eval.crop_pct (null: 1.0)
  and the centre R x R kept: DeiT's and RoPE-ViT's protocol (the latter with crop ratio 1.0).
A size that is no whole number of patches is padded at the bottom and right with the background.

Positions (pe.positions; one, or a list), for the encodings that read them (pe.name rope_axial, rope_mixed,
bias_table):
- extrapolate: patch units as they are. RoPE: integer positions beyond the trained grid (RoPE-ViT's default);
  bias table: offsets beyond the trained window read its edge entries.
- interpolate: the new grid mapped onto the trained one. RoPE: position x becomes x * trained / new per axis
  (timm's ref_feat_shape); bias table: the table resized bicubically to the new grid's offsets (as BEiT and
  Swin resize theirs for a new window).
The learned absolute embedding is always resampled to the new grid (bicubic, timm's way).

Names: <metric>@<size>[/<mode>][/<positions>], each part left out at its default (upsample, extrapolate), so
top1@56 means what it always meant: top1@56, top1@56/canvas, top1@56/interpolate, top1@56/canvas/interpolate,
top1@28x36/crop.
"""
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MODES = ("upsample", "canvas", "crop")
POSITIONS = ("extrapolate", "interpolate")
POSITION_READERS = ("rope_axial", "rope_mixed", "bias_table")  # the encodings that take pe.positions


def listed(value: Any, key: str, allowed: Sequence[str]) -> list[str]:
    """One name or a list of names as a list; ValueError (one line, naming key) for an unknown, repeated or
    empty choice."""
    names = [value] if isinstance(value, str) else list(value) if isinstance(value, Sequence) else None
    if not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{key}={value!r}: expected one of {', '.join(allowed)} or a list of them, "
                         f"e.g. {key}=[{allowed[0]},{allowed[1]}]")
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise ValueError(f"{key}={unknown[0]!r} is not known: expected one of {', '.join(allowed)}")
    if len(set(names)) < len(names):
        raise ValueError(f"{key}={names}: each choice once")
    return names


@dataclass(frozen=True)
class Protocol:
    """How one test at another resolution is made."""

    mode: str = MODES[0]
    positions: str = POSITIONS[0]

    @property
    def suffix(self) -> str:
        """The name's tail: '' at the defaults, else '/canvas', '/interpolate', '/canvas/interpolate'."""
        return "".join(f"/{part}" for part, default in ((self.mode, MODES[0]), (self.positions, POSITIONS[0]))
                       if part != default)

    @property
    def label(self) -> str:
        """In words, for legends: 'upsample', 'canvas, interpolated positions'."""
        return self.mode + (", interpolated positions" if self.positions == "interpolate" else "")


def size_label(size: int | Sequence[int]) -> str:
    """How a test size is written in a name: 42 -> '42', [28, 36] -> '28x36'."""
    return str(size) if isinstance(size, int) else "x".join(str(s) for s in size)


def metric_name(metric: str, size: int | Sequence[int], protocol: Protocol) -> str:
    """The record's name of a metric at a test size under a protocol: top1@56, top1@56/canvas, ..."""
    return f"{metric}@{size_label(size)}{protocol.suffix}"


@dataclass(frozen=True)
class MetricAt:
    """A metric column read back: which metric, at which size (H, W), under which protocol."""

    metric: str
    size: tuple[int, int]
    protocol: Protocol


def parse(column: str) -> MetricAt | None:
    """The parts of a metric name made by metric_name, None for any other column."""
    metric, at, rest = column.partition("@")
    if not at or not metric:
        return None
    size, *parts = rest.split("/")
    sides = size.split("x")
    if not all(s.isdigit() for s in sides) or len(sides) not in (1, 2):
        return None
    mode = next((p for p in parts if p in MODES), MODES[0])
    positions = next((p for p in parts if p in POSITIONS), POSITIONS[0])
    protocol = Protocol(mode, positions)
    if protocol.suffix != "".join(f"/{p}" for p in parts):
        return None
    return MetricAt(metric, (int(sides[0]), int(sides[-1])), protocol)

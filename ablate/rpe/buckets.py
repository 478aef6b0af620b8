"""Bucket-id maps: which lookup-table entry each (query, key) pair of an H x W grid reads.

Tokens are numbered row-major after the prefix tokens (class/distillation tokens). The offset of a
pair is pos(query) - pos(key). Every pair touching a prefix token reads one extra bucket, the last one.
Site-level methods are euc, quant, product, and the two axes of cross: cross_rows and cross_cols.
"""
import torch
from torch import Tensor

from ablate.pe.constant import grid_constant
from ablate.rpe.index import index_offsets

SITE_METHODS = ("euc", "quant", "product", "cross_rows", "cross_cols")


def saturation(ratio: float) -> int:
    """b' = int(beta) = int(2 * ratio): the largest offset an index function returns."""
    return int(2.0 * ratio)


def allocated_buckets(method: str, ratio: float, prefix: int) -> int:
    """Size of one site-level lookup table: every offset the index function can return, plus prefix."""
    width = 2 * saturation(ratio) + 1
    size = width * width if method == "product" else width
    return size + (1 if prefix > 0 else 0)


def _offsets(height: int, width: int, device: torch.device) -> tuple[Tensor, Tensor]:
    rows = torch.arange(height, device=device).repeat_interleave(width)
    cols = torch.arange(width, device=device).repeat(height)
    return rows[:, None] - rows[None, :], cols[:, None] - cols[None, :]


def _offset_ids(method: str, ratio: float, dr: Tensor, dc: Tensor, index: str) -> Tensor:
    """Bucket ids (before the prefix bucket) of row/column offsets dr, dc."""
    alpha, beta, gamma = float(ratio), 2.0 * ratio, 8.0 * ratio
    b = saturation(ratio)
    if method == "euc":
        return index_offsets(index, (dr * dr + dc * dc).float().sqrt().round(), alpha, beta, gamma) + b
    if method == "quant":
        return index_offsets(index, dr * dr + dc * dc, alpha, beta, gamma) + b
    if method == "cross_rows":
        return index_offsets(index, dr, alpha, beta, gamma) + b
    if method == "cross_cols":
        return index_offsets(index, dc, alpha, beta, gamma) + b
    rows = index_offsets(index, dr, alpha, beta, gamma) + b
    return rows * (2 * b + 1) + index_offsets(index, dc, alpha, beta, gamma) + b


def compute_bucket_map(method: str, ratio: float, height: int, width: int, prefix: int, index: str,
                       device: torch.device) -> Tensor:
    """bucket_map without its cache and checks: what a scripted model computes on every call."""
    dr, dc = _offsets(height, width, device)
    ids = _offset_ids(method, ratio, dr, dc, index)
    if prefix > 0:
        length = prefix + height * width
        full = torch.full((length, length), allocated_buckets(method, ratio, prefix) - 1,
                          dtype=torch.long, device=device)
        full[prefix:, prefix:] = ids
        ids = full
    return ids


@grid_constant
@torch.inference_mode(False)  # cached for later calls: never an inference tensor, which autograd cannot save
def bucket_map(method: str, ratio: float, height: int, width: int, prefix: int = 0,
               index: str = "piecewise", device: torch.device | str = "cpu") -> Tensor:
    """(prefix + H*W, prefix + H*W) int64 bucket ids of a site-level method; cached, do not modify."""
    if method not in SITE_METHODS:
        raise ValueError(f"bucket method {method!r} is not one of {SITE_METHODS}")
    return compute_bucket_map(method, ratio, height, width, prefix, index, torch.device(device))


def used_buckets(method: str, ratio: float, height: int, width: int, prefix: int = 0,
                 index: str = "piecewise") -> int:
    """Number of distinct buckets a grid actually reads; cross counts both axes (the model-name number)."""
    sites = ("cross_rows", "cross_cols") if method == "cross" else (method,)
    if sites[0] not in SITE_METHODS:
        raise ValueError(f"bucket method {method!r} is not one of {SITE_METHODS} or 'cross'")
    # Every offset with |dr| < H and |dc| < W occurs on the grid, so the (2H-1)(2W-1) distinct offsets give
    # the same set of ids as the full (L, L) map at a fraction of the cost (suffix parsing searches ratios).
    dr = torch.arange(1 - height, height, device="cpu").repeat_interleave(2 * width - 1)
    dc = torch.arange(1 - width, width, device="cpu").repeat(2 * height - 1)
    shared_bucket = 1 if prefix > 0 else 0
    return sum(int(_offset_ids(s, ratio, dr, dc, index).unique().numel()) + shared_bucket for s in sites)


def total_allocated_buckets(method: str, ratio: float, prefix: int) -> int:
    """Allocated buckets of a whole method (cross counts both axis tables)."""
    if method == "cross":
        return 2 * allocated_buckets("cross_rows", ratio, prefix)
    return allocated_buckets(method, ratio, prefix)

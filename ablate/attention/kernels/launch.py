"""Host side of the kernels: grids and argument packing (tile sizes: tuning.py on a GPU, INTERPRETER_BLOCKS
otherwise). Plain tensors in, plain tensors out.

Inputs are already in kernel form (function.py does that): q, k, v contiguous (B, H, L, D) in one dtype;
logit tables fp32 (B|1, H|1, L|1, NB) with unit stride on the buckets; id maps contiguous int32 (L, L) on
q's device, already transposed for the terms indexed by the key; key_padding_mask (B, L) bool or None.
"""
from collections.abc import Callable
from dataclasses import dataclass

import torch
import triton
from torch import Tensor

from .dispatch import interpreted, kernel, tuned


@dataclass(frozen=True)
class Blocks:
    """Tile sizes (queries x keys) of an interpreted launch (a GPU's are tuned: tuning.py)."""

    m: int
    n: int


# The interpreter runs one Python loop per program and tile: small tiles keep test shapes (L <= 30) spread
# over several blocks with ragged edges, which is what needs testing. Tests may swap this for other sizes.
INTERPRETER_BLOCKS = Blocks(16, 16)
# The dropout-mask export on a GPU: any tiling draws the same mask (the pair index names every pair).
MASK_BLOCKS = Blocks(32, 32)


def draw_dropout_seed() -> int:
    """A Philox seed for one attention call, drawn from torch's global (CPU) generator."""
    return int(torch.randint(0, 2**31 - 1, (), dtype=torch.int64))


def _launch(name: str, grid: Callable[[dict], tuple[int, ...]], device: torch.device, **arguments) -> None:
    """Run kernel `name` for tensors on `device` (the one place every launch goes through); grid(tile) is the
    launch grid for the tile sizes, which the autotuner chooses on a GPU; untuned launches get INTERPRETER_BLOCKS
    unless they name their own. Every argument goes by its name in the kernel's signature, so an argument added
    to a kernel, or one passed in the wrong place, fails at the launch instead of shifting the others."""
    fn = kernel(name, device)
    if not tuned(fn):
        arguments = {"BLOCK_M": INTERPRETER_BLOCKS.m, "BLOCK_N": INTERPRETER_BLOCKS.n, **arguments}
    fn[grid](**arguments)


def _offsets(sizes: list[int]) -> tuple[int, ...]:
    out, total = [], 0
    for size in sizes:
        out.append(total)
        total += size
    return tuple(out)


def _width(size: int) -> int:
    """Register width for `size` bucket columns: a power of two (at least 1)."""
    return triton.next_power_of_2(max(size, 1))


def _common(q: Tensor, tables: list[Tensor], logit_ids: list[Tensor], value_ids: list[Tensor],
            key_padding_mask: Tensor | None, dropout_p: float, scale: float, seed: int, name: str) -> dict:
    """The arguments every attention kernel takes (key mask, terms, runtime scalars, sizes, constexpr options),
    by their names in the kernels' signatures."""
    for table in tables:
        if table.dtype != torch.float32 or table.stride(-1) != 1:
            raise ValueError("logit tables reach the kernels as fp32 with unit bucket stride")
    strides = [tuple(t.stride(d) if t.shape[d] > 1 else 0 for t in tables) for d in range(3)]
    mask = None if key_padding_mask is None else key_padding_mask.contiguous().view(torch.int8)
    batch, heads, length, head_dim = q.shape
    return dict(
        KeyMask=q if mask is None else mask,  # any pointer where there is no mask (HAS_MASK is off)
        tables=tuple(tables), table_sb=strides[0], table_sh=strides[1], table_sr=strides[2],
        logit_ids=tuple(logit_ids), value_ids=tuple(value_ids),
        seed=seed, dropout_p=float(dropout_p), scale=float(scale), H=heads, L=length, D=head_dim,
        HAS_MASK=mask is not None,
        DROPOUT=dropout_p > 0,
        # Only read for fp32 operands: exact fp32 products ("ieee"), as torch's default fp32 matmul.
        PRECISION="ieee" if q.dtype == torch.float32 else "tf32",
        UPCAST=q.dtype == torch.bfloat16 and interpreted(kernel(name, q.device)),
        BLOCK_D=max(16, triton.next_power_of_2(head_dim)),
    )


def forward(q: Tensor, k: Tensor, v: Tensor, tables: list[Tensor], logit_ids: list[Tensor], by_key: list[bool],
            value_ids: list[Tensor], value_buckets: list[int], key_padding_mask: Tensor | None,
            dropout_p: float, scale: float, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """(out (B, H, L, D) in q's dtype, lse (B, H, L) fp32, per-bucket attention sums (B, H, L, sum NB) fp32)."""
    batch, heads, length, head_dim = q.shape
    out = torch.empty_like(q)
    lse = q.new_empty((batch, heads, length), dtype=torch.float32)
    value_total = sum(value_buckets)
    sums = q.new_empty((batch, heads, length, value_total), dtype=torch.float32)
    common = _common(q, tables, logit_ids, value_ids, key_padding_mask, dropout_p, scale, seed, "forward")
    _launch("forward", lambda tile: (triton.cdiv(length, tile["BLOCK_M"]), batch * heads), q.device,
            Q=q, K=k, V=v, Out=out, Lse=lse, Sums=sums if value_total else lse, sums_stride=value_total,
            BY_KEY=tuple(int(b) for b in by_key), VALUE_OFFSETS=_offsets(value_buckets),
            SUMS_WIDTH=_width(value_total), **common)
    return out, lse, sums


def backward(dout: Tensor, dsums: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor,
             sums: Tensor, tables: list[Tensor], logit_ids: list[Tensor], by_key: list[bool],
             value_ids: list[Tensor], value_buckets: list[int], key_padding_mask: Tensor | None,
             dropout_p: float, scale: float, seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """(dq, dk, dv, dT of the terms indexed by the query, dT of those by the key), the dT (B, H, L, sum NB) fp32.

    dout is the gradient of out, dsums that of sums (fp32, same shape). Each dT holds the terms of its kind in
    their order, each over its own bucket columns, before any broadcast dimension is summed out.
    """
    batch, heads, length, head_dim = q.shape
    dout = dout.contiguous()
    dsums = dsums.contiguous().float()
    delta = (dout.float() * out.float()).sum(-1)
    if sums.shape[-1]:
        delta = delta + (dsums * sums).sum(-1)
    sizes = [t.shape[-1] for t in tables]
    query_sizes = [n for n, key in zip(sizes, by_key) if not key]
    key_sizes = [n for n, key in zip(sizes, by_key) if key]
    query_offsets, key_offsets = iter(_offsets(query_sizes)), iter(_offsets(key_sizes))
    term_offsets = tuple(next(key_offsets) if key else next(query_offsets) for key in by_key)
    dtq = q.new_empty((batch, heads, length, sum(query_sizes)), dtype=torch.float32)
    dtk = q.new_empty((batch, heads, length, sum(key_sizes)), dtype=torch.float32)
    dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)

    common = _common(q, tables, logit_ids, value_ids, key_padding_mask, dropout_p, scale, seed, "backward_q")
    value_total = sum(value_buckets)
    shared = dict(Q=q, K=k, V=v, dO=dout, Lse=lse, Delta=delta, U=dsums if value_total else lse,
                  u_stride=value_total, BY_KEY=tuple(int(b) for b in by_key), TERM_OFFSETS=term_offsets,
                  VALUE_OFFSETS=_offsets(value_buckets), **common)
    _launch("backward_q", lambda tile: (triton.cdiv(length, tile["BLOCK_M"]), batch * heads), q.device,
            dQ=dq, dT=dtq if dtq.numel() else lse, dt_stride=sum(query_sizes), HAS_DT=bool(query_sizes),
            DT_WIDTH=_width(sum(query_sizes)), **shared)
    _launch("backward_kv", lambda tile: (triton.cdiv(length, tile["BLOCK_N"]), batch * heads), q.device,
            dK=dk, dV=dv, dT=dtk if dtk.numel() else lse, dt_stride=sum(key_sizes), HAS_DT=bool(key_sizes),
            DT_WIDTH=_width(sum(key_sizes)), **shared)
    return dq, dk, dv, dtq, dtk


def dropout_keep_mask(seed: int, batch: int, heads: int, length: int, p: float,
                      device: torch.device | str = "cpu") -> Tensor:
    """(B, H, L, L) bool: the pairs the attention kernels keep under dropout p with this seed.

    Drawn by the same Philox stream and pair index as the kernels, on any device (CPU: interpreted).
    """
    device = torch.device(device)
    keep = torch.empty((batch, heads, length, length), dtype=torch.int8, device=device)
    blk = MASK_BLOCKS if device.type == "cuda" else INTERPRETER_BLOCKS
    _launch("keep_mask", lambda tile: (triton.cdiv(length, blk.m), triton.cdiv(length, blk.n), batch * heads),
            device, Keep=keep, seed=seed, dropout_p=float(p), L=length, BLOCK_M=blk.m, BLOCK_N=blk.n)
    return keep.bool()

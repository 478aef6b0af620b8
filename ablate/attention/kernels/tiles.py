"""Tile-level building blocks shared by the forward, backward and dropout-mask kernels.

Every kernel works on tiles of BLOCK_M queries (rows, offsets `offs_m`) x BLOCK_N keys (columns, `offs_n`) of
one (batch, head) pair `bh`. Bucket-id tiles mark pairs outside the L x L map with -1, so a gathered load or a
bucket reduction never needs a second mask.

This module holds only @triton.jit functions and imports nothing from the package but through relative
imports, so that dispatch.py can load a second, interpreted copy of it (see the package docstring).

The kernels call no @triton.jit function of Triton's own library (tl.sum, tl.max, tl.zeros, tl.rand, ...):
those were decorated when triton was first imported, as compiled functions unless TRITON_INTERPRET was set
then, and the interpreter cannot call a compiled function. Builtins (tl.reduce, tl.full, tl.math.umulhi,
...) are fine. The reductions below pass the library's own combine functions to tl.reduce, which is what
tl.sum/tl.max/tl.min do and what the interpreter recognises (by identity) and runs as one numpy call.
"""
import triton
import triton.language as tl
from triton.language.standard import _elementwise_max, _elementwise_min, _sum_combine


@triton.jit
def reduce_sum(x, AXIS: tl.constexpr):
    return tl.reduce(x, AXIS, _sum_combine)


@triton.jit
def reduce_max(x, AXIS: tl.constexpr):
    return tl.reduce(x, AXIS, _elementwise_max)


@triton.jit
def reduce_min(x, AXIS: tl.constexpr):
    return tl.reduce(x, AXIS, _elementwise_min)


@triton.jit
def philox_uniform(seed, counter):
    """Uniform [0, 1) fp32 for each int64 counter: Philox-4x32 with 10 rounds (Salmon et al., SC 2011).

    Counter (low word, high word, 0, 0), key (seed, 0); the top 24 bits of the first output word, so the
    result is a multiple of 2**-24, exact in fp32.
    """
    c0 = (counter & 0xFFFFFFFF).to(tl.uint32)
    c1 = (counter >> 32).to(tl.uint32)
    c2 = c0 * 0
    c3 = c0 * 0
    k0 = seed.to(tl.uint32)
    k1 = k0 * 0
    for _ in tl.static_range(10):
        hi0 = tl.math.umulhi(c0, 0xD2511F53)
        lo0 = c0 * 0xD2511F53
        hi1 = tl.math.umulhi(c2, 0xCD9E8D57)
        lo1 = c2 * 0xCD9E8D57
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = k0 + 0x9E3779B9
        k1 = k1 + 0xBB67AE85
    return (c0 >> 8).to(tl.float32) * (1.0 / 16777216.0)


@triton.jit
def mma(a, b, PRECISION: tl.constexpr, UPCAST: tl.constexpr):
    """a @ b with fp32 accumulation, operands in their own precision (fp32 operands: PRECISION, e.g. "ieee").

    UPCAST is only set on the interpreter for bf16 operands: its matmul runs numpy on the raw bf16 bits.
    A product of two bf16 numbers is exact in fp32, so upcasting first is the same arithmetic as a bf16 MMA
    with fp32 accumulation.
    """
    if UPCAST:
        out = tl.dot(a.to(tl.float32), b.to(tl.float32), input_precision="ieee")
    else:
        out = tl.dot(a, b, input_precision=PRECISION)
    return out


@triton.jit
def load_rows(ptr, base, offs, L, D, BLOCK_D: tl.constexpr):
    """The (len(offs), BLOCK_D) rows offs of a contiguous (L, D) matrix at ptr + base; zeros outside."""
    cols = tl.arange(0, BLOCK_D)
    mask = (offs[:, None] < L) & (cols[None, :] < D)
    return tl.load(ptr + base + offs[:, None] * D + cols[None, :], mask=mask, other=0.0)


@triton.jit
def store_rows(ptr, base, offs, L, D, value, BLOCK_D: tl.constexpr):
    """Store value (len(offs), BLOCK_D) into the rows offs of a contiguous (L, D) matrix at ptr + base."""
    cols = tl.arange(0, BLOCK_D)
    mask = (offs[:, None] < L) & (cols[None, :] < D)
    tl.store(ptr + base + offs[:, None] * D + cols[None, :], value.to(ptr.dtype.element_ty), mask=mask)


@triton.jit
def load_ids(idmap, offs_m, offs_n, L):
    """The tile idmap[offs_m, offs_n] of a contiguous int32 (L, L) bucket map; -1 outside the map.

    i * L + j stays in int32 for L < 46341.
    """
    mask = (offs_m[:, None] < L) & (offs_n[None, :] < L)
    return tl.load(idmap + offs_m[:, None] * L + offs_n[None, :], mask=mask, other=-1)


@triton.jit
def gather_rows(ptr, row_stride, ids, offs_m, offs_n, BY_KEY: tl.constexpr):
    """ptr[row * row_stride + ids] for the tile, row = the key (BY_KEY) or the query; 0 where ids < 0."""
    if BY_KEY:
        rows = offs_n[None, :]
    else:
        rows = offs_m[:, None]
    return tl.load(ptr + rows * row_stride + ids, mask=ids >= 0, other=0.0)


@triton.jit
def scores(q, k, scale, b, h, offs_m, offs_n, L, KeyMask, tables, table_sb, table_sh, table_sr, logit_ids,
           BY_KEY: tl.constexpr, HAS_MASK: tl.constexpr, PRECISION: tl.constexpr, UPCAST: tl.constexpr):
    """fp32 logits of the tile: scale * q k^T + every bucket term; -inf on padded or out-of-range keys.

    Term t reads tables[t][b', h', row, ids] with size-1 dimensions broadcast through zero strides
    (table_sb/sh/sr); its id map is already transposed on the host when it is indexed by the key, so every
    map is read at [query, key].
    """
    s = mma(q, tl.trans(k), PRECISION, UPCAST) * scale
    for t in tl.static_range(len(tables)):
        ids = load_ids(logit_ids[t], offs_m, offs_n, L)
        base = b.to(tl.int64) * table_sb[t] + h.to(tl.int64) * table_sh[t]
        s += gather_rows(tables[t] + base, table_sr[t], ids, offs_m, offs_n, BY_KEY[t])
    key_ok = offs_n < L
    if HAS_MASK:
        key_ok = key_ok & (tl.load(KeyMask + b * L + offs_n, mask=offs_n < L, other=1) == 0)
    return tl.where(key_ok[None, :], s, float("-inf"))


@triton.jit
def dropout_keep(seed, bh, offs_m, offs_n, L, p):
    """Keep-mask of attention dropout for the tile: philox_uniform(seed, pair index) >= p.

    The pair index ((b * H + h) * L + i) * L + j is in int64 and names every (b, h, i, j) once, so the same
    mask comes back in the backward kernels and in the mask-export kernel, whatever their tiling.
    """
    pair = (bh.to(tl.int64) * L + offs_m[:, None]) * L + offs_n[None, :]
    return philox_uniform(seed, pair) >= p


@triton.jit
def add_by_bucket(acc, x, ids, OFFSET: tl.constexpr, AXIS: tl.constexpr):
    """acc[r, OFFSET + n] += sum of x over tile axis AXIS where ids == n, r indexing the other axis.

    Exact and deterministic: one masked row (or column) reduction per bucket id present in the tile (ids
    between the tile's smallest and largest id; -1 marks padding and never matches).
    """
    lo = reduce_min(tl.where(ids < 0, 1 << 30, ids), None)
    hi = reduce_max(ids, None)
    cols = tl.arange(0, acc.shape[1]) - OFFSET
    for n in range(lo, hi + 1):
        part = reduce_sum(tl.where(ids == n, x, 0.0), AXIS)
        acc += tl.where(cols[None, :] == n, part[:, None], 0.0)
    return acc

"""Export of the attention-dropout keep-mask, with the very function the attention kernels use.

Tests (and anyone who needs to replay a dropout draw in an eager reference) call
launch.dropout_keep_mask, which runs this kernel; it materialises a (B, H, L, L) mask, which the attention
kernels themselves never do.
"""
import triton
import triton.language as tl

from .tiles import dropout_keep


@triton.jit(do_not_specialize=["seed"])
def dropout_keep_mask(Keep, seed, dropout_p, L, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Keep[b, h, i, j] = 1 where the attention kernels keep the pair, for one tile of one (b, h)."""
    offs_m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    bh = tl.program_id(2)
    keep = dropout_keep(seed, bh, offs_m, offs_n, L, dropout_p)
    ptrs = Keep + bh.to(tl.int64) * L * L + offs_m[:, None] * L + offs_n[None, :]
    tl.store(ptrs, keep.to(tl.int8), mask=(offs_m[:, None] < L) & (offs_n[None, :] < L))

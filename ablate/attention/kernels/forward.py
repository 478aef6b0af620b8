"""Forward kernel: one program per (query block, batch x head), online softmax over key blocks.

Per key block it computes the logits of the tile (q k^T, the gathered bucket terms, the key mask), updates the
running row max m and row sum l, and accumulates in registers, both rescaled by exp(m_old - m_new):
  acc[i]      += sum_j a_ij v_j                     (a = exp(s - m), times the dropout keep-mask / (1 - p))
  sums[i, n]  += sum_j a_ij [ids_t(i, j) == n]      (one column range per value term)
At the end both are divided by l, which makes the per-bucket sums the exact attention mass of each bucket.
Stored: out (input dtype), lse = m + log l (fp32, for the backward), sums (B, H, L, sum of buckets) fp32.
"""
import triton
import triton.language as tl

from .tiles import add_by_bucket, dropout_keep, load_ids, load_rows, mma, reduce_max, reduce_sum, scores, store_rows


@triton.jit(do_not_specialize=["seed"])
def attention_forward(
    Q, K, V, Out, Lse, Sums, KeyMask,
    tables, table_sb, table_sh, table_sr, logit_ids, value_ids,
    seed, dropout_p, scale, H, L, D, sums_stride,
    BY_KEY: tl.constexpr, VALUE_OFFSETS: tl.constexpr, SUMS_WIDTH: tl.constexpr,
    HAS_MASK: tl.constexpr, DROPOUT: tl.constexpr, PRECISION: tl.constexpr, UPCAST: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
):
    pid_m = tl.program_id(0)
    bh = tl.program_id(1)
    b = bh // H
    h = bh % H
    base = bh.to(tl.int64) * L * D
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    q = load_rows(Q, base, offs_m, L, D, BLOCK_D)

    m_i = tl.full((BLOCK_M,), float("-inf"), tl.float32)
    l_i = tl.full((BLOCK_M,), 0.0, tl.float32)
    acc = tl.full((BLOCK_M, BLOCK_D), 0.0, tl.float32)
    sums = tl.full((BLOCK_M, SUMS_WIDTH), 0.0, tl.float32)
    for start_n in range(0, L, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        k = load_rows(K, base, offs_n, L, D, BLOCK_D)
        v = load_rows(V, base, offs_n, L, D, BLOCK_D)
        s = scores(q, k, scale, b, h, offs_m, offs_n, L, KeyMask, tables, table_sb, table_sh, table_sr,
                   logit_ids, BY_KEY, HAS_MASK, PRECISION, UPCAST)
        m_new = tl.maximum(m_i, reduce_max(s, 1))
        # A row whose keys so far are all masked keeps m = -inf: shift by 0 there instead of by -inf.
        shift = tl.where(m_new == float("-inf"), 0.0, m_new)
        p = tl.exp(s - shift[:, None])
        alpha = tl.exp(m_i - shift)
        l_i = l_i * alpha + reduce_sum(p, 1)
        if DROPOUT:
            keep = dropout_keep(seed, bh, offs_m, offs_n, L, dropout_p)
            p = tl.where(keep, p * (1.0 / (1.0 - dropout_p)), 0.0)
        acc = acc * alpha[:, None] + mma(p.to(v.dtype), v, PRECISION, UPCAST)
        if len(value_ids) > 0:
            sums = sums * alpha[:, None]
            for t in tl.static_range(len(value_ids)):
                ids = load_ids(value_ids[t], offs_m, offs_n, L)
                sums = add_by_bucket(sums, p, ids, VALUE_OFFSETS[t], 1)
        m_i = m_new

    # Rows with every key masked (undefined by the contract) get out = 0, sums = 0 and lse = +inf, which
    # makes their probabilities 0 in the backward.
    seen = l_i > 0
    inv_l = tl.where(seen, 1.0 / tl.where(seen, l_i, 1.0), 0.0)
    store_rows(Out, base, offs_m, L, D, acc * inv_l[:, None], BLOCK_D)
    lse = tl.where(seen, m_i + tl.log(tl.where(seen, l_i, 1.0)), float("inf"))
    tl.store(Lse + bh.to(tl.int64) * L + offs_m, lse, mask=offs_m < L)
    if len(value_ids) > 0:
        cols = tl.arange(0, SUMS_WIDTH)
        ptrs = Sums + bh.to(tl.int64) * L * sums_stride + offs_m[:, None] * sums_stride + cols[None, :]
        tl.store(ptrs, sums * inv_l[:, None], mask=(offs_m[:, None] < L) & (cols[None, :] < sums_stride))

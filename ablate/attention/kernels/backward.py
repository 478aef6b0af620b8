"""Backward kernels (FA2-style): the probabilities are recomputed from the saved log-sum-exp, never stored.

With s the logits, p = exp(s - lse), a = dropout(p) (keep / (1 - p_drop), or p) and U = dL/dsums (one column
range per value term; dsums @ W^T when the value output is sums @ W):
  dA[i, j] = dO_i . v_j + sum_t U[i, off_t + ids_t(i, j)]
  dP[i, j] = dA[i, j] * keep / (1 - p_drop)
  dS[i, j] = p[i, j] * (dP[i, j] - delta_i),   delta_i = sum_j a_ij dA_ij = dO_i . out_i + U_i . sums_i
  dq = scale * dS k,  dk = scale * dS^T q,  dv = a^T dO,  and for every logit term the per-bucket sums of dS:
  by the query: dT[i, n] = sum_j dS[i, j] [ids(i, j) == n]   (attention_backward_q owns row i)
  by the key:   dT[j, n] = sum_i dS[i, j] [ids(j, i) == n]   (attention_backward_kv owns row j)
Two kernels rather than one with atomics: every output row is written by exactly one program, once, from
registers, so the backward is deterministic; the price is computing p and dP twice.
"""
import triton
import triton.language as tl

from .tiles import add_by_bucket, dropout_keep, gather_rows, load_ids, load_rows, mma, scores, store_rows


@triton.jit
def _dscores(q, k, v, do, lse, delta, scale, b, h, bh, offs_m, offs_n, L, KeyMask, U, u_stride,
             tables, table_sb, table_sh, table_sr, logit_ids, value_ids, seed, dropout_p,
             BY_KEY: tl.constexpr, VALUE_OFFSETS: tl.constexpr, HAS_MASK: tl.constexpr,
             DROPOUT: tl.constexpr, PRECISION: tl.constexpr, UPCAST: tl.constexpr):
    """(a, dS) of the tile: the attention after dropout and the gradient of the logits (both fp32)."""
    s = scores(q, k, scale, b, h, offs_m, offs_n, L, KeyMask, tables, table_sb, table_sh, table_sr,
               logit_ids, BY_KEY, HAS_MASK, PRECISION, UPCAST)
    p = tl.where((offs_m < L)[:, None], tl.exp(s - lse[:, None]), 0.0)
    dp = mma(do, tl.trans(v), PRECISION, UPCAST)
    for t in tl.static_range(len(value_ids)):
        ids = load_ids(value_ids[t], offs_m, offs_n, L)
        dp += gather_rows(U + VALUE_OFFSETS[t], u_stride, ids, offs_m, offs_n, False)
    a = p
    if DROPOUT:
        keep = dropout_keep(seed, bh, offs_m, offs_n, L, dropout_p)
        a = tl.where(keep, p * (1.0 / (1.0 - dropout_p)), 0.0)
        dp = tl.where(keep, dp * (1.0 / (1.0 - dropout_p)), 0.0)
    return a, p * (dp - delta[:, None])


@triton.jit(do_not_specialize=["seed"])
def attention_backward_q(
    Q, K, V, dO, Lse, Delta, U, KeyMask, dQ, dT,
    tables, table_sb, table_sh, table_sr, logit_ids, value_ids,
    seed, dropout_p, scale, H, L, D, u_stride, dt_stride,
    BY_KEY: tl.constexpr, TERM_OFFSETS: tl.constexpr, VALUE_OFFSETS: tl.constexpr,
    HAS_DT: tl.constexpr, DT_WIDTH: tl.constexpr,
    HAS_MASK: tl.constexpr, DROPOUT: tl.constexpr, PRECISION: tl.constexpr, UPCAST: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
):
    """dq and the bucket sums of dS for the terms indexed by the query, for one query block."""
    pid_m = tl.program_id(0)
    bh = tl.program_id(1)
    b = bh // H
    h = bh % H
    base = bh.to(tl.int64) * L * D
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    q = load_rows(Q, base, offs_m, L, D, BLOCK_D)
    do = load_rows(dO, base, offs_m, L, D, BLOCK_D)
    lse = tl.load(Lse + bh.to(tl.int64) * L + offs_m, mask=offs_m < L, other=0.0)
    delta = tl.load(Delta + bh.to(tl.int64) * L + offs_m, mask=offs_m < L, other=0.0)
    u_rows = U + bh.to(tl.int64) * L * u_stride

    dq = tl.full((BLOCK_M, BLOCK_D), 0.0, tl.float32)
    dt = tl.full((BLOCK_M, DT_WIDTH), 0.0, tl.float32)
    for start_n in range(0, L, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        k = load_rows(K, base, offs_n, L, D, BLOCK_D)
        v = load_rows(V, base, offs_n, L, D, BLOCK_D)
        a, ds = _dscores(q, k, v, do, lse, delta, scale, b, h, bh, offs_m, offs_n, L, KeyMask, u_rows, u_stride,
                         tables, table_sb, table_sh, table_sr, logit_ids, value_ids, seed, dropout_p,
                         BY_KEY, VALUE_OFFSETS, HAS_MASK, DROPOUT, PRECISION, UPCAST)
        dq += mma(ds.to(k.dtype), k, PRECISION, UPCAST)
        for t in tl.static_range(len(tables)):
            if not BY_KEY[t]:
                ids = load_ids(logit_ids[t], offs_m, offs_n, L)
                dt = add_by_bucket(dt, ds, ids, TERM_OFFSETS[t], 1)

    store_rows(dQ, base, offs_m, L, D, dq * scale, BLOCK_D)
    if HAS_DT:
        cols = tl.arange(0, DT_WIDTH)
        ptrs = dT + bh.to(tl.int64) * L * dt_stride + offs_m[:, None] * dt_stride + cols[None, :]
        tl.store(ptrs, dt, mask=(offs_m[:, None] < L) & (cols[None, :] < dt_stride))


@triton.jit(do_not_specialize=["seed"])
def attention_backward_kv(
    Q, K, V, dO, Lse, Delta, U, KeyMask, dK, dV, dT,
    tables, table_sb, table_sh, table_sr, logit_ids, value_ids,
    seed, dropout_p, scale, H, L, D, u_stride, dt_stride,
    BY_KEY: tl.constexpr, TERM_OFFSETS: tl.constexpr, VALUE_OFFSETS: tl.constexpr,
    HAS_DT: tl.constexpr, DT_WIDTH: tl.constexpr,
    HAS_MASK: tl.constexpr, DROPOUT: tl.constexpr, PRECISION: tl.constexpr, UPCAST: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
):
    """dk, dv and the bucket sums of dS for the terms indexed by the key, for one key block."""
    pid_n = tl.program_id(0)
    bh = tl.program_id(1)
    b = bh // H
    h = bh % H
    base = bh.to(tl.int64) * L * D
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    k = load_rows(K, base, offs_n, L, D, BLOCK_D)
    v = load_rows(V, base, offs_n, L, D, BLOCK_D)
    u_rows = U + bh.to(tl.int64) * L * u_stride

    dk = tl.full((BLOCK_N, BLOCK_D), 0.0, tl.float32)
    dv = tl.full((BLOCK_N, BLOCK_D), 0.0, tl.float32)
    dt = tl.full((BLOCK_N, DT_WIDTH), 0.0, tl.float32)
    for start_m in range(0, L, BLOCK_M):
        offs_m = start_m + tl.arange(0, BLOCK_M)
        q = load_rows(Q, base, offs_m, L, D, BLOCK_D)
        do = load_rows(dO, base, offs_m, L, D, BLOCK_D)
        lse = tl.load(Lse + bh.to(tl.int64) * L + offs_m, mask=offs_m < L, other=0.0)
        delta = tl.load(Delta + bh.to(tl.int64) * L + offs_m, mask=offs_m < L, other=0.0)
        a, ds = _dscores(q, k, v, do, lse, delta, scale, b, h, bh, offs_m, offs_n, L, KeyMask, u_rows, u_stride,
                         tables, table_sb, table_sh, table_sr, logit_ids, value_ids, seed, dropout_p,
                         BY_KEY, VALUE_OFFSETS, HAS_MASK, DROPOUT, PRECISION, UPCAST)
        dv += mma(tl.trans(a.to(do.dtype)), do, PRECISION, UPCAST)
        dk += mma(tl.trans(ds.to(q.dtype)), q, PRECISION, UPCAST)
        for t in tl.static_range(len(tables)):
            if BY_KEY[t]:
                ids = load_ids(logit_ids[t], offs_m, offs_n, L)
                dt = add_by_bucket(dt, ds, ids, TERM_OFFSETS[t], 0)

    store_rows(dK, base, offs_n, L, D, dk * scale, BLOCK_D)
    store_rows(dV, base, offs_n, L, D, dv, BLOCK_D)
    if HAS_DT:
        cols = tl.arange(0, DT_WIDTH)
        ptrs = dT + bh.to(tl.int64) * L * dt_stride + offs_n[:, None] * dt_stride + cols[None, :]
        tl.store(ptrs, dt, mask=(offs_n[:, None] < L) & (cols[None, :] < dt_stride))

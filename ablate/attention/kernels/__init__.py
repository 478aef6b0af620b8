"""Fused (flash-style) attention with bucketed relative-position terms, in Triton, forward and backward.

    fused_attention(q, k, v, logits=(), values=(), key_padding_mask=None, dropout_p=0.0, scale=None)

computes what ablate.pe.terms defines (BucketLogits added to the logits, BucketValues added to the output)
without any (B, H, L, L) tensor in memory: tiles of queries x keys live in registers, the softmax is online,
the logit terms are gathered from their (B|1, H|1, L|1, NB) tables by the bucket id of each pair, the value
terms' per-bucket attention sums are accumulated in the kernel (rescaled with the running output), and the
backward recomputes the probabilities from the saved log-sum-exp. dropout_keep_mask(seed, B, H, L, p)
returns the keep-mask the kernels draw for a seed; draw_dropout_seed() is how they draw one.

Files: tiles.py (shared @triton.jit helpers), forward.py, backward.py, dropout.py (kernels), dispatch.py
(compiled or interpreted copy), launch.py (grids, tile sizes tuned per kind of call, arguments), ops.py (torch
custom ops and autograd), function.py (fused_attention: checks, term packing, value-table matmul).

CPU or GPU: one code path, chosen per call by the device of q. CUDA tensors run the kernels compiled by
Triton. CPU tensors run them through Triton's interpreter, with no environment variable needed: Triton
picks interpretation when @triton.jit decorates a function (from TRITON_INTERPRET or
triton.knobs.runtime.interpret), so dispatch.py imports the kernel modules a second time, under
ablate.attention.kernels._interpreted, with the interpret knob switched on for the duration of that import. Import
order and other modules' use of Triton do not matter. Setting TRITON_INTERPRET=1 before the first import
interprets the CUDA path too (for debugging).

torch.compile sees two opaque custom ops (ablate::rpe_fused_attention and its backward) with fake
implementations and autograd registered, so a compiled model that calls fused_attention neither breaks the
graph at the op nor traces into Triton.
"""
from .function import fused_attention
from .launch import draw_dropout_seed, dropout_keep_mask

__all__ = ["draw_dropout_seed", "dropout_keep_mask", "fused_attention"]

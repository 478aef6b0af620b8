"""The tiles of the attention kernels on a GPU: chosen by Triton's autotuner among a handful of configs.

A config is a tile of BLOCK_M queries x BLOCK_N keys, the warps of a program and the pipeline depth. 32 x 32
(4 warps, 2 stages) was the one fixed tile before: small next to the 64- and 128-row tiles FlashAttention-class
kernels use on Hopper, which reuse each key tile for more queries but keep more per-pair state in registers
(id tiles, gathered table values, per-bucket sums), so that with several terms, dropout or 81 buckets ptxas
moves some of it to the stack. Which wins depends on the terms, the length, the head size and the dtype: the
autotuner times every config on the first call of each kind (key: L, D, the dtypes of the tensor arguments
and the term layout, i.e. the constexpr options that change the code), keeps the fastest for the process and
writes its timings to Triton's cache directory, so another process with the same kernels and key skips both
the timing and the compilation of the losers. Every kernel only stores its outputs, so the timing reruns
change nothing. The interpreter (CPU tensors) is never tuned: launch.INTERPRETER_BLOCKS.
"""
import torch
import triton
import triton.testing
from triton import Config
from triton.runtime import Autotuner

GPU_CONFIGS = [Config({"BLOCK_M": m, "BLOCK_N": n}, num_warps=warps, num_stages=2)
               for m, n, warps in ((32, 32, 4), (64, 32, 4), (64, 64, 4), (128, 64, 8))]

_LAYOUT = ["BY_KEY", "VALUE_OFFSETS", "HAS_MASK", "DROPOUT"]
KEYS = {  # the arguments whose values pick a config (with the dtypes, which Triton adds)
    "forward": ["L", "D", "SUMS_WIDTH", *_LAYOUT],
    "backward_q": ["L", "D", "TERM_OFFSETS", "DT_WIDTH", *_LAYOUT],
    "backward_kv": ["L", "D", "TERM_OFFSETS", "DT_WIDTH", *_LAYOUT],
}


def configs_for(configs: list[Config], named_args: dict, **kwargs: object) -> list[Config]:
    """The configs tried for a call: all in half precision; in fp32 (exact "ieee" dots on the FMA units, twice
    the registers per element) none with 128 rows, whose backward ptxas compiles for minutes into a 17 KB stack
    frame per thread (sm_90, iRPE cross on Q, K, V with dropout)."""
    fp32 = {**named_args, **kwargs}["Q"].dtype == torch.float32  # launches pass every argument by name
    return [c for c in configs if not (fp32 and c.kwargs["BLOCK_M"] > 64)]


def _bench(call, quantiles):
    return triton.testing.do_bench(call, warmup=5, rep=20, quantiles=quantiles)


def autotuned(name: str, kernel: triton.JITFunction) -> Autotuner:
    """The compiled kernel `name` (a key of KEYS) behind Triton's autotuner over GPU_CONFIGS."""
    return triton.autotune(GPU_CONFIGS, key=KEYS[name], prune_configs_by={"early_config_prune": configs_for},
                           do_bench=_bench, cache_results=True)(kernel)


def describe(config: Config) -> str:
    """A config as BLOCK_Mx BLOCK_N/w warps/s stages, e.g. 64x64/w4/s2."""
    return f"{config.kwargs['BLOCK_M']}x{config.kwargs['BLOCK_N']}/w{config.num_warps}/s{config.num_stages}"

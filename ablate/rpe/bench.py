"""Timing of one iRPE attention layer at DeiT-S shape (dim 384, 6 heads, 14x14 + class token): each backend
against eager, median of several steps, in one process.

    python -m ablate.rpe.bench [--device cuda] [--batch 8] [--steps 10]

Forward+backward, except FlexAttention on CPU, which torch runs forward only: that row compares forward
passes. Product method, ratio 1.9 (50 buckets), shared heads: the released models' RPE. The backends compared
in one row take their steps in turn, so a busy machine slows them alike.
"""
import argparse
import statistics
import time
from collections.abc import Callable

import torch
from tabulate import tabulate

from ablate.rpe.attention import RPEAttention
from ablate.rpe.config import RPEConfig

DIM, HEADS, GRID = 384, 6, (14, 14)
ROWS = [(None, "-"), ("k", "contextual"), ("qk", "contextual"), ("qkv", "contextual"), ("k", "bias"), ("qk", "bias")]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def attention_step(backend: str, rpe_on: str | None, mode: str = "contextual", batch: int = 8,
                   device: str = "cpu", backward: bool = True) -> Callable[[], None]:
    """A closure running one forward (+ backward) of a fresh RPEAttention layer at DeiT-S shape."""
    torch.manual_seed(0)
    config = RPEConfig(method="product", mode=mode, ratio=1.9, rpe_on=rpe_on, skip=1) if rpe_on else None
    layer = RPEAttention(DIM, HEADS, qkv_bias=True, rpe=config, backend=backend).to(device)
    layer.grid = GRID
    x = torch.randn(batch, 1 + GRID[0] * GRID[1], DIM, device=device, requires_grad=backward)

    def step() -> None:
        if backward:
            layer(x).sum().backward()
        else:
            with torch.no_grad():
                layer(x)
    return step


def median_times(steps_fns: list[Callable[[], None]], device: str = "cpu", steps: int = 10,
                 warmup: int = 2) -> list[float]:
    """Median seconds per call of each step function, taking turns (warm-up calls, compilation included, dropped)."""
    times = [[] for _ in steps_fns]
    for _ in range(warmup + steps):
        for fn, record in zip(steps_fns, times):
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            record.append(time.perf_counter() - start)
    return [statistics.median(record[warmup:]) for record in times]


def time_attention(backend: str, rpe_on: str | None, mode: str = "contextual", batch: int = 8,
                   device: str = "cpu", steps: int = 10, warmup: int = 2, backward: bool = True) -> float:
    """Median seconds of one forward (+ backward) of an RPEAttention layer at DeiT-S shape."""
    step = attention_step(backend, rpe_on, mode, batch, device, backward)
    return median_times([step], device, steps, warmup)[0]


def main() -> None:
    """Print one table: per RPE variant and backend, eager and the backend in ms, and backend / eager."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    on_cpu = args.device == "cpu"
    # (backward?, backends timed against eager in turn); CPU flex has no backward, so it gets its own forward row.
    groups = [(True, ["sdpa", "auto"]), (False, ["flex"])] if on_cpu else [(True, ["sdpa", "auto", "flex"])]
    table = []
    for rpe_on, mode in ROWS:
        for backward, backends in groups:
            fns = [attention_step(b, rpe_on, mode, args.batch, args.device, backward) for b in ["eager"] + backends]
            eager, *others = median_times(fns, args.device, args.steps)
            for backend, seconds in zip(backends, others):
                table.append([rpe_on or "none", mode, backend, "fwd+bwd" if backward else "fwd",
                              f"{eager * 1e3:.1f}", f"{seconds * 1e3:.1f}", f"{seconds / eager:.2f}"])
    print(f"one attention layer, DeiT-S shape, batch {args.batch}, {args.device}, "
          f"{torch.get_num_threads()} threads, median of {args.steps} steps")
    print(tabulate(table, headers=["RPE", "mode", "backend", "pass", "eager ms", "backend ms", "backend / eager"]))


if __name__ == "__main__":
    main()

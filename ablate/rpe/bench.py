"""Timing of one iRPE attention layer at DeiT-S shape (dim 384, 6 heads, 14x14 + class token): each backend
against eager, median of several steps, in one process.

    python -m ablate.rpe.bench [--device cuda] [--batch 8] [--steps 10]

Forward+backward, except FlexAttention on CPU, which torch runs forward only: that row compares forward
passes. Product method, ratio 1.9 (50 buckets), shared heads: the released models' RPE.
"""
import argparse
import statistics
import time

import torch
from tabulate import tabulate

from ablate.rpe.attention import RPEAttention
from ablate.rpe.config import RPEConfig

DIM, HEADS, GRID = 384, 6, (14, 14)
ROWS = [(None, "-"), ("k", "contextual"), ("qk", "contextual"), ("qkv", "contextual"), ("k", "bias"), ("qk", "bias")]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_attention(backend: str, rpe_on: str | None, mode: str = "contextual", batch: int = 8,
                   device: str = "cpu", steps: int = 10, warmup: int = 2, backward: bool = True) -> float:
    """Median seconds of one forward (+ backward) of an RPEAttention layer at DeiT-S shape."""
    torch.manual_seed(0)
    config = RPEConfig(method="product", mode=mode, ratio=1.9, rpe_on=rpe_on, skip=1) if rpe_on else None
    layer = RPEAttention(DIM, HEADS, qkv_bias=True, rpe=config, backend=backend).to(device)
    layer.grid = GRID
    x = torch.randn(batch, 1 + GRID[0] * GRID[1], DIM, device=device, requires_grad=backward)
    times = []
    for _ in range(warmup + steps):
        _sync(device)
        start = time.perf_counter()
        if backward:
            layer(x).sum().backward()
        else:
            with torch.no_grad():
                layer(x)
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times[warmup:])


def main() -> None:
    """Print one table: per RPE variant, eager and each backend in ms, and the ratio backend / eager."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    table = []
    for rpe_on, mode in ROWS:
        eager = {}
        for backend in ("sdpa", "auto", "flex"):
            backward = not (backend == "flex" and args.device == "cpu")
            if backward not in eager:
                eager[backward] = time_attention("eager", rpe_on, mode, args.batch, args.device, args.steps,
                                                 backward=backward)
            ms = time_attention(backend, rpe_on, mode, args.batch, args.device, args.steps, backward=backward)
            table.append([rpe_on or "none", mode, backend, "fwd+bwd" if backward else "fwd",
                          f"{eager[backward] * 1e3:.2f}", f"{ms * 1e3:.2f}", f"{ms / eager[backward]:.2f}"])
    print(f"one attention layer, DeiT-S shape, batch {args.batch}, {args.device}, "
          f"{torch.get_num_threads()} threads, median of {args.steps} steps")
    print(tabulate(table, headers=["RPE", "mode", "backend", "pass", "eager ms", "backend ms", "backend / eager"]))


if __name__ == "__main__":
    main()

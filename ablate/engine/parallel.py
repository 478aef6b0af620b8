"""How a sweep shares this machine's CPUs: how many runs at once, how many threads each, how idle threads wait.

Why (measured by python -m ablate.bench.threads, README "Threads and runs at once"): a small run barely uses a
second thread, yet with two its every step waits at OpenMP barriers for whichever thread lost its core, so on a
shared machine it slows down far more than the load it shares with. Small CPU runs therefore go side by side
with one thread each (no barriers at all), and threads that run out of work sleep instead of spinning on a core
another process could use. Torch-free: the sweep decides before anything loads.
"""
import os

from ablate.engine.resources import PLACED, cpu_count, gpu_ids

AUTO = "auto"
# Read by OpenMP (libgomp, Intel's) when torch loads it, so it must be in the environment before torch is
# imported: in this process before the engine loads, in every process a sweep starts by inheritance.
PASSIVE = {"OMP_WAIT_POLICY": "PASSIVE"}


def parse_jobs(text: str) -> int | None:
    """-j/--jobs as runs at once; None for auto. ValueError (one line) for anything else."""
    if text == AUTO:
        return None
    try:
        jobs = int(text)
    except ValueError:
        raise ValueError(f"invalid value for '-j' / '--jobs': {text!r} is neither a number of runs nor auto") \
            from None
    if jobs < 1:
        raise ValueError(f"-j/--jobs must be at least 1, or auto (got {jobs})")
    return jobs


def on_gpu(config: dict) -> bool:
    """Whether a run's resolved config sends it to a GPU on this machine."""
    device = config["runtime"]["device"]
    return device.startswith("cuda") or (device in PLACED and bool(gpu_ids()))


def parallel_runs(jobs: int | None, configs: list[dict]) -> int:
    """Runs at once for the runs to do (their resolved configs): -j N as given; auto runs CPU runs side by side,
    as many as the usable cores hold at their runtime.threads (0 counts as one), and GPU runs one at a time,
    each with the whole GPU (-j N shares the GPUs)."""
    if jobs is not None:
        return jobs
    if not configs or any(on_gpu(c) for c in configs):
        return 1
    per_run = max(c["runtime"]["threads"] or 1 for c in configs)
    return max(1, min(len(configs), cpu_count() // per_run))


def threads_per_run(parallel: int) -> int:
    """Torch threads for a run whose runtime.threads is 0 (usable cores shared by the runs at once)."""
    return max(1, cpu_count() // parallel)


def wait_passively() -> None:
    """Idle OpenMP threads sleep rather than spin, in this process (if torch is not loaded yet) and in every
    process it starts; a policy already in the environment is kept."""
    for key, value in PASSIVE.items():
        os.environ.setdefault(key, value)

"""Benchmark: a small sweep's wall time under two thread policies, on a quiet machine and with one core busy.
Run: python -m ablate.bench.threads [--rounds 1 --train-limit 4000 --epochs 2]

A  the old default: -j 1 (one run at a time), runtime.threads=0 = every usable core, OpenMP's own waiting
   (libgomp: spin a while at a barrier, then sleep);
B  today's default: -j auto (CPU runs side by side, one per usable core, one thread each), passive waiting.

The sweep is 4 runs of the default study cut down (deit_pico on Fashion-MNIST, no RPE and iRPE-K bias, seeds 0
and 1), each sweep in a fresh interpreter writing a fresh results directory. "loaded" is the same sweep while a
process this benchmark starts spins on one core (killed after). The four cases take turns within each round;
the table gives each policy's median wall time quiet and loaded and their ratio.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ablate.engine.resources import cpu_count

# An empty OMP_WAIT_POLICY is libgomp's default, as if unset (the sweep only sets one that is absent).
POLICIES = {"A": (["-j", "1"], {"OMP_WAIT_POLICY": ""}), "B": ([], {})}
BUSY = "while True: pass"


def load() -> str:
    """The load averages over 1, 5 and 15 minutes."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def sweep(work: Path, policy: str, busy: bool, size: list[str]) -> float:
    """Seconds one sweep takes under the policy, with a spinning process beside it when busy."""
    options, env = POLICIES[policy]
    command = [sys.executable, "-m", "ablate.cli", "sweep", "rpe=none,irpe_k_bias", "seed=0,1", *size,
               "logging.tensorboard=false", *options, "--results-dir", str(work)]
    spinner = subprocess.Popen([sys.executable, "-c", BUSY]) if busy else None
    try:
        start = time.perf_counter()
        done = subprocess.run(command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
        seconds = time.perf_counter() - start
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    if done.returncode != 0:
        sys.exit(f"policy {policy} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return seconds


def main() -> None:
    """Print each sweep's wall time as it ends, then per policy the medians quiet and loaded and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1, help="each of the four cases once a round")
    parser.add_argument("--train-limit", type=int, default=4000, help="training images per run")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    size = [f"data.train_limit={args.train_limit}", "data.val_limit=1000", f"train.epochs={args.epochs}"]
    print(f"4-run sweep ({' '.join(size)}), {cpu_count()} usable cores, load average before {load()}")
    cases = [(policy, busy) for busy in (False, True) for policy in POLICIES]
    times: dict[tuple[str, bool], list[float]] = {case: [] for case in cases}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for policy, busy in cases if r % 2 == 0 else cases[::-1]:  # alternate the order against drift
                before = load()
                seconds = sweep(Path(tmp) / f"{policy}-{busy}-{r}", policy, busy, size)
                times[policy, busy].append(seconds)
                print(f"round {r + 1}  {policy} {'loaded' if busy else 'quiet '}  {seconds:6.1f} s  "
                      f"(load average before: {before})", flush=True)
    print(f"{'policy':<8}{'quiet s':>9}{'loaded s':>10}{'loaded/quiet':>14}")
    for policy in POLICIES:
        quiet, loaded = statistics.median(times[policy, False]), statistics.median(times[policy, True])
        print(f"{policy:<8}{quiet:>9.1f}{loaded:>10.1f}{loaded / quiet:>13.2f}x")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()

"""Benchmark: the commands that should answer at once, each timed in a fresh interpreter as a user types it.
Run: python -m ablate.bench.commands [--small 320] [--large 10000] [--repeat 3] [--no-large]

A command's time is the median wall time of --repeat starts of `python -m ablate.cli ...` (interpreter start and
every import included). The results directories are made here, in a temporary folder, from real configs: the
default study's grid widened to 32 iRPE settings (mode and Q/K/V placement x method x head sharing) and as many
seeds as make the size asked for, each run completed with three epochs of metrics, through RunDir as a run
writes them. "nothing to do" is `ablate sweep` on a results directory holding every run of the default sweep,
finished (its plan is checked first: a benchmark never trains). Commands compose from the user's cache of
compositions (ablate.config.cache) as they do after their first start; one row times a plan with nothing cached,
as after an edit of conf/ or of ablate. Goals: under 1 s, and for 10,000 records `ls` and `report` under 2 s, html
under 5 s; rows without a goal are for reference (the paper's layout plans the seeds of 14 tables). The load
average before and after says whether the machine was quiet.
"""
import argparse
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ablate.bench.threads import load

# The settings of a synthetic study: 4 x 4 x 2 = 32 rows of a report.
GRID = ["rpe=irpe_k_bias,irpe_k,irpe_qk,irpe_qkv", "rpe.method=euc,quant,cross,product", "rpe.shared_head=true,false"]
SETTINGS = 32
INSTANT, LARGE, HTML = 1.0, 2.0, 5.0  # goals, seconds
PAPER_RUNS = Path(__file__).resolve().parents[2] / "results" / "paper" / "runs"  # shipped with a checkout


def write_runs(results: Path, overrides: list[str]) -> int:
    """Write a completed run (record and three epochs of metrics) for every job of a sweep; its count.

    The record is new_record's for the first job and a copy with each later job's own identity, config and
    metrics (new_record asks git and the package metadata each time: 20 ms a record)."""
    from ablate.results.records import COMPLETED, config_hashes, new_record
    from ablate.results.rundir import RunDir
    from ablate.sweep.plan import resolve

    jobs, configs = resolve(overrides)
    rng = random.Random(0)
    template = None
    for job, config in zip(jobs, configs):
        run = RunDir.of(results, config)
        run.path.mkdir(parents=True)
        level = 60 + 10 * rng.random()
        epochs = [{"epoch": e, "top1": level - 8 / (e + 1) + rng.gauss(0, 1), "top5": 95.0, "loss": 1.0 / (e + 1),
                   "images": 10000, "epoch_time_s": 20.0} for e in range(3)]
        run.reset_metrics(epochs)
        metrics = {k: v for k, v in epochs[-1].items() if k in ("top1", "top5", "loss")}
        if template is None:
            template = new_record(config, run.name, job, COMPLETED, None, metrics, device="cpu")
        config_hash, group_hash = config_hashes(config)
        run.write_record({**template, "run_id": run.name, "metrics": metrics, "config": config,
                          "identity": {"config_hash": config_hash, "group_hash": group_hash, "overrides": job}})
    return len(jobs)


def seconds(args: list[str], repeat: int, expect: int = 0, cold: Path | None = None) -> float:
    """Median wall time of `python -m ablate.cli ARGS` over repeat fresh starts (exits naming the command if it
    does not end with the expected code); cold: each start with an empty user cache, made under this folder."""
    times = []
    for i in range(repeat + (not cold)):  # a warm start first, untimed: compositions cached, files in memory
        env = {**os.environ, "XDG_CACHE_HOME": str(cold / str(i))} if cold else None
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "ablate.cli", *args], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, timeout=120, env=env)
        if cold or i:
            times.append(time.perf_counter() - start)
        if done.returncode != expect:
            sys.exit(f"ablate {' '.join(args)}: exit {done.returncode}, expected {expect}: "
                     f"{(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return statistics.median(times)


def nothing_to_do(results: Path) -> None:
    """Exit unless the default sweep's plan in results has nothing left to run (so timing it never trains)."""
    from ablate.sweep.plan import plan_runs

    left = [job.label for job in plan_runs([], results) if not job.done]
    if left:
        sys.exit(f"the finished default sweep still has {len(left)} runs to do, e.g. {left[0]}")


def cases(work: Path, small: int, large: int | None) -> list[tuple[str, list[str], float | None, int, bool]]:
    """(label, arguments, goal in seconds or None, expected exit code, with an empty cache) of every command timed,
    its directories written."""
    done, few, new = work / "done", work / "few", str(work / "new")
    write_runs(done, [])
    nothing_to_do(done)
    count = write_runs(few, [*GRID, f"seed=range(0,{math.ceil(small / SETTINGS)})"])
    zoo = ["sweep", "--dry-run", "experiment=pe_zoo", "--results-dir", new]
    rows = [("--help", ["--help"], INSTANT, 0, False),
            ("--version", ["--version"], INSTANT, 0, False),
            ("refused typo (rpe=irpe_kk)", ["sweep", "rpe=irpe_kk", "--results-dir", new], INSTANT, 2, False),
            ("config", ["config"], INSTANT, 0, False),
            ("sweep --dry-run (default, 6 runs)", ["sweep", "--dry-run", "--results-dir", str(done)], INSTANT, 0, False),
            ("sweep --dry-run experiment=pe_zoo (80 runs)", zoo, INSTANT, 0, False),
            ("  the same, nothing cached (first plan after an edit)", zoo, None, 0, True),
            ("sweep, nothing to do (6 finished runs)", ["sweep", "--results-dir", str(done)], INSTANT, 0, False),
            (f"ls ({count} runs)", ["ls", "--results-dir", str(few)], INSTANT, 0, False),
            (f"report ({count} runs)", ["report", "--results-dir", str(few)], INSTANT, 0, False),
            (f"report --baseline rpe.method=euc ({count} runs)",
             ["report", "--results-dir", str(few), "--baseline", "rpe.method=euc"], INSTANT, 0, False)]
    if PAPER_RUNS.is_dir():
        shipped = sum(1 for _ in PAPER_RUNS.glob("*/*/record.json"))
        rows.append((f"report --experiment paper ({shipped} shipped runs)",
                     ["report", "--experiment", "paper", "--results-dir", str(PAPER_RUNS)], None, 0, False))
    if large:
        many = work / "many"
        count = write_runs(many, [*GRID, f"seed=range(0,{math.ceil(large / SETTINGS)})"])
        html = ["--format", "html", "--output", str(work / "index.html")]
        rows += [(f"ls ({count} runs)", ["ls", "--results-dir", str(many)], LARGE, 0, False),
                 (f"report ({count} runs)", ["report", "--results-dir", str(many)], LARGE, 0, False),
                 (f"report --format html ({count} runs)", ["report", "--results-dir", str(many), *html], HTML, 0,
                  False)]
    return rows


def main() -> None:
    """Write the results directories, then print each command's median time, its goal and whether it meets it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=320, help="records of the few-hundred-run directory")
    parser.add_argument("--large", type=int, default=10000, help="records of the large directory")
    parser.add_argument("--no-large", action="store_true", help="skip the large directory")
    parser.add_argument("--repeat", type=int, default=3, help="fresh starts per command (the median is kept)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ablate-bench-") as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        rows = cases(work, args.small, None if args.no_large else args.large)
        print(f"directories written in {time.perf_counter() - start:.0f} s; load average {load()}")
        if os.environ.get("PYTHONDONTWRITEBYTECODE"):
            print("PYTHONDONTWRITEBYTECODE is set: every start compiles ablate's sources (about 0.1 s more than an "
                  "install that keeps its bytecode)")
        print(f"{'command':<56} {'median s':>8} {'goal s':>6}  meets")
        for label, arguments, goal, code, cold in rows:
            took = seconds(arguments, args.repeat, code, work / "cold" if cold else None)
            verdict = f"{goal:6.1f}  {'yes' if took < goal else 'NO'}" if goal else f"{'-':>6}"
            print(f"{label:<56} {took:8.2f} {verdict}", flush=True)
        print(f"load average {load()}")


if __name__ == "__main__":
    main()

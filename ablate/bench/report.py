"""Benchmark: `ablate report` on N synthetic run records (default 10,000). Run: python -m ablate.bench.report"""
import argparse
import copy
import json
import random
import tempfile
import time
from pathlib import Path

from ablate.results.records import RECORD_SCHEMA, config_hashes
from ablate.results.report import load_records, summarize, to_markdown
from ablate.results.rundir import RunDir
from ablate.config.compose import Composer

METHODS = ("euc", "quant", "cross", "product")


def synthetic_records(results: Path, n: int) -> None:
    """Write n realistic records (full default config) over rpe.method x rpe.mode x seed."""
    with Composer() as composer:
        from omegaconf import OmegaConf
        base = OmegaConf.to_container(composer.config(["rpe=irpe_k"]), resolve=True)
    rng = random.Random(0)
    for i in range(n):
        config = copy.deepcopy(base)
        config["rpe"]["method"] = METHODS[i % 4]
        config["rpe"]["mode"] = ("bias", "contextual")[i // 4 % 2]
        config["seed"] = i // 8
        config_hash, group_hash = config_hashes(config)
        directory = results / config["name"] / config_hash[:12]
        directory.mkdir(parents=True)
        record = {"schema": RECORD_SCHEMA, "run_id": directory.name, "experiment": config["name"], "task": "classification",
                  "status": "completed", "error": None,
                  "identity": {"config_hash": config_hash, "group_hash": group_hash, "overrides": []},
                  "metrics": {"epochs": 10, "params": 457130, "macs": 2334144, "top1": rng.gauss(88, 1),
                              "top5": rng.gauss(99, 0.3), "loss": rng.gauss(0.4, 0.05), "best_top1": 89.0,
                              "wall_time_s": 60.0, "throughput": 1000.0},
                  "resumed_at_epochs": [], "provenance": {"git_commit": "0" * 40, "device": "cpu"},
                  "config": config}
        (directory / RunDir.RECORD).write_text(json.dumps(record, indent=1))


def main() -> None:
    """Write the records to a temporary directory, then time loading and summarising them."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=10_000)
    n = parser.parse_args().n
    with tempfile.TemporaryDirectory() as tmp:
        synthetic_records(Path(tmp), n)
        start, cpu = time.perf_counter(), time.process_time()
        frame = load_records(Path(tmp))
        loaded = time.perf_counter()
        summary = summarize(frame, metrics=("top1", "top5"))
        text = to_markdown(summary)
        end, cpu_end = time.perf_counter(), time.process_time()
    print(text)
    # CPU time is printed too: on a shared machine the wall time includes waiting for other processes.
    print(f"{len(frame)} records: load {loaded - start:.2f} s, summarise+render {end - loaded:.2f} s, "
          f"total {end - start:.2f} s wall, {cpu_end - cpu:.2f} s CPU")


if __name__ == "__main__":
    main()

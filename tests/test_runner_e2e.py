"""End to end on scikit-learn digits: sweeps record runs, reruns train nothing, killed runs resume."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FAST, folder_with_a_corrupt_image

from ablate.results.rundir import RunDir, run_dirs

GRID = ["rpe=none,irpe_k", "train.smoothing=0.0,0.1"]


def records(results: Path) -> dict[str, dict]:
    return {d.name: RunDir(d).record() for d in run_dirs(results)}


def test_sweep_records_reports_and_reruns_nothing(cli, results):
    first = cli("sweep", *FAST, *GRID, results=results)
    assert first.exit_code == 0, first.output
    assert "4 runs, 0 done, 4 to do" in first.stdout
    for directory in run_dirs(results):  # piped: a whole line per epoch of each run, and one as it ends
        lines = [line for line in first.stdout.splitlines() if line.startswith(f"  {directory.name}  ")]
        assert [line.split("  ")[2] for line in lines] == ["epoch 1/2", "epoch 2/2", "completed"]
        label = " ".join(RunDir(directory).record()["identity"]["overrides"])
        assert all(line.endswith(label) and len(line) > 80 for line in lines)
    runs = records(results)
    assert len(runs) == 4 and {r["status"] for r in runs.values()} == {"completed"}
    for directory in run_dirs(results):
        assert [row["epoch"] for row in RunDir(directory).metrics()] == [0, 1]
        assert (directory / "checkpoint.pth").is_file() and (directory / "config.yaml").is_file()
    by_rpe = {r["config"]["rpe"]["method"]: r["metrics"]["params"] for r in runs.values()}
    assert by_rpe["product"] > by_rpe["none"]  # the iRPE tables are in the model
    assert all(r["metrics"]["macs"] > 0 and r["metrics"]["throughput"] > 0 for r in runs.values())

    report = cli("report", "--format", "json", results=results)
    assert report.exit_code == 0, report.output
    rows = json.loads(report.stdout)
    assert len(rows) == 4 and all(row["n"] == 1 for row in rows)
    assert {(row["rpe.method"], row["train.smoothing"]) for row in rows} == \
        {("none", 0.0), ("none", 0.1), ("product", 0.0), ("product", 0.1)}
    top1 = {(r["config"]["rpe"]["method"], r["config"]["train"]["smoothing"]): r["metrics"]["top1"]
            for r in runs.values()}
    assert all(row["top1_mean"] == pytest.approx(top1[(row["rpe.method"], row["train.smoothing"])]) for row in rows)

    before = {p: p.stat().st_mtime_ns for p in results.rglob("*") if p.is_file()}
    again = cli("sweep", *FAST, *GRID, results=results)
    assert again.exit_code == 0 and "4 runs, 4 done, 0 to do" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in results.rglob("*") if p.is_file()} == before


def _train_command(results: Path, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "ablate.cli", "train", *overrides, "--results-dir", str(results)]


def test_killed_run_resumes_from_checkpoint_and_matches_uninterrupted(cli, tmp_path):
    overrides = [*FAST, "train.epochs=8", "rpe=irpe_k"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_train_command(killed, *overrides), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    directory = None
    while time.monotonic() < deadline:
        dirs = list(run_dirs(killed))
        if dirs and (dirs[0] / "checkpoint.pth").exists():
            directory = dirs[0]
            break
        time.sleep(0.02)
    assert directory is not None, "no checkpoint appeared"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert RunDir(directory).record() is None  # killed before the end
    done_before = len(RunDir(directory).metrics())
    assert 1 <= done_before < 8

    resumed = cli("train", *overrides, results=killed)
    assert resumed.exit_code == 0, resumed.output
    record = RunDir(directory).record()
    assert record["status"] == "completed" and record["resumed_at_epochs"] == [done_before]
    assert [row["epoch"] for row in RunDir(directory).metrics()] == list(range(8))

    clean = tmp_path / "clean"
    assert cli("train", *overrides, results=clean).exit_code == 0
    reference = next(run_dirs(clean)).record()
    for key in ("top1", "top5", "loss", "train_loss"):
        assert record["metrics"][key] == reference["metrics"][key]


def test_failing_run_is_recorded_and_the_sweep_goes_on(cli, results, tmp_path, monkeypatch):
    """A corrupt image in a folder (decoded by two DataLoader worker processes) fails its run, named in the record
    and on the sweep's line for the run; the other run completes."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    bad = folder_with_a_corrupt_image(tmp_path / "images")
    result = cli("sweep", *FAST, "data=digits,folder", f"data.root={tmp_path / 'images'}", "data.img_size=8",
                 "runtime.workers=2", results=results)
    assert result.exit_code == 1
    statuses = {r["config"]["data"]["name"]: r for r in records(results).values()}
    assert statuses["digits"]["status"] == "completed"
    assert statuses["folder"]["status"] == "failed"
    assert statuses["folder"]["error"].startswith(f"UnreadableImage: unreadable image {bad} ")
    assert [line for line in result.stdout.splitlines() if str(bad) in line]  # named where the run's end is said
    failed_dir = next(d for d in run_dirs(results) if RunDir(d).record()["status"] == "failed")
    assert "Traceback" in (failed_dir / "error.txt").read_text()


def test_nan_loss_ends_run_as_diverged(cli, results):
    result = cli("train", *FAST, "train.base_lr=1e30", "train.epochs=3", results=results)
    assert result.exit_code == 0, result.output
    (record,) = records(results).values()
    assert record["status"] == "diverged" and "loss became" in record["error"]
    again = cli("train", *FAST, "train.base_lr=1e30", "train.epochs=3", results=results)
    assert "already done" in again.stdout


def test_parallel_sweep_with_two_workers(cli, results):
    result = cli("sweep", *FAST, "rpe=none", "seed=0,1", "-j", "2", results=results)
    assert result.exit_code == 0, result.output
    runs = records(results)
    assert sorted(r["config"]["seed"] for r in runs.values()) == [0, 1]
    assert {r["status"] for r in runs.values()} == {"completed"}
    assert all(r["config"]["runtime"]["threads"] == max(1, len(os.sched_getaffinity(0)) // 2)
               for r in runs.values())

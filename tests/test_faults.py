"""Faults injected into runs and their directories: a kill at each stage of an epoch and of the record write,
worker processes killed at random moments, truncated and garbage files of every kind, two sweeps on one
directory, a full disk. After each, `ls`, `report` and the HTML report read what is there without a traceback,
and the next sweep completes every run exactly once: 0 runs lost, 0 epochs twice, 0 runs stuck failing, and
each run's numbers are those of an uninterrupted run."""
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import FAST
from kill_points import STAGES

import ablate.sweep.launch as launch
from ablate.engine.runner import execute
from ablate.results.rundir import RunDir, run_dirs
from ablate.sweep.plan import plan_runs

EPOCHS = 2  # FAST's
ONE = [*FAST, "rpe=none"]  # the one run FAST makes, as a sweep of it (the default experiment sweeps rpe)
HERE = Path(__file__).parent
KINDS = (RunDir.CONFIG, RunDir.METRICS, RunDir.CHECKPOINT, RunDir.RECORD, RunDir.STARTED, RunDir.PROGRESS,
         RunDir.LOCK)


def garbage(path: Path) -> None:
    """Bytes that are neither UTF-8 nor JSON nor a zip, over several lines."""
    path.write_bytes(b"\xff\xfe\x00garbage\n\x80\x81{\"epoch\": \n" + bytes(random.Random(0).randrange(256)
                                                                          for _ in range(300)))


def truncated(path: Path) -> None:
    """The first half of the file (or a NUL byte in place of an absent one)."""
    data = path.read_bytes() if path.exists() else b"\x00\x00"
    path.write_bytes(data[: max(1, len(data) // 2)])


DAMAGES = {"garbage": garbage, "truncated": truncated}


def assert_reads(cli, results: Path) -> None:
    """ls, report (table, CSV, HTML) and migrate answer without a traceback, whatever the bytes."""
    for args in (["ls"], ["report"], ["report", "--format", "csv"],
                 ["report", "--format", "html", "--output", str(results.parent / "study.html")], ["migrate"]):
        result = cli(*args, results=results)
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
        assert result.exit_code in (0, 1), (args, result.output)
        assert "Traceback" not in result.output


def assert_whole(results: Path, runs: int, reference: dict) -> list[dict]:
    """Every run completed once: a completed record, epochs 0..EPOCHS-1 once each, the numbers of an uninterrupted
    run, and nothing left of earlier attempts; the records."""
    dirs = list(run_dirs(results))
    assert len(dirs) == runs
    records = []
    for run in dirs:
        record = run.record()
        assert record["status"] == "completed", record.get("error")
        assert [row["epoch"] for row in run.metrics()] == list(range(EPOCHS))
        assert record["metrics"]["epochs"] == EPOCHS
        for key in ("top1", "top5", "loss", "train_loss"):
            assert record["metrics"][key] == reference[record["config"]["rpe"]["method"]][key]
        stale = [p.name for p in run.path.iterdir() if p.name in (RunDir.ERROR, RunDir.PROGRESS)
                 or (p.name.startswith(".") and p.name != RunDir.LOCK)]
        assert stale == []
        records.append(record)
    return records


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict:
    """A completed run (the reference numbers) and one stopped after its first epoch, made once."""
    root = tmp_path_factory.mktemp("made")
    completed = plan_runs(FAST, root / "completed", sweep=False)[0]
    record = execute(completed.config, completed.directory, completed.overrides)
    stopped = plan_runs(FAST, root / "incomplete", sweep=False)[0]

    def stop(row: dict) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        execute(stopped.config, stopped.directory, stopped.overrides, on_epoch=stop)
    return {"completed": completed.directory, "incomplete": stopped.directory,
            "reference": {"none": record["metrics"]}}


def _copy(run: Path, results: Path, experiment: str | None = None) -> Path:
    target = results / (experiment or run.parent.name) / run.name
    shutil.copytree(run, target)
    return target


def test_a_kill_at_each_stage_of_an_epoch_and_of_the_record_write(cli, made, tmp_path):
    stages = list(STAGES)
    killed = subprocess.run([sys.executable, HERE / "kill_points.py", str(tmp_path), *stages, "--", *FAST],
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == 0, killed.stderr
    assert json.loads(killed.stdout.splitlines()[-1]) == {stage: 86 for stage in stages}  # each died at its point
    everything = tmp_path / "all"
    for stage in stages:
        results = tmp_path / stage.replace(" ", "_").replace(",", "")
        [run] = run_dirs(results)
        _copy(run.path, everything, stage.replace(" ", "_").replace(",", ""))
        again = cli("sweep", *ONE, results=results)
        assert again.exit_code == 0, (stage, again.output)
        [record] = assert_whole(results, 1, made["reference"])
        if stage == "record written, process not ended":
            assert "1 runs, 1 done, 0 to do" in again.stdout  # a completed run is never run again
        else:
            assert "completed" in again.stdout
        if stage == "half the checkpoint written":  # its temporary file was the half: the last whole one resumes
            assert record["resumed_at_epochs"] == [1]
    assert_reads(cli, everything)


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_file_of_a_run_in_progress(cli, made, tmp_path, kind):
    results = tmp_path / "results"
    run = RunDir(_copy(made["incomplete"], results))
    damage = garbage if kind in (RunDir.METRICS, RunDir.RECORD, RunDir.STARTED, RunDir.PROGRESS) else truncated
    damage(run / kind)
    assert_reads(cli, results)
    again = cli("sweep", *ONE, results=results)
    assert again.exit_code == 0, again.output
    [record] = assert_whole(results, 1, made["reference"])
    set_aside = sorted(p.name for p in run.path.iterdir() if ".corrupt-" in p.name)
    if kind in (RunDir.CHECKPOINT, RunDir.METRICS, RunDir.RECORD):  # unreadable: kept aside and named
        assert [name.split(".corrupt-")[0] for name in set_aside] == [kind]
        assert len(record["warnings"]) == 1 and set_aside[0] in record["warnings"][0]
        assert f"warning: {record['warnings'][0]}" in again.stdout
        assert record["resumed_at_epochs"] == ([] if kind == RunDir.CHECKPOINT else [1])
    else:  # rewritten as the run starts again
        assert set_aside == [] and "warnings" not in record and record["resumed_at_epochs"] == [1]


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_files_of_a_completed_run(cli, made, tmp_path, damage):
    """Each kind damaged in its own copy of a completed run: all read side by side; then each run is skipped with its
    record untouched, or, its record unreadable, set aside and finished again from its checkpoint."""
    everything = tmp_path / "all"
    for kind in KINDS:
        DAMAGES[damage](_copy(made["completed"], everything, f"{kind.strip('.')}-{damage}") / kind)
    assert_reads(cli, everything)
    original = RunDir(made["completed"]).record()
    for kind in KINDS:
        results = tmp_path / kind.strip(".")
        run = RunDir(_copy(everything / f"{kind.strip('.')}-{damage}" / made["completed"].name, results,
                           made["completed"].parent.name))
        again = cli("sweep", *ONE, results=results)
        assert again.exit_code == 0, again.output
        if kind == RunDir.RECORD:
            assert "1 runs, 0 done, 1 to do" in again.stdout
            [record] = assert_whole(results, 1, made["reference"])
            assert record["resumed_at_epochs"] == [EPOCHS] and "record.json.corrupt-" in record["warnings"][0]
        else:
            assert "1 runs, 1 done, 0 to do" in again.stdout and run.record() == original


def test_worker_processes_killed_at_random_moments(cli, tmp_path, monkeypatch):
    """-j 2 over two runs of four epochs; a worker is SIGKILLed at a random moment after its first epoch (training,
    evaluating, writing metrics or its checkpoint); the next sweep completes both, every epoch once."""
    overrides = [*FAST, "rpe=none,irpe_k", "train.epochs=4"]
    results, rng, pools = tmp_path / "results", random.Random(27), []

    class Watched(launch.Workers):
        def __init__(self, threads: int):
            super().__init__(threads)
            pools.append(self)

    killed, ended = [], threading.Event()

    def kill_one() -> None:
        while not any(run.metrics() for run in run_dirs(results)):
            if ended.wait(0.005):
                return
        ended.wait(rng.uniform(0.0, 0.2))
        for proc in list(pools[-1].live)[:1]:
            os.kill(proc.pid, signal.SIGKILL)
            killed.append(proc.pid)

    monkeypatch.setattr(launch, "Workers", Watched)
    killer = threading.Thread(target=kill_one)
    killer.start()
    first = cli("sweep", *overrides, "-j", "2", results=results)
    ended.set()
    killer.join()
    assert len(killed) == 1 and first.exit_code == 1 and "worker process exited with code -9" in first.stdout
    again = cli("sweep", *overrides, "-j", "2", results=results)
    assert again.exit_code == 0, again.output
    for run in run_dirs(results):
        assert run.record()["status"] == "completed" and [r["epoch"] for r in run.metrics()] == [0, 1, 2, 3]


def test_two_sweeps_on_one_directory_run_each_run_once(tmp_path):
    results = tmp_path / "results"
    command = [sys.executable, "-m", "ablate.cli", "sweep", *FAST, "rpe=none,irpe_k", "--results-dir", str(results)]
    sweeps = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [sweep.communicate(timeout=600) for sweep in sweeps]
    assert [sweep.returncode for sweep in sweeps] == [0, 0], outputs
    for run in run_dirs(results):
        record = run.record()
        assert record["status"] == "completed" and record["resumed_at_epochs"] == []  # trained once, by one sweep
        assert [row["epoch"] for row in run.metrics()] == list(range(EPOCHS))


class FullDisk:
    """Every write into a run directory fails with ENOSPC from the n-th write of one file on (the disk is full
    until `free`): an atomic replacement before its temporary file is whole, an append after half its line."""

    def __init__(self, monkeypatch, name: str, nth: int):
        self.name, self.nth, self.seen, self.full = name, nth, 0, False
        replacing, append = RunDir.replacing, RunDir.append_metrics

        @contextmanager
        def full_replacing(run: RunDir, target: str, durable: bool = True):
            if self.writing(target):
                with open(run.path / f".{target}.tmp{os.getpid()}", "wb") as f:
                    f.write(b"part")
                (run.path / f".{target}.tmp{os.getpid()}").unlink()  # what replacing's clean-up does
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            with replacing(run, target, durable) as f:
                yield f

        def full_append(run: RunDir, row: dict) -> None:
            if self.writing(RunDir.METRICS):
                with open(run.path / RunDir.METRICS, "a") as f:
                    f.write('{"epoch": ')
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            append(run, row)

        monkeypatch.setattr(RunDir, "replacing", full_replacing)
        monkeypatch.setattr(RunDir, "append_metrics", full_append)

    def writing(self, target: str) -> bool:
        """Whether this write fails."""
        self.seen += target == self.name
        self.full = self.full or self.seen == self.nth
        return self.full


@pytest.mark.parametrize("name,nth", [(RunDir.CONFIG, 1), (RunDir.METRICS, 2), (RunDir.CHECKPOINT, 2),
                                      (RunDir.RECORD, 1)])
def test_a_full_disk(cli, made, tmp_path, monkeypatch, name, nth):
    """The disk fills at a write of the run: the sweep says so in its line for the run (exit 1, no traceback);
    once there is space again, the next sweep completes the run."""
    results = tmp_path / "results"
    with monkeypatch.context() as patched:
        FullDisk(patched, name, nth)
        full = cli("sweep", *ONE, results=results)
    assert full.exit_code == 1 and isinstance(full.exception, SystemExit), full.output
    assert "No space left on device" in full.stdout and "Traceback" not in full.output
    again = cli("sweep", *ONE, results=results)
    assert again.exit_code == 0, again.output
    assert_whole(results, 1, made["reference"])


@pytest.mark.skipif(sys.platform != "linux" or os.geteuid() != 0, reason="mounting a tmpfs needs root on Linux")
def test_a_real_full_disk_a_small_tmpfs(cli, made, tmp_path):
    """A tmpfs of 8 MiB holds one checkpoint (5 MiB) but not the next one beside it: epoch 2's write fails for want
    of space; grown to 64 MiB, the next sweep completes the run."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        full = cli("sweep", *ONE, results=disk / "results")
        assert full.exit_code == 1 and isinstance(full.exception, SystemExit), full.output
        assert "No space left on device" in full.stdout and "Traceback" not in full.output
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        again = cli("sweep", *ONE, results=disk / "results")
        assert again.exit_code == 0, again.output
        assert_whole(disk / "results", 1, made["reference"])
    finally:
        subprocess.run(["umount", str(disk)], check=True)

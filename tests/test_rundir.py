"""The run directory type: its states, its lock, and writes that survive SIGKILL at any point."""
import multiprocessing
import os
import random
import signal
import time

import pytest

from ablate.results.records import COMPLETED, DIVERGED, FAILED
from ablate.results.rundir import INCOMPLETE, RUNNING, TODO, UNREADABLE, RunBusy, RunDir, experiments, run_dirs
from ablate.sweep.outcome import BUSY, settle

CONFIG = {"name": "exp", "task": "classification", "seed": 0, "train": {"epochs": 2}}


def _hold_lock(path, held, release) -> None:
    with RunDir(path).lock():
        held.set()
        release.wait(30)


def test_states_from_to_do_to_finished(tmp_path):
    run = RunDir.of(tmp_path, CONFIG)
    assert run.path == tmp_path / "exp" / run.name and len(run.name) == 12
    assert run.state() == TODO and run.record() is None and run.metrics() == []
    run.path.mkdir(parents=True)
    run.reset_metrics([])
    run.append_metrics({"epoch": 0, "top1": 50.0})
    assert run.state() == INCOMPLETE and run.metrics() == [{"epoch": 0, "top1": 50.0}]

    context = multiprocessing.get_context("fork")
    held, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_lock, args=(run.path, held, release))
    holder.start()
    assert held.wait(30)
    try:
        assert run.locked() and run.state() == RUNNING
        with pytest.raises(RunBusy, match="another process"):
            with run.lock():
                pass
        # the launcher's view of a run another process holds
        assert settle(run, CONFIG, [], BUSY, run.stamp())["status"] == BUSY
        assert settle(run, CONFIG, [], "launcher: boom", run.stamp())["status"] == RUNNING
    finally:
        release.set()
        holder.join()
    assert not run.locked() and run.state() == INCOMPLETE

    for status in (FAILED, DIVERGED, COMPLETED):
        run.write_record({"status": status})
        assert run.state() == status
    assert run.finished() == {"status": COMPLETED}
    (run / RunDir.RECORD).write_text('{"status": "compl')
    assert run.state() == UNREADABLE and run.finished() is None
    assert [r.name for r in run_dirs(tmp_path)] == [run.name] and experiments(tmp_path) == ["exp"]


def test_a_run_that_left_no_record_is_failed_naming_what_its_launcher_said(tmp_path):
    run = RunDir(tmp_path / "exp" / "abc")
    since = run.stamp()
    record = settle(run, CONFIG, ["seed=0"], "worker process exited with code -9", since)
    assert record["status"] == FAILED and "ended without writing a record (worker process exited" in record["error"]
    assert run.record() == record and record["identity"]["overrides"] == ["seed=0"]
    since = run.stamp()
    run.write_record({"status": FAILED, "error": "ValueError: bad"})  # the run's own record wins
    assert settle(run, CONFIG, ["seed=0"], "completed", since)["error"] == "ValueError: bad"
    again = settle(run, CONFIG, ["seed=0"], "completed", run.stamp())  # a later launch that left nothing
    assert again["status"] == FAILED and again["error"] == "the run ended without writing a record (completed)"


def _write_forever(path) -> None:
    run = RunDir(path)
    for i in range(10**9):
        run.write_record({"status": COMPLETED, "i": i, "pad": "x" * (i % 5000)})
        with run.replacing(RunDir.CHECKPOINT) as f:  # self-describing: its number, then that many bytes
            f.write(i.to_bytes(8, "big") + bytes(i % 70000))
        run.append_metrics({"epoch": i})


def test_readers_take_any_bytes(tmp_path):
    run = RunDir(tmp_path / "exp" / "run")
    run.path.mkdir(parents=True)
    (run / RunDir.METRICS).write_bytes(b'{"epoch": 0, "top1": 1.0}\n\xff\xfe{"epoch": 1}\n{"epoch": 2}\n')
    for name in (RunDir.RECORD, RunDir.STARTED, RunDir.PROGRESS):
        (run / name).write_bytes(b"\x80\x81 not JSON")
    assert run.metrics() == [{"epoch": 0, "top1": 1.0}]
    assert run.started() is None and run.progress() is None and run.state() == UNREADABLE
    with pytest.raises(ValueError, match="unreadable record"):
        run.record()
    (run / RunDir.RECORD).write_text('{"status": "completed", "metrics": [1]}')  # JSON, but not a record's shape
    with pytest.raises(ValueError, match="not a run record"):
        run.record()


def test_heal_sets_aside_what_cannot_be_read_and_removes_what_killed_writers_left(tmp_path):
    run = RunDir(tmp_path / "exp" / "run")
    run.path.mkdir(parents=True)
    (run / RunDir.RECORD).write_bytes(b'{"status": "comp')
    (run / RunDir.METRICS).write_bytes(b'{"epoch": 0}\nnot an epoch\n{"epoch": 1}\n')
    (run / ".checkpoint.pth.tmp4242").write_bytes(b"half a checkpoint")
    (run / RunDir.PROGRESS).write_text("{}")
    warnings = run.heal()
    kept = sorted(p.name for p in run.path.iterdir())
    assert [name.split(".corrupt-")[0] for name in kept] == [RunDir.METRICS, RunDir.RECORD]
    assert len(warnings) == 2 and "record.json could not be read (" in warnings[0]
    assert "metrics.jsonl line 2 is not an epoch's metrics: kept as metrics.jsonl.corrupt-" in warnings[1]
    (run / RunDir.METRICS).write_bytes(b'{"epoch": 0}\n{"epoch": 1, "to')  # torn by a kill: nothing to set aside
    assert run.heal() == [] and run.metrics() == [{"epoch": 0}]


def test_a_finished_record_removes_an_earlier_attempts_error(tmp_path):
    run = RunDir(tmp_path / "exp" / "run")
    run.path.mkdir(parents=True)
    run.write_error("Traceback ...")
    run.write_record({"status": FAILED})
    assert (run / RunDir.ERROR).exists()
    run.write_record({"status": COMPLETED})
    assert not (run / RunDir.ERROR).exists()


def test_sigkill_at_any_moment_leaves_whole_files(tmp_path):
    """Kill a writer at random moments, 25 times: the record and checkpoint are always some whole version, and
    metrics.jsonl holds whole lines (a torn last line is ignored by the reader) in order."""
    rng = random.Random(0)
    run = RunDir(tmp_path / "exp" / "run")
    run.path.mkdir(parents=True)
    context = multiprocessing.get_context("fork")
    last = -1
    for _ in range(25):
        writer = context.Process(target=_write_forever, args=(run.path,))
        writer.start()
        time.sleep(rng.uniform(0.005, 0.08))
        os.kill(writer.pid, signal.SIGKILL)
        writer.join()
        record = run.record()  # raises if torn
        if record is not None:
            assert record["status"] == COMPLETED and record["pad"] == "x" * (record["i"] % 5000)
        if (run / RunDir.CHECKPOINT).exists():
            blob = (run / RunDir.CHECKPOINT).read_bytes()
            assert len(blob) == 8 + int.from_bytes(blob[:8], "big") % 70000
        epochs = [row["epoch"] for row in run.metrics()]
        assert all(isinstance(e, int) for e in epochs)
        last = max(last, len(epochs))
    assert last > 0

"""Many processes writing run records into one results directory at once lose nothing and corrupt nothing.

Each run is one file written atomically (temporary file beside it, fsync, rename), and there is no
shared index to update, so concurrent writers never touch the same bytes; even writers racing on the
same record leave one whole version. A reader scanning meanwhile only ever sees whole records.
"""
import multiprocessing
import threading
import time
from pathlib import Path

from ablate.results.rundir import RunDir, run_dirs

WRITERS, RUNS = 8, 50
PAD = "x" * 65536  # big records: a torn or interleaved write would show


def _write(results: Path, writer: int, go) -> None:
    go.wait()
    shared = results / "concurrency" / "shared"
    for i in range(RUNS):
        config = {"name": "concurrency", "seed": i, "writer": writer}
        directory = RunDir.of(results, config).path
        directory.mkdir(parents=True, exist_ok=True)
        RunDir(directory).write_record({"status": "completed", "config": config, "metrics": {"top1": float(i)}, "pad": PAD})
        shared.mkdir(parents=True, exist_ok=True)  # every writer also races on this one record
        RunDir(shared).write_record({"status": "completed", "writer": writer, "i": i, "pad": PAD})


def test_eight_processes_fifty_records_each_lose_none(tmp_path):
    results = tmp_path / "results"
    # fork: the children need only the records module, already imported here (no torch start-up per process)
    context = multiprocessing.get_context("fork")
    go = context.Event()
    procs = [context.Process(target=_write, args=(results, w, go)) for w in range(WRITERS)]
    for proc in procs:
        proc.start()

    torn, reads, stop = [], [0], threading.Event()

    def scan() -> None:
        while not stop.is_set():
            for directory in run_dirs(results):
                try:
                    RunDir(directory).record()
                    reads[0] += 1
                except ValueError as e:
                    torn.append(str(e))

    reader = threading.Thread(target=scan)
    reader.start()
    go.set()
    for proc in procs:
        proc.join(timeout=120)
    time.sleep(0.1)
    stop.set()
    reader.join()
    assert [proc.exitcode for proc in procs] == [0] * WRITERS

    assert torn == [] and reads[0] > 0
    records = {d.name: RunDir(d).record() for d in run_dirs(results)}
    shared = records.pop("shared")
    assert shared["pad"] == PAD and shared["i"] == RUNS - 1 and 0 <= shared["writer"] < WRITERS
    assert len(records) == WRITERS * RUNS
    assert {(r["config"]["writer"], r["config"]["seed"]) for r in records.values()} == \
        {(w, i) for w in range(WRITERS) for i in range(RUNS)}
    assert all(r["pad"] == PAD and r["metrics"]["top1"] == r["config"]["seed"] for r in records.values())
    assert not [p for p in results.rglob(".*tmp*")]  # no temporary file left behind

"""Run a sweep's jobs on this machine: one at a time in this process, or N at once in worker processes.

Worker processes share the usable cores (cores / N threads each, ablate.engine.parallel) and, for runs that go to a GPU
(runtime.device auto or cuda), the GPUs: worker slot i runs on GPU i mod the number of GPUs, through
CUDA_VISIBLE_DEVICES, so -j 8 on a one-GPU machine runs 8 small runs side by side on it.

Records on disk are the source of truth: each job's outcome is read from its run directory when it
ends (RunDir.settle), which records a failed run itself only when a worker died without writing one.
Ctrl-C stops every run at once: workers run in their own sessions, so the terminal's SIGINT reaches
this process only, which passes it on to each worker once; each keeps its last finished epoch.
"""
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from queue import SimpleQueue

from ablate.engine.parallel import threads_per_run
from ablate.engine.resources import PLACED, gpu_ids
from ablate.engine.runner import execute
from ablate.results.records import FAILED
from ablate.results.rundir import RunBusy
from ablate.sweep.outcome import BUSY, INTERRUPTED, settle
from ablate.sweep.plan import Job
from ablate.sweep.progress import Progress
from ablate.sweep.worker import BUSY_EXIT, INTERRUPTED_EXIT


def _in_process(job: Job) -> dict:
    try:
        return execute(job.config, job.directory, job.overrides)
    except RunBusy as e:
        return {"status": BUSY, "error": str(e)}
    except OSError as e:  # its directory could not be written (a full disk): unrecorded, so the next sweep retries it
        return {"status": FAILED, "error": f"{job.directory} could not be written: {e.strerror or e}"}


class Workers:
    """Worker processes, one job each; `interrupt` stops the live ones."""

    def __init__(self, threads: int):
        self.threads, self.live, self.lock, self.stopping = threads, set(), threading.Lock(), threading.Event()

    def run(self, job: Job, gpu: str | None = None) -> dict:
        """Run the job in a worker process (on `gpu` if given) and return its outcome, read from its run directory."""
        config = json.loads(json.dumps(job.resolved))
        if not config["runtime"]["threads"]:  # not part of the identity: the directory stays the same
            config["runtime"]["threads"] = self.threads
        payload = json.dumps({"config": config, "directory": str(job.directory), "overrides": job.overrides})
        env = None if gpu is None else {**os.environ, "CUDA_VISIBLE_DEVICES": gpu}
        since = job.run.stamp()
        with self.lock:
            if self.stopping.is_set():
                return {"status": INTERRUPTED, "error": "not started"}
            proc = subprocess.Popen([sys.executable, "-m", "ablate.sweep.worker"], stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                    start_new_session=True, env=env)
            self.live.add(proc)
        try:
            _, stderr = proc.communicate(payload)
        finally:
            with self.lock:
                self.live.discard(proc)
        if proc.returncode == BUSY_EXIT:
            return {"status": BUSY, "error": f"{job.directory} is being run by another process"}
        if proc.returncode == INTERRUPTED_EXIT or self.stopping.is_set():
            return job.run.written_since(since) or {"status": INTERRUPTED, "error": "Ctrl-C"}
        last = (stderr.strip().splitlines() or [""])[-1]
        said = f"worker process exited with code {proc.returncode}" + (f": {last}" if last else "")
        return settle(job.run, job.resolved, job.overrides, said, since)

    def interrupt(self) -> None:
        """Pass Ctrl-C on to every live worker (each saves nothing more than its last finished epoch)."""
        with self.lock:
            self.stopping.set()
            for proc in self.live:
                proc.send_signal(signal.SIGINT)


def _gpu_of(job: Job, slot: int, gpus: list[str]) -> str | None:
    """The GPU a worker slot runs this job on; None for a CPU run or a device the config names (cuda:N)."""
    if not gpus or job.resolved["runtime"]["device"] not in PLACED:
        return None
    return gpus[slot % len(gpus)]


def launch(jobs: list[Job], workers: int, progress: Progress, on_end: Callable[[Job, dict], None] | None = None) -> None:
    """Run every job not yet done; N > 1 workers run N processes with cores/N threads each (unless runtime.threads
    says otherwise), spread over the GPUs."""
    todo = [job for job in jobs if not job.done]
    pool, gpus, slots = Workers(threads_per_run(workers)), gpu_ids(), SimpleQueue()
    for slot in range(workers):
        slots.put(slot)

    def in_a_slot(job: Job) -> dict:
        slot = slots.get()
        try:
            return pool.run(job, _gpu_of(job, slot, gpus))
        finally:
            slots.put(slot)

    def one(job: Job) -> None:
        progress.start(job)
        record = _in_process(job) if workers == 1 else in_a_slot(job)
        progress.end(job, record)
        if on_end is not None and record["status"] != INTERRUPTED:
            on_end(job, record)

    if workers == 1:
        for job in todo:
            one(job)
        return
    with ThreadPoolExecutor(workers) as executor:
        futures = [executor.submit(one, job) for job in todo]
        try:
            for future in futures:
                future.result()
        except KeyboardInterrupt:
            pool.interrupt()
            executor.shutdown(wait=True, cancel_futures=True)
            raise


def run(name: str, settings: list[str], jobs: list[Job], results: Path, progress: Progress, parallel: int,
        on_end: Callable[[Job, dict], None] | None = None) -> None:
    """The local launcher's entry (ablate.sweep.launchers): the progress view's worker count, on this machine."""
    launch(jobs, progress.workers, progress, on_end=on_end)

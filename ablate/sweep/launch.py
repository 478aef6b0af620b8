"""Run a sweep's jobs on this machine: one at a time in this process, or N at once in worker processes.

Records on disk are the source of truth: the launcher reads each job's record when it ends, and
writes a failed record itself only when a worker process died without writing one.
"""
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from ablate.engine.runner import RunBusy, build_record, cpu_count, execute, run_lock
from ablate.results.records import read_record, write_record
from ablate.sweep.plan import Job
from ablate.sweep.worker import BUSY


@dataclass
class Progress:
    """Live state of a sweep, shared with the display: which jobs run, since when, how they ended."""

    jobs: list[Job]
    workers: int
    running: dict[Path, float] = field(default_factory=dict)  # directory -> start time
    ended: dict[Path, dict] = field(default_factory=dict)  # directory -> record (or a busy marker)
    durations: list[float] = field(default_factory=list)

    def start(self, job: Job) -> None:
        """Mark a job as running."""
        self.running[job.directory] = time.monotonic()

    def end(self, job: Job, record: dict) -> None:
        """Mark a job as ended with its record."""
        self.durations.append(time.monotonic() - self.running.pop(job.directory))
        self.ended[job.directory] = record


def _in_process(job: Job) -> dict:
    try:
        return execute(job.config, job.directory, job.overrides)
    except RunBusy as e:
        return {"status": "busy", "error": str(e)}


def _in_worker(job: Job, threads: int) -> dict:
    config = OmegaConf.to_container(job.config, resolve=True)
    config["runtime"]["threads"] = threads  # not part of the identity: the directory stays the same
    payload = json.dumps({"config": config, "directory": str(job.directory), "overrides": job.overrides})
    proc = subprocess.run([sys.executable, "-m", "ablate.sweep.worker"], input=payload, text=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if proc.returncode == BUSY:
        return {"status": "busy", "error": f"{job.directory} is being run by another process"}
    if proc.returncode == 0:
        return read_record(job.directory)
    last = (proc.stderr.strip().splitlines() or [""])[-1]
    error = f"worker process exited with code {proc.returncode}" + (f": {last}" if last else "")
    try:
        with run_lock(job.directory):
            record = build_record(job.config, job.directory, job.overrides, "failed", error)
            write_record(job.directory, record)
    except (RunBusy, FileNotFoundError):
        return {"status": "failed", "error": error}
    return record


def launch(jobs: list[Job], workers: int, progress: Progress, on_end=None) -> None:
    """Run every job not yet done; N > 1 workers run N processes with cores/N threads each."""
    todo = [job for job in jobs if not job.done]

    def one(job: Job) -> None:
        progress.start(job)
        record = _in_process(job) if workers == 1 else _in_worker(job, max(1, cpu_count() // workers))
        progress.end(job, record)
        if on_end is not None:
            on_end(job, record)

    if workers == 1:
        for job in todo:
            one(job)
        return
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(one, job) for job in todo]
        try:
            for future in futures:
                future.result()
        except KeyboardInterrupt:
            pool.shutdown(wait=True, cancel_futures=True)
            raise

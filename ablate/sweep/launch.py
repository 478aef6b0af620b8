"""Run a sweep's jobs on this machine: one at a time in this process, or N at once in worker processes.

Records on disk are the source of truth: each job's outcome is read from its run directory when it
ends (RunDir.settle), which records a failed run itself only when a worker died without writing one.
"""
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from ablate.engine.resources import cpu_count
from ablate.engine.runner import execute
from ablate.results.rundir import BUSY, RunBusy
from ablate.sweep.plan import Job
from ablate.sweep.progress import Progress
from ablate.sweep.worker import BUSY_EXIT


def _in_process(job: Job) -> dict:
    try:
        return execute(job.config, job.directory, job.overrides)
    except RunBusy as e:
        return {"status": BUSY, "error": str(e)}


def _in_worker(job: Job, threads: int) -> dict:
    config = json.loads(json.dumps(job.resolved))
    config["runtime"]["threads"] = threads  # not part of the identity: the directory stays the same
    payload = json.dumps({"config": config, "directory": str(job.directory), "overrides": job.overrides})
    since = job.run.stamp()
    proc = subprocess.run([sys.executable, "-m", "ablate.sweep.worker"], input=payload, text=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if proc.returncode == BUSY_EXIT:
        return {"status": BUSY, "error": f"{job.directory} is being run by another process"}
    last = (proc.stderr.strip().splitlines() or [""])[-1]
    said = f"worker process exited with code {proc.returncode}" + (f": {last}" if last else "")
    return job.run.settle(job.resolved, job.overrides, said, since)


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

"""Sweeps through Hydra launcher plugins (joblib, submitit local, Slurm): the one module that drives them.

`--launcher local` is ablate.sweep.launch; every other name is a conf/launcher/<name>.yaml that picks
a Hydra launcher and its settings (`hydra.launcher.*` on the command line). Hydra's launchers run
without @hydra.main: ablate.config.compose composes the launcher's config and instantiates it with
Hydra's plugin registry; this module hands it the planned jobs' override lists.

Run records are the source of truth, never what a launcher returns: a Slurm job can report success
after a Python exception, and a preempted job is requeued by submitit and resumes from the run's
own per-epoch checkpoint. After the launcher returns (or raises), each job's outcome is settled from its
run directory (RunDir.settle): a job that ended without writing a record is recorded as failed, naming
what the launcher said.
"""
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import DictConfig, OmegaConf

from ablate.config.compose import CONF_DIR, Composer, ConfigError
from ablate.engine.resources import cpu_count
from ablate.results.rundir import RunBusy
from ablate.sweep.outcome import BUSY, settle
from ablate.sweep.plan import Job
from ablate.sweep.progress import Progress

LOCAL = "local"
SETTING = "hydra.launcher."


def launcher_names() -> list[str]:
    """local, then every launcher in conf/launcher/."""
    return [LOCAL, *sorted(p.stem for p in (CONF_DIR / "launcher").glob("*.yaml"))]


def split_settings(overrides: list[str]) -> tuple[list[str], list[str]]:
    """(run overrides, launcher settings): hydra.launcher.* settings configure the launcher, never a run."""
    settings = [o for o in overrides if o.lstrip("+").startswith(SETTING)]
    return [o for o in overrides if o not in settings], settings


class RunJob:
    """What a Hydra launcher calls for each job, in its worker process: the planned run with those overrides.

    Hydra composes each job's config again in the worker; the plan's resolved config is used instead,
    so every run has exactly the identity and directory the plan showed.
    """

    def __init__(self, jobs: list[Job], threads: int | None):
        self.runs = {}
        for job in jobs:
            config = json.loads(json.dumps(job.resolved))
            if threads and not config["runtime"]["threads"]:  # not part of the identity
                config["runtime"]["threads"] = threads
            self.runs[tuple(job.overrides)] = (config, str(job.directory), list(job.overrides))

    def __call__(self, _hydra_composed: DictConfig) -> str:
        """Execute the run (every task of a multi-task submitit job joins its DDP world); returns its status."""
        from ablate.engine.distributed import joined  # the engine loads in the job's process, not the planner's
        from ablate.engine.runner import execute, pick_device

        config, directory, overrides = self.runs[tuple(HydraConfig.get().overrides.task)]
        cfg = OmegaConf.create(config)
        OmegaConf.set_struct(cfg, True)
        if os.environ.get("SUBMITIT_EXECUTOR"):
            import submitit

            if submitit.JobEnvironment().num_tasks > 1:  # GPUs stay as Slurm set them: joined() picks by local rank
                submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
        try:
            with joined(pick_device(cfg.runtime.device)) as world:
                return execute(cfg, Path(directory), overrides, world=world)["status"]
        except RunBusy:
            return BUSY


def _concurrency(launcher: DictConfig, todo: int) -> int | None:
    """How many processes share this machine's cores (None on Slurm, where each job has its own)."""
    kind = launcher._target_.rsplit(".", 1)[-1]
    if kind == "JoblibLauncher":
        n_jobs = launcher.n_jobs if launcher.n_jobs > 0 else cpu_count() + 1 + launcher.n_jobs
        return min(max(1, n_jobs), todo)
    if kind == "LocalLauncher":  # submitit's local executor starts every job at once
        return todo * launcher.tasks_per_node
    return None


def check_launcher(name: str, settings: list[str]) -> None:
    """Raise ConfigError (one line) for an unknown launcher or a setting it does not have."""
    if name not in launcher_names():
        raise ConfigError(f"unknown launcher {name!r} (available: {', '.join(launcher_names())})")
    if name == LOCAL:
        if settings:
            raise ConfigError(f"{settings[0]} configures a launcher: add --launcher NAME")
        return
    with Composer() as composer:
        composer.launcher_config(name, settings, Path("unused"), 1)


def _said(ret: JobReturn) -> str:
    """What the launcher reported for one job, in words."""
    if ret.status == JobStatus.COMPLETED:
        return str(ret.return_value)
    return f"launcher: {type(ret.return_value).__name__}: {ret.return_value}".splitlines()[0]


def launch_hydra(name: str, settings: list[str], jobs: list[Job], results: Path, progress: Progress,
                 parallel: int = 1, on_end: Callable[[Job, dict], None] | None = None) -> None:
    """Run every job not yet done through the Hydra launcher conf/launcher/<name>.yaml; records decide the outcome.

    Blocks until the launcher returns; meanwhile runs whose records appear are reported as they end.
    """
    todo = [job for job in jobs if not job.done]
    if not todo:
        return
    sweep_dir = Path(results).absolute() / ".launcher" / time.strftime("%Y-%m-%d_%H-%M-%S")
    with Composer() as composer:
        cfg = composer.launcher_config(name, settings, sweep_dir, parallel)
        concurrency = _concurrency(cfg.hydra.launcher, len(todo))
        task = RunJob(todo, max(1, cpu_count() // concurrency) if concurrency else None)
        launcher = composer.launcher(cfg, task)
        before = {job.directory: job.run.stamp() for job in todo}
        lock = threading.Lock()

        def ended(job: Job, record: dict) -> None:
            with lock:
                if job.directory in progress.ended:
                    return
                progress.end(job, record)
            if on_end is not None:
                on_end(job, record)

        def watch(stop: threading.Event) -> None:
            while not stop.wait(1.0):
                for job in todo:
                    record = job.run.written_since(before[job.directory])
                    if record is not None and job.directory not in progress.ended:
                        ended(job, record)

        for job in todo:
            progress.start(job)
        stop = threading.Event()
        watcher = threading.Thread(target=watch, args=(stop,), daemon=True)
        watcher.start()
        try:
            said = [_said(ret) for ret in launcher.launch([job.overrides for job in todo], initial_job_idx=0)]
        except Exception as e:  # e.g. a submitit job killed by Slurm: its result raises; the others may still run
            said = [f"launcher: {type(e).__name__}: {e}".splitlines()[0]] * len(todo)
        finally:
            stop.set()
            watcher.join()
        for job, words in zip(todo, said):  # the records now on disk have the last word
            record = settle(job.run, job.resolved, job.overrides, words, before[job.directory])
            if job.directory not in progress.ended:
                ended(job, record)
            elif progress.ended[job.directory]["status"] != record["status"]:
                progress.ended[job.directory] = record
                if on_end is not None:
                    on_end(job, record)

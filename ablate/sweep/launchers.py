"""Sweeps through Hydra launcher plugins (joblib, submitit local, Slurm): the one module that drives them.

`--launcher local` is ablate.sweep.launch; every other name is a conf/launcher/<name>.yaml that picks
a Hydra launcher and its settings (`hydra.launcher.*` on the command line). Hydra's launchers run
without @hydra.main: we compose the launcher's config, instantiate it with Hydra's plugin registry,
and hand it the planned jobs' override lists.

Run records are the source of truth, never what a launcher returns: a Slurm job can report success
after a Python exception, and a preempted job is requeued by submitit and resumes from the run's
own per-epoch checkpoint. After the launcher returns (or raises), each job's record is read from
disk; a job that ended without writing one gets a failed record naming what the launcher said.
"""
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra._internal.callbacks import Callbacks
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import HydraException
from hydra.types import HydraContext
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ablate.engine.distributed import joined
from ablate.engine.runner import RunBusy, build_record, cpu_count, execute, pick_device, run_lock
from ablate.results.records import FINISHED, RECORD, read_record, write_record
from ablate.sweep.compose import CONF_DIR, ConfigError
from ablate.sweep.launch import Progress
from ablate.sweep.plan import Job
from ablate.sweep.schema import register

LOCAL = "local"
BUSY = "busy"
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
            config = OmegaConf.to_container(job.config, resolve=True)
            if threads and not config["runtime"]["threads"]:  # not part of the identity
                config["runtime"]["threads"] = threads
            self.runs[tuple(job.overrides)] = (config, str(job.directory), list(job.overrides))

    def __call__(self, _hydra_composed: DictConfig) -> str:
        """Execute the run (every task of a multi-task submitit job joins its DDP world); returns its status."""
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
    register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        _launcher_config(name, settings, Path("unused"), 1)


def _launcher_config(name: str, settings: list[str], sweep_dir: Path, parallel: int) -> DictConfig:
    overrides = [f"+launcher={name}", f"hydra.sweep.dir='{sweep_dir}'", "hydra.output_subdir=null",
                 "hydra/job_logging=none", "hydra/hydra_logging=none"]
    try:
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
        # Settings go into the composed config, not into Hydra's overrides: each job's worker composes
        # its config again from those, without the launcher option, where these keys do not exist.
        for setting in OverridesParser.create().parse_overrides(settings):
            if setting.is_sweep_override():
                raise ConfigError(f"{setting.input_line}: a launcher setting takes one value")
            OmegaConf.update(cfg, setting.key_or_group, setting.value(), force_add=setting.is_add())
    except (HydraException, OmegaConfBaseException) as e:
        raise ConfigError(f"launcher {name}: {str(e).splitlines()[0]}") from None
    if parallel > 1:  # -j N: the launcher's own parallelism knob
        for key in ("n_jobs", "array_parallelism"):
            if key in cfg.hydra.launcher:
                cfg.hydra.launcher[key] = parallel
    return cfg


def _stamp(directory: Path) -> int | None:
    try:
        return os.stat(directory / RECORD).st_mtime_ns
    except FileNotFoundError:
        return None


def _new_record(job: Job, before: dict[Path, int | None]) -> dict | None:
    """The job's record if this launch wrote one (its file changed since launch), else None."""
    if _stamp(job.directory) == before[job.directory]:
        return None
    try:
        return read_record(job.directory)
    except ValueError:
        return None


def _settle(job: Job, before: dict[Path, int | None], said: str) -> dict:
    """The job's record from disk; a job that left none (or only an old failed one) is recorded as failed."""
    try:
        record = read_record(job.directory)
    except ValueError:
        record = None
    if record is not None and record["status"] in FINISHED:
        return record
    fresh = _new_record(job, before)
    if fresh is not None:
        return fresh
    if said == BUSY:
        return {"status": BUSY, "error": f"{job.directory} is being run by another process"}
    error = f"the job ended without writing a record ({said})"
    job.directory.mkdir(parents=True, exist_ok=True)  # absent if the job never started
    try:
        with run_lock(job.directory):
            record = build_record(job.config, job.directory, job.overrides, "failed", error)
            write_record(job.directory, record)
    except RunBusy:
        return {"status": "running", "error": f"{job.directory} is still being run ({said})"}
    return record


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
    register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = _launcher_config(name, settings, sweep_dir, parallel)
        concurrency = _concurrency(cfg.hydra.launcher, len(todo))
        task = RunJob(todo, max(1, cpu_count() // concurrency) if concurrency else None)
        context = HydraContext(config_loader=GlobalHydra.instance().config_loader(), callbacks=Callbacks(cfg))
        launcher = Plugins.instance().instantiate_launcher(hydra_context=context, task_function=task, config=cfg)
        before = {job.directory: _stamp(job.directory) for job in todo}
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
                    record = _new_record(job, before)
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
            record = _settle(job, before, words)
            if job.directory not in progress.ended:
                ended(job, record)
            elif progress.ended[job.directory]["status"] != record["status"]:
                progress.ended[job.directory] = record
                if on_end is not None:
                    on_end(job, record)

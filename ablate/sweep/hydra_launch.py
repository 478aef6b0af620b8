"""Sweeps through Hydra launcher plugins (joblib, submitit local, Slurm): the one module that drives them.

Each is a conf/launcher/<name>.yaml that picks a Hydra launcher and its settings (`hydra.launcher.*` on the
command line). They run without @hydra.main: the launcher's config is composed with the Compose API and the
plugin instantiated through Hydra's plugin registry, which needs a HydraContext and so Hydra's Callbacks.
Callbacks lives in `hydra._internal` and has no public counterpart in hydra-core 1.3; this module is the only
place that reaches into Hydra's internals.

Run records are the source of truth, never what a launcher returns: a Slurm job can report success
after a Python exception, and a preempted job is requeued by submitit and resumes from the run's
own per-epoch checkpoint. After the launcher returns (or raises), each job's outcome is settled from its
run directory (ablate.sweep.outcome.settle): a job that ended without writing a record is recorded as
failed, naming what the launcher said.
"""
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from hydra._internal.callbacks import Callbacks
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import HydraException
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ablate.config.compose import Composer
from ablate.config.errors import ConfigError
from ablate.engine.parallel import threads_per_run
from ablate.results.rundir import RunBusy
from ablate.sweep.launchers import LAUNCHERS
from ablate.sweep.outcome import BUSY, settle
from ablate.sweep.plan import Job
from ablate.sweep.progress import Progress


def launcher_config(composer: Composer, name: str, settings: list[str], sweep_dir: Path, parallel: int) -> DictConfig:
    """The Hydra config of conf/launcher/<name>.yaml with hydra.launcher.* settings and -j N applied."""
    overrides = [f"+launcher={name}", f"hydra.sweep.dir='{sweep_dir}'", "hydra.output_subdir=null",
                 "hydra/job_logging=none", "hydra/hydra_logging=none"]
    try:
        cfg = composer.compose(overrides, hydra=True)
        # Settings go into the composed config, not into Hydra's overrides: each job's worker composes
        # its config again from those, without the launcher option, where these keys do not exist.
        for setting in composer.parser.parse_overrides(settings):
            if setting.is_sweep_override():
                raise ConfigError(f"{setting.input_line}: a launcher setting takes one value")
            OmegaConf.update(cfg, setting.key_or_group, setting.value(), force_add=setting.is_add())
    except (ConfigError, HydraException, OmegaConfBaseException) as e:
        raise ConfigError(f"launcher {name}: {str(e).splitlines()[0]}") from None
    if parallel > 1:  # -j N: the launcher's own parallelism knob
        for key in ("n_jobs", "array_parallelism"):
            if key in cfg.hydra.launcher:
                cfg.hydra.launcher[key] = parallel
    return cfg


def instantiate(cfg: DictConfig, task: TaskFunction) -> Launcher:
    """The Hydra launcher plugin a launcher config names, calling task for each job."""
    context = HydraContext(config_loader=GlobalHydra.instance().config_loader(), callbacks=Callbacks(cfg))
    return Plugins.instance().instantiate_launcher(hydra_context=context, task_function=task, config=cfg)


def check(name: str, settings: list[str]) -> None:
    """ConfigError (one line) if the launcher's config does not compose with these settings."""
    with Composer() as composer:
        launcher_config(composer, name, settings, Path("unused"), 1)


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


def _said(ret: JobReturn) -> str:
    """What the launcher reported for one job, in words."""
    if ret.status == JobStatus.COMPLETED:
        return str(ret.return_value)
    return f"launcher: {type(ret.return_value).__name__}: {ret.return_value}".splitlines()[0]


def run(name: str, settings: list[str], jobs: list[Job], results: Path, progress: Progress, parallel: int = 1,
        on_end: Callable[[Job, dict], None] | None = None) -> None:
    """Run every job not yet done through the Hydra launcher conf/launcher/<name>.yaml; records decide the outcome.

    Blocks until the launcher returns; meanwhile runs whose records appear are reported as they end.
    """
    todo = [job for job in jobs if not job.done]
    if not todo:
        return
    sweep_dir = Path(results).absolute() / ".launcher" / time.strftime("%Y-%m-%d_%H-%M-%S")
    with Composer() as composer:
        cfg = launcher_config(composer, name, settings, sweep_dir, parallel)
        share = LAUNCHERS[name].concurrency
        concurrency = share(cfg.hydra.launcher, len(todo)) if share else None
        task = RunJob(todo, threads_per_run(concurrency) if concurrency else None)
        launcher = instantiate(cfg, task)
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

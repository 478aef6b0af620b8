"""Every launcher by name: where a sweep's runs execute. `--launcher NAME` picks one; its settings are
`hydra.launcher.KEY=VALUE` on the command line, never part of a run.

- local: this process, or -j N worker processes (ablate.sweep.launch);
- every other name: a conf/launcher/<name>.yaml choosing a Hydra launcher plugin and its settings, driven by
  ablate.sweep.hydra_launch without @hydra.main.

Whatever ran a job, its outcome is read from its run directory (ablate.sweep.outcome). A new Hydra launcher is
its conf/launcher/<name>.yaml and one `LAUNCHERS.register` line here. Torch- and Hydra-free until a sweep runs.
"""
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from omegaconf import DictConfig

from ablate.config.compose import CONF_DIR
from ablate.config.errors import ConfigError
from ablate.engine.resources import cpu_count
from ablate.registry import Registry
from ablate.sweep.plan import Job
from ablate.sweep.progress import Progress

SETTING = "hydra.launcher."
HYDRA = "ablate.sweep.hydra_launch"


@dataclass(frozen=True)
class LauncherSpec:
    """One launcher: the module that runs a sweep's jobs, and how many of its processes share this machine."""

    module: str  # run(name, settings, jobs, results, progress, parallel, on_end)
    description: str
    # Processes sharing this machine's cores, from the plugin's settings and the runs to do (each gets cores /
    # that many threads); None: every job has a machine of its own (Slurm), or the module decides (local).
    concurrency: Callable[[DictConfig, int], int] | None = None
    on_this_machine: bool = True  # runs use this machine's GPUs, so the plan states their memory

    @property
    def hydra(self) -> bool:
        """Whether conf/launcher/<name>.yaml configures it and a Hydra plugin runs it."""
        return self.module == HYDRA


def _joblib(launcher: DictConfig, todo: int) -> int:
    n_jobs = launcher.n_jobs if launcher.n_jobs > 0 else cpu_count() + 1 + launcher.n_jobs
    return min(max(1, n_jobs), todo)


def _every_task(launcher: DictConfig, todo: int) -> int:  # submitit's local executor starts every job at once
    return todo * launcher.tasks_per_node


LAUNCHERS: Registry[LauncherSpec] = Registry("launcher")
LAUNCHERS.register("local", LauncherSpec("ablate.sweep.launch", "in this process, or -j N worker processes"))
LAUNCHERS.register("joblib", LauncherSpec(HYDRA, "joblib (loky) processes on this machine", _joblib))
LAUNCHERS.register("slurm", LauncherSpec(HYDRA, "one Slurm job array, one task per GPU", on_this_machine=False))
LAUNCHERS.register("submitit_local", LauncherSpec(HYDRA, "submitit jobs on this machine: Slurm's code path",
                                                  _every_task))


def split_settings(overrides: list[str]) -> tuple[list[str], list[str]]:
    """(run overrides, launcher settings): hydra.launcher.* settings configure the launcher, never a run."""
    settings = [o for o in overrides if o.lstrip("+").startswith(SETTING)]
    return [o for o in overrides if o not in settings], settings


def check_launcher(name: str, settings: list[str]) -> None:
    """Raise ConfigError (one line) for an unknown launcher, a missing config, or a setting it does not have."""
    if name not in LAUNCHERS:
        raise ConfigError(LAUNCHERS.unknown(name))
    if not LAUNCHERS[name].hydra:
        if settings:
            raise ConfigError(f"{settings[0]} configures a launcher: add --launcher NAME")
        return
    if not (CONF_DIR / "launcher" / f"{name}.yaml").is_file():
        raise ConfigError(f"launcher {name} has no conf/launcher/{name}.yaml")
    import_module(HYDRA).check(name, settings)


def run(name: str, settings: list[str], jobs: list[Job], results: Path, progress: Progress, parallel: int,
        on_end: Callable[[Job, dict], None] | None = None) -> None:
    """Run every job not yet done through the named launcher; records decide each outcome."""
    import_module(LAUNCHERS[name].module).run(name, settings, jobs, results, progress, parallel, on_end)

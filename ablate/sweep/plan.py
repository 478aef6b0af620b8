"""A sweep's plan: every job composed, validated and located before anything is written."""
import os
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ablate.results.records import finished_record, run_dir
from ablate.sweep.compose import Composer, ConfigError


@dataclass
class Job:
    """One run of a sweep: its overrides, resolved config, directory, and whether it is already done."""

    overrides: list[str]
    config: DictConfig
    directory: Path
    done: bool

    @property
    def label(self) -> str:
        """The overrides that tell this job apart, for display."""
        return " ".join(self.overrides) or "(defaults)"


def check_writable(results: Path) -> None:
    """Raise ConfigError unless results is (or can be created as) a writable directory."""
    path = Path(results).absolute()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"results directory {results} is not a directory")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"results directory {results} cannot be created: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"results directory {results} is not writable ({existing} does not allow writing)")


def _validated(cfg: DictConfig, overrides: list[str], many: bool) -> DictConfig:
    from ablate.engine.task import check_task  # imports torch: not at module level, so `ablate ls` stays quick
    try:
        check_task(cfg)
    except ValueError as e:
        where = f" (job {' '.join(overrides)})" if many else ""
        raise ConfigError(f"{e}{where}") from None
    return cfg


def plan_runs(overrides: list[str], results: Path, sweep: bool = True) -> list[Job]:
    """Compose and validate every job (ConfigError on the first problem), then find the finished ones."""
    with Composer() as composer:
        job_overrides = composer.jobs(overrides) if sweep else [list(overrides)]
        if not job_overrides:
            raise ConfigError(f"empty sweep: {' '.join(overrides) or 'the experiment'} expands to no runs")
        configs = [composer.config(o) for o in job_overrides]
    jobs, seen = [], set()
    for o, cfg in zip(job_overrides, configs):
        directory = run_dir(results, OmegaConf.to_container(_validated(cfg, o, len(configs) > 1), resolve=True))
        if directory in seen:  # two spellings of the same config are one run
            continue
        seen.add(directory)
        jobs.append(Job(o, cfg, directory, finished_record(directory) is not None))
    check_writable(results)
    return jobs

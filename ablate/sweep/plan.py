"""A sweep's plan: every job composed, validated and located before anything is written.

Planning never imports torch: configs come from ablate.config (each group selection composed once),
checks from the task registry (ablate.config.tasks), run directories from ablate.results.rundir.
"""
import json
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ablate.config.compose import Composer
from ablate.config.errors import ConfigError
from ablate.config.naming import filed_name
from ablate.config.tasks import check_config
from ablate.results.rundir import RunDir
from ablate.writable import unwritable


class Job:
    """One run of a sweep: its overrides, resolved config, directory, and whether it was already done."""

    def __init__(self, overrides: list[str], config: dict | DictConfig, directory: Path, done: bool) -> None:
        self.overrides, self.directory, self.done = list(overrides), Path(directory), done
        self._plain = config if isinstance(config, dict) else None
        self._config = config if isinstance(config, DictConfig) else None

    @property
    def run(self) -> RunDir:
        """The job's run directory."""
        return RunDir(self.directory)

    @property
    def config(self) -> DictConfig:
        """The resolved config as a (struct) DictConfig, made on first use: a big plan never needs most."""
        if self._config is None:
            self._config = OmegaConf.create(self._plain)
            OmegaConf.set_struct(self._config, True)
        return self._config

    @property
    def resolved(self) -> dict:
        """The resolved config as plain dicts and lists."""
        if self._plain is None:
            self._plain = OmegaConf.to_container(self._config, resolve=True)
        return self._plain

    @property
    def label(self) -> str:
        """The overrides that tell this job apart, for display."""
        return " ".join(self.overrides) or "(defaults)"


def check_writable(results: Path) -> None:
    """Raise ConfigError unless results is (or can be created as) a writable directory."""
    problem = unwritable(results)
    if problem is not None:
        raise ConfigError(f"results directory {Path(results).absolute()} {problem}: choose another with --results-dir")


def _checked(config: dict, overrides: list[str], many: bool) -> None:
    try:
        check_config(OmegaConf.create(config))
    except ValueError as e:
        where = f" (job {' '.join(overrides)})" if many else ""
        raise ConfigError(f"{e}{where}") from None


def resolve(overrides: list[str], sweep: bool = True) -> tuple[list[list[str]], list[dict]]:
    """Each job's overrides and resolved config, filed under the command's experiment name (ConfigError)."""
    with Composer() as composer:
        job_overrides = composer.jobs(overrides) if sweep else [list(overrides)]
        if not job_overrides:
            raise ConfigError(f"empty sweep: {' '.join(overrides) or 'the experiment'} expands to no runs")
        configs = composer.configs(job_overrides)  # a sweep value in a single run is refused here
        names = {name: filed_name(composer, overrides, name) for name in {str(c["name"]) for c in configs}}
    for config in configs:
        config["name"] = names[str(config["name"])]
    return job_overrides, configs


def plan_runs(overrides: list[str], results: Path, sweep: bool = True) -> list[Job]:
    """Compose and validate every job (ConfigError on the first problem), then find the finished ones."""
    job_overrides, configs = resolve(overrides, sweep)
    jobs, seen, checked = [], set(), set()
    for o, config in zip(job_overrides, configs):
        # Runs that differ only in their seed pass or fail the same checks: check each setting once.
        setting = json.dumps({k: v for k, v in config.items() if k != "seed"}, sort_keys=True, default=str)
        if setting not in checked:
            _checked(config, o, len(configs) > 1)
            checked.add(setting)
        run = RunDir.of(results, config)
        if run.path in seen:  # two spellings of the same config are one run
            continue
        seen.add(run.path)
        jobs.append(Job(o, config, run.path, run.finished() is not None))
    check_writable(results)
    return jobs

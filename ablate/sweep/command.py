"""What `ablate train`, `ablate sweep` and `ablate config` do: plan the runs, say where they go, run them with a
live view, and say what was saved when Ctrl-C stops them. Each returns the command's exit status; bad input is
ConfigError (one line), raised before anything is written."""
import shlex
from pathlib import Path

from rich.live import Live

from ablate.config.errors import ConfigError
from ablate.config.tasks import TASKS
from ablate.console import Refused, console, say
from ablate.engine.parallel import AUTO, parallel_runs, parse_jobs, wait_passively
from ablate.engine.resources import check_device_present
from ablate.results.records import FAILED
from ablate.results.rundir import DEFAULT_RESULTS, RunBusy
from ablate.sweep.launchers import LAUNCHERS, check_launcher, run, split_settings
from ablate.sweep.memory import gpu_plan
from ablate.sweep.outcome import INTERRUPTED
from ablate.sweep.plan import Job, plan_runs
from ablate.sweep.progress import Progress

INTERRUPTED_EXIT = 130


def command_line(name: str, args: list[str]) -> str:
    """A command line that can be pasted back into a shell."""
    return " ".join(["ablate", name, *(shlex.quote(a) for a in args)])


def results_option(results: Path) -> list[str]:
    """--results-dir DIR, unless it is the default."""
    return [] if results == DEFAULT_RESULTS.absolute() else ["--results-dir", str(results)]


def summary(record: dict, error: bool = True) -> str:
    """The record's status, then its report metrics (and its error)."""
    metrics = record.get("metrics") or {}
    shown = TASKS[record["task"]].report if record.get("task") in TASKS else ()
    parts = [f"{k} {metrics[k]:.2f}" for k in shown if isinstance(metrics.get(k), (int, float))]
    if error and record.get("error"):
        parts.append(record["error"])
    return f"{record['status']}  " + "  ".join(parts)


def _saved(job: Job) -> str:
    """What a stopped run keeps: its finished epochs (the checkpoint of the last)."""
    return f"{job.directory.name} {len(job.run.metrics())}/{job.config.train.epochs} epochs"


def _first_line(planned: list[Job], results: Path) -> str:
    """Where the runs go and as which experiment."""
    names = sorted({str(job.resolved["name"]) for job in planned})
    done = sum(job.done for job in planned)
    where = results / names[0] if len(names) == 1 else results
    return (f"experiment{'s' if len(names) > 1 else ''} {', '.join(names)}: {len(planned)} runs, {done} done, "
            f"{len(planned) - done} to do, in {where}")


def check_devices(planned: list[Job]) -> None:
    """ConfigError unless this machine has the devices the runs to do ask for (runs on a cluster's nodes are
    not checked here: the login node may have no GPU)."""
    for device in sorted({str(job.resolved["runtime"]["device"]) for job in planned if not job.done}):
        try:
            check_device_present(device)
        except ValueError as e:
            raise ConfigError(str(e)) from None


def train(overrides: list[str], results: Path) -> int:
    """Train and evaluate one run (resuming it; a finished run is not trained again)."""
    from ablate.engine.distributed import env_rank, joined
    from ablate.engine.runner import execute, pick_device
    from ablate.sweep.display import duration

    wait_passively()  # before the engine loads torch
    console.quiet = env_rank() > 0  # under torchrun every process runs this; rank 0 speaks for all
    job = plan_runs(overrides, results, sweep=False)[0]
    check_devices([job])
    say(f"experiment {job.resolved['name']}: run {job.directory.name} ({job.label}), in {job.directory.parent}")
    if job.done:
        say(f"already done: {summary(job.run.record())}")
        return 0
    task, epochs = TASKS[job.config.task], job.config.train.epochs

    def show(row: dict) -> None:
        shown = [f"{k} {row[k]:.4g}" for k in (*task.report, "loss", "train_loss")
                 if isinstance(row.get(k), (int, float))]
        say("  " + "  ".join([f"epoch {row['epoch'] + 1}/{epochs}", *shown, duration(row["epoch_time_s"])]),
            fit=True)

    try:
        with joined(pick_device(job.config.runtime.device)) as world:
            record = execute(job.config, job.directory, job.overrides, on_epoch=show, world=world)
    except RunBusy as e:
        raise Refused(str(e), code=1) from None
    except KeyboardInterrupt:
        say(f"interrupted: saved {_saved(job)}")
        say(f"resume with: {command_line('train', [*overrides, *results_option(results)])}")
        return INTERRUPTED_EXIT
    say(f"{record['status']}: {job.directory}  {summary(record).removeprefix(record['status']).strip()}")
    for warning in record.get("warnings", []):
        say(f"  warning: {warning}")
    return 1 if record["status"] == FAILED else 0


def sweep(overrides: list[str], results: Path, dry_run: bool = False, jobs: str = AUTO, launcher: str = "local",
          until_resolved: bool = False, max_seeds: int = 20) -> int:
    """Run a grid of configs, skipping finished runs (and with until_resolved, add seeds to a paper table);
    jobs: runs at once, a number or auto (ablate.engine.parallel)."""
    try:
        wanted = parse_jobs(jobs)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if until_resolved and max_seeds < 2:
        raise ConfigError(f"--max-seeds must be at least 2 with --until-resolved (got {max_seeds})")
    wait_passively()  # before the engine loads torch, here or in the processes that run the jobs
    command = [*overrides, *(["-j", jobs] if jobs != AUTO else []),
               *(["--launcher", launcher] if launcher != "local" else []),
               *(["--until-resolved", "--max-seeds", str(max_seeds)] if until_resolved else []),
               *results_option(results)]
    overrides, settings = split_settings(overrides)
    check_launcher(launcher, settings)
    study = None
    if until_resolved:
        from ablate.sweep.until import study_of  # loads the paper's statistics only when asked

        study = study_of(overrides, results, max_seeds)
    planned = plan_runs(overrides, results, sweep=True)
    if LAUNCHERS[launcher].on_this_machine:
        check_devices(planned)
    names = sorted({str(job.resolved["name"]) for job in planned})
    from ablate.results.migrate import stale

    old = sum(stale(results, name) for name in names)
    if old:
        say(f"note: {old} runs of {', '.join(names)} were made under an older config schema and are not "
            f"found by this plan: ablate migrate --results-dir {results}")
    say(_first_line(planned, results))
    on_gpus = gpu_plan([job.resolved for job in planned if not job.done], _parallel(wanted, launcher, planned)) \
        if LAUNCHERS[launcher].on_this_machine else None
    if on_gpus:
        say(on_gpus)
    if dry_run:
        for job in planned:
            say(f"  {'done' if job.done else 'todo'}  {job.directory.name}  {job.label}")
        if study is not None:
            from ablate.sweep.until import preview

            preview(study, results, max_seeds, say)
        return 0
    # Nothing left to run: no engine to load (torch alone takes seconds to import).
    statuses = _run(planned, wanted, launcher, settings, results, command) if any(not j.done for j in planned) else []
    if statuses is None:
        return INTERRUPTED_EXIT
    if study is not None and FAILED not in statuses:
        from ablate.sweep.until import resolve

        def one_round(more: list[Job], purpose: dict[Path, str]) -> list[str]:
            ended = _run(more, wanted, launcher, settings, results, command, purpose)
            if ended is None:
                raise KeyboardInterrupt
            return ended

        try:
            statuses += resolve(study, results, max_seeds, one_round, say)
        except KeyboardInterrupt:
            return INTERRUPTED_EXIT
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))
    tables = [o.split("=", 1)[1] for o in overrides if o.startswith("experiment=paper/")]  # the paper's layout
    say(f"sweep finished: {counts or 'nothing to do'}.  Table: "
        + command_line("report", ["--experiment", (tables or names)[0], *results_option(results)]))
    return 1 if FAILED in statuses else 0


def _parallel(jobs: int | None, launcher: str, planned: list[Job]) -> int:
    """Runs at once: -j N, or for auto the local launcher's choice (ablate.engine.parallel); a Hydra launcher
    given auto keeps its own setting (1 leaves it as configured)."""
    if LAUNCHERS[launcher].hydra:
        return jobs or 1
    return parallel_runs(jobs, [job.resolved for job in planned if not job.done])


def _run(planned: list[Job], jobs: int | None, launcher: str, settings: list[str], results: Path,
         command: list[str], purpose: dict[Path, str] | None = None) -> list[str] | None:
    """Run the jobs not done (jobs: -j N, None for auto) with a live view, one line per run as it ends (with what
    it is for); their statuses, or None after Ctrl-C (having said what was saved and how to resume)."""
    from ablate.sweep.display import EpochLines, SweepView, duration  # the engine loads only to run

    workers = _parallel(jobs, launcher, planned)
    progress = Progress(planned, min(workers, max(1, sum(not job.done for job in planned))))
    lines = None if console.is_terminal else EpochLines(progress, say)  # piped: a plain line per epoch

    def ended(job: Job, record: dict) -> None:
        if lines is not None:
            lines.flush(job)
        why = f"for {purpose[job.directory]}  " if purpose and job.directory in purpose else ""
        say(f"  {job.directory.name}  {summary(record, error=False)}  ({duration(progress.durations[job.directory])})"
            f"  {why}{job.label}", fit=True)
        notes = [record["error"]] if record.get("error") else []
        for note in notes + [f"warning: {w}" for w in record.get("warnings", [])]:
            say(f"    {note}")  # each on its own line: never cut, whatever the width

    try:
        with lines or Live(SweepView(progress), console=console, refresh_per_second=2, transient=True):
            run(launcher, settings, planned, results, progress, workers, on_end=ended)
    except KeyboardInterrupt:
        _interrupted(planned, progress, command)
        return None
    return [r["status"] for r in progress.ended.values()]


def _interrupted(planned: list[Job], progress: Progress, command: list[str]) -> None:
    """After Ctrl-C: what was saved (each stopped run's last finished epoch) and the command that resumes."""
    by_dir = {job.directory: job for job in planned}
    stopped = [by_dir[d] for d in progress.running] + [
        by_dir[d] for d, r in progress.ended.items() if r["status"] == INTERRUPTED and r.get("error") == "Ctrl-C"]
    finished = sum(r["status"] != INTERRUPTED for r in progress.ended.values())
    say(f"interrupted: {finished} runs finished and recorded; "
        + (f"saved: {', '.join(_saved(job) for job in stopped)}" if stopped else "none was in progress"))
    say(f"resume with: {command_line('sweep', command)}")


def show_config(overrides: list[str], results: Path) -> str:
    """The resolved config of one run as YAML, headed by its experiment and run directory."""
    from omegaconf import OmegaConf

    job = plan_runs(overrides, results, sweep=False)[0]
    return f"# experiment {job.resolved['name']}, run directory {job.directory}\n" + OmegaConf.to_yaml(job.config)

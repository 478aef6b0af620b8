"""The `ablate` command line: train, sweep, report, ls, config, eval. Hydra overrides pass through as arguments."""
import importlib.metadata
import shlex
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ablate.config.compose import Composer, ConfigError
from ablate.config.tasks import TASKS, headline_of
from ablate.results.formats import FORMATS, write_output
from ablate.results.records import FAILED
from ablate.results.rundir import INTERRUPTED, RunBusy, experiments, run_dirs
from ablate.sweep.memory import gpu_plan
from ablate.sweep.plan import Job, plan_runs
from ablate.sweep.progress import Progress

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None)
console = Console()

Overrides = Annotated[list[str] | None, typer.Argument(help="Hydra overrides, e.g. rpe=irpe_k train.epochs=3",
                                                        show_default=False)]
ResultsDir = Annotated[Path, typer.Option("--results-dir", envvar="ABLATE_RESULTS",
                                          help="Where run records go (env ABLATE_RESULTS).")]
DEFAULT_RESULTS = Path("results/runs")
FILING = """Where runs go: <results>/<experiment>/<config hash>. Runs stay under the experiment's own name
(fashion_rpe by default) while the overrides only choose the experiment (experiment=, scale=), seeds,
values of the keys the experiment sweeps or keys below them (fashion_rpe: rpe, rpe.mode, ...) or
settings that never change a result (runtime.*, logging.*, paths such as data.root). Any other override
makes another study, filed as the experiment's name plus those overrides (group choices first, each
sorted), e.g. fashion_rpe+data=digits+train.epochs=1 (over 80 characters: the first ones and a hash);
name=NAME chooses the name instead. The plan's first line says which."""


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one error line on stderr and exit."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def say(text: str, fit: bool = False) -> None:
    """Print a line as it is (no markup); fit: cut it to the console's width rather than wrap it."""
    if fit:
        console.print(Text(text), overflow="ellipsis", no_wrap=True, crop=True, highlight=False)
    else:
        console.print(text, markup=False, highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        try:
            version = importlib.metadata.version("ablate")
        except importlib.metadata.PackageNotFoundError:
            version = "unknown (not installed: pip install -e .)"
        typer.echo(f"ablate {version}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False) -> None:
    """Sweeps, records and reports for ablation studies of relative position encoding (iRPE)."""


def _absolute(results: Path) -> Path:
    return results.expanduser().absolute()


def _command(name: str, args: list[str]) -> str:
    """A command line that can be pasted back into a shell."""
    return " ".join(["ablate", name, *(shlex.quote(a) for a in args)])


def _results_option(results: Path) -> list[str]:
    return [] if results == _absolute(DEFAULT_RESULTS) else ["--results-dir", str(results)]


def _saved(job: Job) -> str:
    """What a stopped run keeps: its finished epochs (the checkpoint of the last)."""
    return f"{job.directory.name} {len(job.run.metrics())}/{job.config.train.epochs} epochs"


def _plan(overrides: list[str] | None, results: Path, sweep: bool) -> list[Job]:
    try:
        return plan_runs(overrides or [], results, sweep=sweep)
    except ConfigError as e:
        fail(str(e))


def _first_line(planned: list[Job], results: Path) -> str:
    """Where the runs go and as which experiment."""
    names = sorted({str(job.resolved["name"]) for job in planned})
    done = sum(job.done for job in planned)
    where = results / names[0] if len(names) == 1 else results
    return (f"experiment{'s' if len(names) > 1 else ''} {', '.join(names)}: {len(planned)} runs, {done} done, "
            f"{len(planned) - done} to do, in {where}")


def _summary(record: dict) -> str:
    """The record's status, then its report metrics and error."""
    metrics = record.get("metrics") or {}
    shown = TASKS[record["task"]].report if record.get("task") in TASKS else ()
    parts = [f"{k} {metrics[k]:.2f}" for k in shown if isinstance(metrics.get(k), (int, float))]
    if record.get("error"):
        parts.append(record["error"])
    return f"{record['status']}  " + "  ".join(parts)


@app.command(epilog=FILING)
def train(overrides: Overrides = None, results_dir: ResultsDir = DEFAULT_RESULTS) -> None:
    """Train and evaluate one run.

    A completed run is not trained again; an interrupted one resumes from its last checkpoint.
    Several processes (DDP): torchrun --nproc_per_node N -m ablate.cli train [overrides].
    """
    from ablate.engine.distributed import env_rank, joined
    from ablate.engine.runner import execute, pick_device
    from ablate.sweep.display import duration

    console.quiet = env_rank() > 0  # under torchrun every process runs this; rank 0 speaks for all
    results_dir = _absolute(results_dir)
    job = _plan(overrides, results_dir, sweep=False)[0]
    say(f"experiment {job.resolved['name']}: run {job.directory.name} ({job.label}), in {job.directory.parent}")
    if job.done:
        say(f"already done: {_summary(job.run.record())}")
        return
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
        fail(str(e), code=1)
    except KeyboardInterrupt:
        say(f"interrupted: saved {_saved(job)}")
        say(f"resume with: {_command('train', [*(overrides or []), *_results_option(results_dir)])}")
        raise typer.Exit(130)
    say(f"{record['status']}: {job.directory}  {_summary(record).removeprefix(record['status']).strip()}")
    if record["status"] == FAILED:
        raise typer.Exit(1)


@app.command(epilog=FILING)
def sweep(overrides: Overrides = None,
          dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan only.")] = False,
          jobs: Annotated[int, typer.Option("-j", "--jobs",
                                            help="Runs at once (local, joblib; slurm: array parallelism).")] = 1,
          launcher: Annotated[str, typer.Option(help="local (this process, or -j worker processes), or a "
                                                     "conf/launcher/ name: joblib, submitit_local, slurm. "
                                                     "Settings: hydra.launcher.KEY=VALUE.")] = "local",
          until_resolved: Annotated[bool, typer.Option(
              "--until-resolved", help="A paper table (experiment=paper/<table>): after the sweep, add seeds in "
                                       "rounds until every finding resolves.")] = False,
          max_seeds: Annotated[int, typer.Option(help="With --until-resolved: at most seeds 0..N-1 per row.")] = 20,
          results_dir: ResultsDir = DEFAULT_RESULTS) -> None:
    """Run a grid of configs, skipping finished runs.

    The grid is the experiment's sweep (hydra.sweeper.params) plus the overrides, which win per key.
    Interrupted runs resume from their checkpoints; Ctrl-C says what was saved and how to resume.
    """
    from ablate.sweep.launchers import LOCAL, check_launcher, split_settings

    if jobs < 1:
        fail(f"-j/--jobs must be at least 1 (got {jobs})")
    results_dir = _absolute(results_dir)
    command = [*(overrides or []), *(["-j", str(jobs)] if jobs != 1 else []),
               *(["--launcher", launcher] if launcher != LOCAL else []),
               *(["--until-resolved", "--max-seeds", str(max_seeds)] if until_resolved else []),
               *_results_option(results_dir)]
    overrides, settings = split_settings(overrides or [])
    study = None
    try:
        check_launcher(launcher, settings)
        if until_resolved:
            from ablate.sweep.until import study_of  # loads the paper's statistics only when asked

            study = study_of(overrides)
    except ConfigError as e:
        fail(str(e))
    if until_resolved and (launcher != LOCAL or max_seeds < 2):
        fail("--until-resolved runs on this machine (--launcher local) with --max-seeds of at least 2")
    planned = _plan(overrides, results_dir, sweep=True)
    names = sorted({str(job.resolved["name"]) for job in planned})
    from ablate.results.migrate import stale
    old = sum(stale(results_dir, name) for name in names)
    if old:
        console.print(f"note: {old} runs of {', '.join(names)} were made under an older config schema and are not "
                      f"found by this plan: ablate migrate --results-dir {results_dir}")
    say(_first_line(planned, results_dir))
    on_gpus = gpu_plan([job.resolved for job in planned if not job.done], jobs) if launcher == LOCAL else None
    if on_gpus:
        say(on_gpus)
    if dry_run:
        for job in planned:
            say(f"  {'done' if job.done else 'todo'}  {job.directory.name}  {job.label}")
        if study is not None:
            from ablate.sweep.until import preview

            preview(study, results_dir, max_seeds, say)
        return
    statuses = _run(planned, jobs, launcher, settings, results_dir, command)
    if study is not None and FAILED not in statuses:
        from ablate.sweep.until import resolve

        statuses += resolve(study, results_dir, max_seeds,
                            lambda more, purpose: _run(more, jobs, LOCAL, [], results_dir, command, purpose), say)
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))
    tables = [o.split("=", 1)[1] for o in overrides if o.startswith("experiment=paper/")]  # the paper's layout
    say(f"sweep finished: {counts or 'nothing to do'}.  Table: "
        + _command("report", ["--experiment", (tables or names)[0], *_results_option(results_dir)]))
    if FAILED in statuses:
        raise typer.Exit(1)


def _run(planned: list[Job], jobs: int, launcher: str, settings: list[str], results: Path, command: list[str],
         purpose: dict[Path, str] | None = None) -> list[str]:
    """Run the jobs not done with a live view, one line per run as it ends (with what it is for); their statuses."""
    from ablate.sweep.display import SweepView, duration  # the engine loads only to run
    from ablate.sweep.launch import launch
    from ablate.sweep.launchers import LOCAL, launch_hydra

    progress = Progress(planned, min(jobs, max(1, sum(not job.done for job in planned))))

    def ended(job: Job, record: dict) -> None:
        why = f"for {purpose[job.directory]}  " if purpose and job.directory in purpose else ""
        say(f"  {job.directory.name}  {_summary(record)}  ({duration(progress.durations[job.directory])})  "
            f"{why}{job.label}", fit=True)

    try:
        with Live(SweepView(progress), console=console, refresh_per_second=2, transient=True):
            if launcher == LOCAL:
                launch(planned, progress.workers, progress, on_end=ended)
            else:
                launch_hydra(launcher, settings, planned, results, progress, jobs, on_end=ended)
    except KeyboardInterrupt:
        _interrupted(planned, progress, command)
    return [r["status"] for r in progress.ended.values()]


def _interrupted(planned: list[Job], progress: Progress, command: list[str]) -> NoReturn:
    """After Ctrl-C: what was saved (each stopped run's last finished epoch) and the command that resumes."""
    by_dir = {job.directory: job for job in planned}
    stopped = [by_dir[d] for d in progress.running] + [
        by_dir[d] for d, r in progress.ended.items() if r["status"] == INTERRUPTED and r.get("error") == "Ctrl-C"]
    finished = sum(r["status"] != INTERRUPTED for r in progress.ended.values())
    say(f"interrupted: {finished} runs finished and recorded; "
        + (f"saved: {', '.join(_saved(job) for job in stopped)}" if stopped else "none was in progress"))
    say(f"resume with: {_command('sweep', command)}")
    raise typer.Exit(130)


@app.command()
def report(experiment: Annotated[str | None, typer.Option(help="Only this experiment's runs.")] = None,
           by: Annotated[str | None, typer.Option(help="Factors (config keys), comma-separated; "
                                                       "default: every key that varies except the seed.")] = None,
           metric: Annotated[str | None, typer.Option(help="Metrics, comma-separated (default: top1,top5 and "
                                                             "top1 at each test resolution, top1@R; AP,AP50,AP75 "
                                                             "for detection runs).")] = None,
           where: Annotated[list[str] | None, typer.Option(help="Only runs whose config has KEY=VALUE "
                                                                "(repeatable), e.g. --where data.name=digits.")] = None,
           fmt: Annotated[str, typer.Option("--format", help="Output format: " + ", ".join(FORMATS) + ".")] = "table",
           output: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None,
           results_dir: ResultsDir = DEFAULT_RESULTS) -> None:
    """Tabulate results: one row per setting, mean ± std and n over seeds.

    A row averages only runs whose configs differ in the seed alone. When the factors (--by) leave runs of
    several settings in one row, the config keys that tell them apart are added as columns, and a note
    under the table names them; --where KEY=VALUE keeps one value of a key instead. Diverged runs are
    counted in their row (column diverged) without their metrics; failed and unfinished runs are counted
    in a note; a metric some runs lack shows its own n. Unreadable records are named on stderr and skipped.
    png and html draw each setting's metrics over seeds and its training curves (html adds each run's config).
    --experiment paper/<table> (or paper) prints the paper's layout, with the paper's numbers and findings.
    """
    from ablate.results.paper.report import is_paper_experiment, paper_report
    from ablate.results.report import at_resolutions, load_records, readable, select, summarize, warn

    if fmt not in FORMATS:
        fail(FORMATS.unknown(fmt))
    results_dir = _absolute(results_dir)
    if is_paper_experiment(experiment):
        try:
            return paper_report(experiment, fmt, results_dir, output)
        except ValueError as e:
            fail(str(e))
    spec = FORMATS[fmt]
    if spec.study is None:
        fail(f"--format {fmt} is for the paper's tables (--experiment paper/<table>)")
    if spec.binary and output is None:
        fail(f"--format {fmt} writes a file, not text: give --output FILE{spec.suffix}")
    existing = experiments(results_dir)
    if not existing:
        fail(f"no runs in {results_dir}: run `ablate sweep` first, or point --results-dir at your results")
    if experiment is not None and experiment not in existing:
        fail(f"no experiment {experiment!r} in {results_dir}; experiments there: {', '.join(existing)}")
    frame = load_records(results_dir, experiment)
    if frame.empty:
        fail(f"no run has finished in {results_dir}" + (f"/{experiment}" if experiment else "")
             + " yet (ablate ls shows them)", 1)
    tasks = set(frame["task"].dropna())
    task = TASKS[tasks.pop()] if len(tasks) == 1 and next(iter(tasks)) in TASKS else TASKS["classification"]
    # By default the task's metrics, and its headline at every other test resolution the runs were evaluated at.
    defaults = (*task.report, *at_resolutions(frame.columns, task.headline))
    metrics = tuple(m.strip() for m in (metric or ",".join(defaults)).split(",") if m.strip())
    known = tuple(m for _, spec_ in TASKS.items() for m in (*spec_.metrics, f"best_{spec_.headline}"))
    try:
        frame = select(frame, where or [])
        summary = summarize(frame, [f.strip() for f in by.split(",")] if by else None, metrics, known)
    except ValueError as e:
        fail(str(e))
    if summary.empty:
        fail(f"no completed or diverged runs among {len(frame)} records ({'; '.join(summary.notes)})", 1)
    summary.headline = task.headline
    if fmt == "table" and output is None:
        text = readable(summary)
        table = Table()
        for column in text.columns:
            table.add_column(str(column), justify="right" if column in (*metrics, "n", "diverged") else "left")
        for row in text.itertuples(index=False):
            table.add_row(*("" if v is None else str(v) for v in row))
        console.print(table)
        for note in summary.notes:
            say(f"note: {note}")
        return
    for note in summary.notes:
        warn(f"note: {note}")
    content = spec.renderer("study")(summary)
    if output is None:
        typer.echo(content, nl=False)
    else:
        write_output(output, content)


@app.command("ls")
def list_runs(experiment: Annotated[str | None, typer.Option(help="Only this experiment.")] = None,
              results_dir: ResultsDir = DEFAULT_RESULTS) -> None:
    """List runs by experiment, then start time: status, epochs, headline metric (top-1, or AP; the latest
    epoch's while unfinished), start time (UTC) and overrides."""
    results_dir = _absolute(results_dir)
    rows = []
    for run in run_dirs(results_dir, experiment):
        try:
            record = run.record() or {}
        except ValueError:
            record = {}
        epochs = run.metrics()
        metrics = record.get("metrics") or (epochs[-1] if epochs else {})
        headline = headline_of(metrics)
        shown = "" if headline is None else f"{metrics[headline]:.2f}"
        rows.append((run.path.parent.name, run.started_at(record), run.name, run.state(), str(len(epochs)), shown,
                     run.overrides(record)))
    if not rows:
        say(f"no runs in {results_dir}")
        return
    say(f"runs in {results_dir}")
    for name in sorted({row[0] for row in rows}):
        runs = sorted(row for row in rows if row[0] == name)
        # overrides every run of the experiment shares are said once, under its name
        common = [o for o in runs[0][-1] if all(o in row[-1] for row in runs)] if len(runs) > 1 else []
        table = Table(box=None, pad_edge=False, title_justify="left", title_style="bold",
                      title=name + (f"  (every run: {' '.join(common)})" if common else ""))
        for column in ("started", "run", "status", "ep", "top1/AP"):
            table.add_column(column, no_wrap=True)
        table.add_column("overrides", ratio=1)
        for _, started, *rest, overrides in runs:
            own = " ".join(o for o in overrides if o not in common)
            table.add_row(started[5:16].replace("T", " "), *rest,
                          own or ("(defaults)" if not overrides else "(as above)"))
        console.print(table)


@app.command("config", epilog=FILING)
def show_config(overrides: Overrides = None, results_dir: ResultsDir = DEFAULT_RESULTS) -> None:
    """Print the resolved config of one run (YAML), exactly as `ablate train` with these overrides runs it."""
    from omegaconf import OmegaConf

    job = _plan(overrides, _absolute(results_dir), sweep=False)[0]
    typer.echo(f"# experiment {job.resolved['name']}, run directory {job.directory}")
    typer.echo(OmegaConf.to_yaml(job.config), nl=False)


@app.command("eval")
def evaluate(checkpoint: Annotated[Path, typer.Argument(help="A .pth file: the authors' (key 'model') or ours.")],
             overrides: Overrides = None) -> None:
    """Evaluate a checkpoint: top-1/top-5 for classification, COCO AP for DETR (model=detr data=coco).

    Images are resized to data.img_size; data=imagenet uses the official transform (resize 256 bicubic,
    centre-crop 224: eval.crop_pct=0.875).
    """
    import torch

    from ablate.config.checks import rpe_config
    from ablate.data.build import build_val_loader, open_split
    from ablate.data.registry import check_dataset
    from ablate.engine.classification import evaluate_classifier
    from ablate.engine.model import build_model
    from ablate.models.registry import check_model_name
    from ablate.engine.pretrained import checkpoint_state, load_into
    from ablate.engine.resources import cpu_count
    from ablate.engine.runner import pick_device

    try:
        with Composer() as composer:
            cfg = composer.config(overrides or [])
        if cfg.task == "detection":
            from ablate.engine.detection import evaluate_checkpoint

            torch.set_num_threads(cfg.runtime.threads or cpu_count())
            metrics = evaluate_checkpoint(cfg, checkpoint, pick_device(cfg.runtime.device))
            console.print(f"{checkpoint}  DETR  {cfg.data.name}:  " + "  ".join(f"{k} {v:.1f}" for k, v in metrics.items()))
            return
        check_model_name(cfg.model.name)
        rpe_config(cfg.rpe)
        check_dataset(cfg.data, "classification", splits=("val",))
        num_classes = cfg.data.num_classes or open_split(cfg.data, "val").num_classes
        model = build_model(cfg.model, cfg.pe, cfg.rpe, num_classes, cfg.data.in_chans, cfg.data.img_size, 0.0)
        load_into(model, checkpoint_state(checkpoint), checkpoint)
    except ValueError as e:
        fail(str(e))
    torch.set_num_threads(cfg.runtime.threads or cpu_count())
    device = pick_device(cfg.runtime.device)
    result = evaluate_classifier(model.to(device), build_val_loader(cfg.data, cfg.eval, cfg.runtime.workers), device)
    console.print(f"{checkpoint}  {cfg.model.name}  {cfg.data.name}:  top1 {result['top1']:.2f}  "
                  f"top5 {result['top5']:.2f}  loss {result['loss']:.4f}")


@app.command()
def bench(model: Annotated[str | None, typer.Option(help="A model name (default: deit_small_patch16_224_rpe on "
                                                          "a GPU, deit_pico_patch4_28 on a CPU).")] = None,
          batch: Annotated[int | None, typer.Option(help="Images per step (default 128 on a GPU, 64 on a CPU).")] = None,
          steps: Annotated[int, typer.Option(help="Timed steps per measurement (the median is kept).")] = 20,
          warmup: Annotated[int, typer.Option(help="Untimed steps first (compilation happens here).")] = 5,
          dtype: Annotated[str | None, typer.Option(help="bf16, fp16 or fp32 autocast (default bf16 on a GPU, "
                                                         "fp32 on a CPU).")] = None,
          backends: Annotated[str | None, typer.Option(help="Comma-separated (default: every backend; on a CPU "
                                                            "all but the interpreted Triton kernels).")] = None,
          variants: Annotated[str, typer.Option(help="iRPE rows: K ctx, QK ctx, QKV ctx, K bias, QK bias.")] =
          "K ctx,QK ctx,QKV ctx,K bias,QK bias",
          compile_models: Annotated[bool | None, typer.Option("--compile/--no-compile",
                                                              help="torch.compile every model (default: on a GPU).")]
          = None,
          detr: Annotated[bool, typer.Option(help="Add the DETR-encoder rows (1,000 padded tokens on a GPU).")] = True,
          layer: Annotated[bool, typer.Option(help="Time one DeiT-S attention layer per backend against eager "
                                                   "instead.")] = False,
          device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N.")] = "auto",
          output: Annotated[Path | None, typer.Option(help="Also write the rows as CSV (with the device and the "
                                                           "torch, triton, CUDA versions).")] = None) -> None:
    """Training and inference throughput and peak memory of a whole model, per iRPE variant and attention
    backend, in one process (medians after warm-up; CUDA events on a GPU); ratios to the fastest no-RPE row."""
    from ablate.bench import speed as b
    from ablate.engine.runner import pick_device
    from ablate.models.registry import MODELS
    from ablate.attention.backends import BACKENDS

    dev = pick_device(device)
    gpu = dev.type == "cuda"
    model = model or ("deit_small_patch16_224_rpe" if gpu else "deit_pico_patch4_28")
    names = [n.strip() for n in backends.split(",")] if backends else b.default_backends(dev)
    rows = [v.strip() for v in variants.split(",") if v.strip()]
    dtype = dtype or ("bf16" if gpu else "fp32")
    problems = [f"--model {model}: not one of ours" for _ in [0] if model not in MODELS]
    problems += [BACKENDS.unknown(n) for n in names if n not in BACKENDS]
    problems += [f"unknown variant {v!r}: expected {', '.join(b.VARIANTS)}" for v in rows if v not in b.VARIANTS]
    problems += [f"--dtype {dtype}: expected {', '.join(b.DTYPES)}" for _ in [0] if dtype not in b.DTYPES]
    problems += ["--steps must be >= 1 and --warmup >= 0" for _ in [0] if steps < 1 or warmup < 0]
    if problems:
        fail(problems[0])
    env = b.environment(dev)
    console.print(f"{env['device']}  torch {env['torch']}  triton {env['triton']}  CUDA {env['cuda']}")
    if not backends:
        for line in b.left_out(dev):
            console.print(f"  {line}")
    if layer:
        table = Table(title=f"one attention layer, DeiT-S shape, batch {batch or 8}, median of {steps}")
        for column in ("RPE", "backend", "pass", "eager ms", "backend ms", "backend / eager"):
            table.add_column(column)
        layer_rows = b.layer_rows(names, dev, batch or 8, steps, warmup)
        for r in layer_rows:
            table.add_row(*r[:3], f"{r[3]:.1f}", f"{r[4]:.1f}", f"{r[5]:.2f}")
        console.print(table)
        if output is not None:
            import pandas as pd
            frame = pd.DataFrame(layer_rows, columns=["variant", "backend", "pass", "eager_ms", "backend_ms", "ratio"])
            write_output(output, frame.assign(**env).to_csv(index=False))
        return
    size = batch or (128 if gpu else 64)
    done: list = []

    def save_csv() -> None:  # after every row: a run cut short by a time limit keeps what it measured
        if output is not None:
            import pandas as pd
            ratio = b.ratios(done)
            frame = pd.DataFrame([{**vars(r), "train_ratio": ratio[i][0], "infer_ratio": ratio[i][1], **env,
                                   "dtype": dtype, "batch": size, "steps": steps} for i, r in enumerate(done)])
            write_output(output, frame.to_csv(index=False))

    def measured_row(r) -> None:
        done.append(r)
        save_csv()
        console.print(f"  {r.model} {r.variant} {r.backend}{' compiled' if r.compiled else ''}: "
                      + (f"{r.train_img_s:.0f} img/s" if r.train_img_s else r.note)
                      + (f"  tiles: {r.tiles}" if r.tiles else ""))

    measured = b.run_bench(model, size, dev, b.DTYPES[dtype], steps, warmup, names, rows,
                           gpu if compile_models is None else compile_models, detr, on_row=measured_row)
    ratio = b.ratios(measured)
    table = Table(title=f"{model}, batch {size}, {dtype}, median of {steps} steps")
    for column in ("model", "RPE", "backend", "train img/s", "x", "infer img/s", "x", "peak GiB", "note"):
        table.add_column(column)
    for i, r in enumerate(measured):
        fmt = lambda v, d: "" if v is None else f"{v:.{d}f}"  # noqa: E731
        table.add_row(r.model.removesuffix("_rpe"), r.variant, r.backend + (" compiled" if r.compiled else ""),
                      fmt(r.train_img_s, 0), fmt(ratio[i][0], 2), fmt(r.infer_img_s, 0), fmt(ratio[i][1], 2),
                      fmt(r.peak_gib, 2), r.note)
    console.print(table)
    for reason in dict.fromkeys(r.reason for r in measured if r.reason):
        console.print(f"  note: {reason}")


@app.command()
def migrate(results_dir: ResultsDir = DEFAULT_RESULTS) -> None:
    """Bring runs made by an older ablate to the current config schema, so sweeps find, skip and resume them.

    Rewrites each run's record and config.yaml and renames its directory to its new identity hash;
    runs being run now are left alone (run it again later). Reports read old records without it.
    """
    from ablate.results.migrate import migrate as upgrade_runs

    if not Path(results_dir).is_dir():
        fail(f"no results directory {Path(results_dir).absolute()}")
    outcome = upgrade_runs(results_dir)
    for moved in outcome["moved"]:
        console.print(f"  {moved}")
    console.print(", ".join(f"{len(runs)} {what}" for what, runs in outcome.items()) + f"  ({results_dir})")
    if outcome["busy"] or outcome["clash"]:
        raise typer.Exit(1)


@app.command("pretrain-backbone")
def pretrain_backbone(
        out: Annotated[Path, typer.Argument(help="Where the weights go (a .pth state dict with timm keys).")],
        backbone: Annotated[str, typer.Option(help="A timm ResNet.")] = "resnet18",
        width: Annotated[int, typer.Option(help="Channels of the first stage (model.backbone_width).")] = 16,
        images: Annotated[int, typer.Option(help="Training scenes of one item each.")] = 30000,
        epochs: Annotated[int, typer.Option(help="Passes over them.")] = 2,
        seed: Annotated[int, typer.Option(help="Scenes, initialisation and order.")] = 0,
        force: Annotated[bool, typer.Option(help="Replace an existing file.")] = False) -> None:
    """Pretrain a DETR trunk on single composite items (the proxy's stand-in for ImageNet weights)."""
    import torch

    from ablate.engine.pretrain_backbone import pretrain_backbone as pretrain
    from ablate.engine.resources import cpu_count

    out = out.expanduser()
    if out.exists() and not force:
        fail(f"{out} exists: pass --force to replace it")
    if not backbone.startswith("resnet"):
        fail(f"--backbone {backbone!r} is not a timm ResNet (e.g. resnet18)")
    if width < 1 or epochs < 1 or images < 128:
        fail("--width and --epochs must be >= 1 and --images >= 128 (one batch)")
    torch.set_num_threads(cpu_count())
    try:
        result = pretrain(out, backbone, width, images=images, epochs=epochs, seed=seed)
    except (ValueError, RuntimeError) as e:
        fail(str(e))
    console.print(f"{out}: {backbone} width {width}, held-out top-1 {result['top1']:.2f} "
                  f"({result['seconds']:.0f} s)")


if __name__ == "__main__":
    app()

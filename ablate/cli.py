"""The `ablate` command line: train, sweep, report, ls, eval. Hydra overrides pass through as arguments."""
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from ablate.config.compose import Composer, ConfigError
from ablate.config.tasks import TASKS, headline_of
from ablate.results.formats import FORMATS, write_output
from ablate.results.rundir import RunBusy, RunDir, run_dirs
from ablate.sweep.memory import gpu_plan
from ablate.sweep.plan import Job, plan_runs

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Sweeps, records and reports for ablation studies of relative position encoding (iRPE).")
console = Console()

Overrides = Annotated[list[str] | None, typer.Argument(help="Hydra overrides, e.g. rpe=irpe_k train.epochs=3",
                                                        show_default=False)]
ResultsDir = Annotated[Path, typer.Option("--results-dir", envvar="ABLATE_RESULTS",
                                          help="Where run records go (env ABLATE_RESULTS).")]
DEFAULT_RESULTS = Path("results/runs")


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one error line on stderr and exit."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _plan(overrides: list[str] | None, results: Path, sweep: bool) -> list[Job]:
    try:
        return plan_runs(overrides or [], results, sweep=sweep)
    except ConfigError as e:
        fail(str(e))


def _summary(record: dict) -> str:
    metrics = record.get("metrics") or {}
    shown = TASKS[record["task"]].report if record.get("task") in TASKS else ()
    parts = [f"{k} {metrics[k]:.2f}" for k in shown if isinstance(metrics.get(k), (int, float))]
    if record.get("error"):
        parts.append(record["error"])
    return f"{record['status']}  " + "  ".join(parts)


@app.command()
def train(overrides: Overrides = None, results_dir: ResultsDir = DEFAULT_RESULTS) -> None:
    """Train and evaluate one run.

    A completed run is not trained again; an interrupted one resumes from its last checkpoint.
    Several processes (DDP): torchrun --nproc_per_node N -m ablate.cli train [overrides].
    """
    from ablate.engine.distributed import env_rank, joined
    from ablate.engine.runner import execute, pick_device

    console.quiet = env_rank() > 0  # under torchrun every process runs this; rank 0 speaks for all
    job = _plan(overrides, results_dir, sweep=False)[0]
    if job.done:
        console.print(f"already done: {job.directory}  {_summary(job.run.record())}")
        return
    console.print(f"run {job.directory}  ({job.label})")

    def show(row: dict) -> None:
        console.print("  " + "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                       for k, v in row.items()))

    try:
        with joined(pick_device(job.config.runtime.device)) as world:
            record = execute(job.config, job.directory, job.overrides, on_epoch=show, world=world)
    except RunBusy as e:
        fail(str(e), code=1)
    console.print(f"{record['status']}: {job.directory}  {_summary(record)}")
    if record["status"] == "failed":
        raise typer.Exit(1)


@app.command()
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
    Interrupted runs resume from their checkpoints.
    """
    from ablate.sweep.launchers import LOCAL, check_launcher, split_settings

    if jobs < 1:
        fail(f"-j/--jobs must be at least 1 (got {jobs})")
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
    done = sum(job.done for job in planned)
    console.print(f"sweep {', '.join(names)}: {len(planned)} runs, {done} done, {len(planned) - done} to do"
                  f"  ({results_dir})")
    on_gpus = gpu_plan([job.resolved for job in planned if not job.done], jobs) if launcher == LOCAL else None
    if on_gpus:
        console.print(on_gpus)
    if dry_run:
        for job in planned:
            console.print(f"  {'done' if job.done else 'todo'}  {job.directory.name}  {job.label}")
        if study is not None:
            from ablate.sweep.until import preview

            preview(study, results_dir, max_seeds, console.print)
        return
    statuses = _run(planned, jobs, launcher, settings, results_dir)
    if study is not None and "failed" not in statuses:
        from ablate.sweep.until import resolve

        statuses += resolve(study, results_dir, max_seeds,
                            lambda more, purpose: _run(more, jobs, LOCAL, [], results_dir, purpose), console.print)
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))
    console.print(f"sweep finished: {counts or 'nothing to do'}.  Table: ablate report --experiment {names[0]}"
                  + (f" --results-dir {results_dir}" if results_dir != DEFAULT_RESULTS else ""))
    if "failed" in statuses:
        raise typer.Exit(1)


def _run(planned: list[Job], jobs: int, launcher: str, settings: list[str], results: Path,
         purpose: dict[Path, str] | None = None) -> list[str]:
    """Run the jobs not done with a live view, one line per run as it ends (with what it is for); their statuses."""
    from ablate.sweep.display import SweepView, duration  # the engine loads only to run
    from ablate.sweep.launch import launch
    from ablate.sweep.launchers import LOCAL, launch_hydra
    from ablate.sweep.progress import Progress

    progress = Progress(planned, min(jobs, max(1, sum(not job.done for job in planned))))

    def ended(job: Job, record: dict) -> None:
        why = f"  for {purpose[job.directory]}" if purpose and job.directory in purpose else ""
        console.print(f"  {job.directory.name}  {job.label}  {_summary(record)}  "
                      f"({duration(progress.durations[-1])}){why}")

    with Live(SweepView(progress), console=console, refresh_per_second=2, transient=True):
        if launcher == LOCAL:
            launch(planned, progress.workers, progress, on_end=ended)
        else:
            launch_hydra(launcher, settings, planned, results, progress, jobs, on_end=ended)
    return [r["status"] for r in progress.ended.values()]


@app.command()
def report(experiment: Annotated[str | None, typer.Option(help="Only this experiment's runs.")] = None,
           by: Annotated[str | None, typer.Option(help="Factors (config keys), comma-separated; "
                                                       "default: every key that varies except the seed.")] = None,
           metric: Annotated[str | None, typer.Option(help="Metrics, comma-separated (default: top1,top5; "
                                                             "AP,AP50,AP75 for detection runs).")] = None,
           fmt: Annotated[str, typer.Option("--format", help="Output format: " + ", ".join(FORMATS) + ".")] = "table",
           output: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None,
           results_dir: ResultsDir = DEFAULT_RESULTS) -> None:
    """Tabulate results: mean ± std and n over seeds.

    One row per combination of factors; unreadable records are named on stderr and skipped.
    --experiment paper/<table> (or paper) prints the paper's layout, with the paper's numbers and findings.
    """
    from ablate.results.paper.report import is_paper_experiment, paper_report
    from ablate.results.report import load_records, readable, summarize

    if fmt not in FORMATS:
        fail(FORMATS.unknown(fmt))
    if is_paper_experiment(experiment):
        try:
            return paper_report(experiment, fmt, results_dir, output)
        except ValueError as e:
            fail(str(e))
    if FORMATS[fmt].study is None:
        fail(f"--format {fmt} is for the paper's tables (--experiment paper/<table>)")
    frame = load_records(results_dir, experiment)
    if frame.empty:
        fail(f"no run records in {results_dir}" + (f" for experiment {experiment}" if experiment else ""), 1)
    if metric is None:
        tasks = set(frame["task"].dropna())
        metric = ",".join(TASKS[tasks.pop()].report if len(tasks) == 1 and next(iter(tasks)) in TASKS
                          else TASKS["classification"].report)
    metrics = tuple(m.strip() for m in metric.split(",") if m.strip())
    try:
        summary = summarize(frame, [f.strip() for f in by.split(",")] if by else None, metrics)
    except ValueError as e:
        fail(str(e))
    if summary.empty:
        fail(f"no completed runs among {len(frame)} records", 1)
    if fmt == "table" and output is None:
        text = readable(summary, metrics)
        table = Table()
        for column in text.columns:
            table.add_column(str(column), justify="right" if column in (*metrics, "n") else "left")
        for row in text.itertuples(index=False):
            table.add_row(*("" if v is None else str(v) for v in row))
        console.print(table)
        return
    text = FORMATS[fmt].renderer("study")(summary, metrics)
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_output(output, text)


@app.command("ls")
def list_runs(experiment: Annotated[str | None, typer.Option(help="Only this experiment.")] = None,
              results_dir: ResultsDir = DEFAULT_RESULTS) -> None:
    """List runs: status, epochs, headline metric (top-1, or AP; the latest epoch's while unfinished)."""
    table = Table()
    for column in ("experiment", "run", "status", "epochs", "top1 / AP", "overrides"):
        table.add_column(column)
    count = 0
    for run in run_dirs(results_dir, experiment):
        try:
            record = run.record() or {}
        except ValueError:
            record = {}
        rows = run.metrics()
        metrics = record.get("metrics") or (rows[-1] if rows else {})
        headline = headline_of(metrics)
        shown = "" if headline is None else f"{metrics[headline]:.2f}"
        overrides = " ".join((record.get("identity") or {}).get("overrides", []))
        table.add_row(run.path.parent.name, run.name, run.state(), str(len(rows)), shown, overrides)
        count += 1
    if count == 0:
        console.print(f"no runs in {results_dir}")
        return
    console.print(table)


@app.command("eval")
def evaluate(checkpoint: Annotated[Path, typer.Argument(help="A .pth file: the authors' (key 'model') or ours.")],
             overrides: Overrides = None) -> None:
    """Evaluate a checkpoint: top-1/top-5 for classification, COCO AP for DETR (model=detr data=coco).

    Image folders use the official transform: resize 256 bicubic, centre-crop 224 (crop_pct 0.875).
    """
    import torch

    from ablate.config.checks import rpe_config
    from ablate.data.build import build_val_loader
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
        model = build_model(cfg.model, cfg.rpe, cfg.data.num_classes, cfg.data.in_chans, cfg.data.img_size, 0.0)
        load_into(model, checkpoint_state(checkpoint), checkpoint)
    except ValueError as e:
        fail(str(e))
    torch.set_num_threads(cfg.runtime.threads or cpu_count())
    device = pick_device(cfg.runtime.device)
    result = evaluate_classifier(model.to(device), build_val_loader(cfg.data, cfg.eval, cfg.runtime.workers), device)
    console.print(f"{checkpoint}  {cfg.model.name}  {cfg.data.name}:  top1 {result['top1']:.2f}  "
                  f"top5 {result['top5']:.2f}  loss {result['loss']:.4f}")


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

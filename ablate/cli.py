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
          results_dir: ResultsDir = DEFAULT_RESULTS) -> None:
    """Run a grid of configs, skipping finished runs.

    The grid is the experiment's sweep (hydra.sweeper.params) plus the overrides, which win per key.
    Interrupted runs resume from their checkpoints.
    """
    from ablate.sweep.launchers import LOCAL, check_launcher, split_settings

    if jobs < 1:
        fail(f"-j/--jobs must be at least 1 (got {jobs})")
    overrides, settings = split_settings(overrides or [])
    try:
        check_launcher(launcher, settings)
    except ConfigError as e:
        fail(str(e))
    planned = _plan(overrides, results_dir, sweep=True)
    names = sorted({str(job.resolved["name"]) for job in planned})
    from ablate.results.migrate import stale
    old = sum(stale(results_dir, name) for name in names)
    if old:
        console.print(f"note: {old} runs of {', '.join(names)} were made under an older config schema and are not "
                      f"found by this plan: ablate migrate --results-dir {results_dir}")
    done = sum(job.done for job in planned)
    console.print(f"sweep {', '.join(names)}: {len(planned)} runs, {done} done, {len(planned) - done} to do"
                  f"  ({results_dir})")
    if dry_run:
        for job in planned:
            console.print(f"  {'done' if job.done else 'todo'}  {job.directory.name}  {job.label}")
        return
    from ablate.sweep.display import SweepView, duration  # the engine loads only to run
    from ablate.sweep.launch import launch
    from ablate.sweep.launchers import launch_hydra
    from ablate.sweep.progress import Progress

    progress = Progress(planned, min(jobs, max(1, len(planned) - done)))

    def ended(job: Job, record: dict) -> None:
        console.print(f"  {job.directory.name}  {job.label}  {_summary(record)}  "
                      f"({duration(progress.durations[-1])})")

    with Live(SweepView(progress), console=console, refresh_per_second=2, transient=True):
        if launcher == LOCAL:
            launch(planned, progress.workers, progress, on_end=ended)
        else:
            launch_hydra(launcher, settings, planned, results_dir, progress, jobs, on_end=ended)
    statuses = [r["status"] for r in progress.ended.values()]
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))
    console.print(f"sweep finished: {counts or 'nothing to do'}.  Table: ablate report --experiment {names[0]}"
                  + (f" --results-dir {results_dir}" if results_dir != DEFAULT_RESULTS else ""))
    if "failed" in statuses:
        raise typer.Exit(1)


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
    import torch

    from ablate.engine import bench as b
    from ablate.engine.runner import pick_device
    from ablate.models.registry import MODELS
    from ablate.rpe.backends import BACKENDS

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
                      + (f"{r.train_img_s:.0f} img/s" if r.train_img_s else r.note))

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

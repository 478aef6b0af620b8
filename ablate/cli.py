"""The `ablate` command line: each command parses its options and calls the one function that does it; Hydra
overrides pass through as arguments. Bad input is one line on stderr and exit code 2."""
import importlib.metadata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from typer.core import TyperGroup

from ablate.config.errors import ConfigError
from ablate.config.naming import FILING
from ablate.console import Refused, console
from ablate.results.formats import FORMATS
from ablate.results.rundir import DEFAULT_RESULTS
from ablate.suggest import did_you_mean

Overrides = Annotated[list[str] | None, typer.Argument(help="Hydra overrides, e.g. rpe=irpe_k train.epochs=3",
                                                        show_default=False)]
ResultsDir = Annotated[Path, typer.Option("--results-dir", envvar="ABLATE_RESULTS",
                                          help="Where run records go (env ABLATE_RESULTS).")]
T = TypeVar("T")


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one error line on stderr and exit."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


# click's UsageError (an unknown option, a bad or missing value): typer vendors click and exports only this subclass
USAGE_ERROR: type[Exception] = typer.BadParameter.__base__


class OneLineUsage(TyperGroup):
    """The command group, with usage errors of any command (click's usage, a blank line and the error) as one
    line naming the fix, exit 2."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args:  # `ablate` alone: the help
            return super().parse_args(ctx, args)
        with self._one_line(ctx):
            return super().parse_args(ctx, args)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            fail(f"no such command {name!r}{did_you_mean(name, self.list_commands(ctx))} (see ablate --help)")
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        with self._one_line(ctx):
            return super().invoke(ctx)

    @contextmanager
    def _one_line(self, ctx: Any) -> Iterator[None]:
        try:
            yield
        except USAGE_ERROR as e:
            name = ctx.invoked_subcommand  # the command being parsed, if any (some errors carry no context)
            command = self.get_command(ctx, name) if name else self
            see = f" (see {' '.join(['ablate', *([name] if name else []), '--help'])})"
            if type(e).__name__ == "NoSuchOption":
                flags = [f[2:] for p in command.params for f in (*p.opts, *p.secondary_opts) if f.startswith("--")]
                fail(f"no such option {e.option_name}{did_you_mean(e.option_name.lstrip('-'), flags, '--{}')}{see}")
            text = e.format_message().rstrip(".")
            fail((text[:1].lower() + text[1:] if text[1:2].islower() else text) + see)


app = typer.Typer(cls=OneLineUsage, add_completion=False, no_args_is_help=True, rich_markup_mode=None)


def call(function: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run a command's function; a refusal (bad input, nothing to do) is its one line and exit code."""
    try:
        return function(*args, **kwargs)
    except Refused as e:
        fail(str(e), e.code)
    except ConfigError as e:
        fail(str(e))


def _exit(code: int) -> None:
    if code:
        raise typer.Exit(code)


def _absolute(results: Path) -> Path:
    return results.expanduser().absolute()


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


@app.command(epilog=FILING)
def train(overrides: Overrides = None, results_dir: ResultsDir = DEFAULT_RESULTS) -> None:
    """Train and evaluate one run.

    A completed run is not trained again; an interrupted one resumes from its last checkpoint.
    Several processes (DDP): torchrun --nproc_per_node N -m ablate.cli train [overrides].
    """
    from ablate.sweep.command import train as run_one

    _exit(call(run_one, overrides or [], _absolute(results_dir)))


@app.command(epilog=FILING)
def sweep(overrides: Overrides = None,
          dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan only.")] = False,
          jobs: Annotated[str, typer.Option(
              "-j", "--jobs", help="Runs at once (local, joblib; slurm: array parallelism). auto: CPU runs side "
                                   "by side, one per usable core, one thread each; GPU runs one at a time; "
                                   "Hydra launchers as configured.")] = "auto",
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
    from ablate.sweep.command import sweep as run_grid

    _exit(call(run_grid, overrides or [], _absolute(results_dir), dry_run=dry_run, jobs=jobs, launcher=launcher,
               until_resolved=until_resolved, max_seeds=max_seeds))


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
           baseline: Annotated[list[str] | None, typer.Option(
               help="Compare every other row with the baseline row whose factor KEY has VALUE (repeatable): "
                    "difference paired by seed, 95% interval, raw and adjusted p.")] = None,
           correction: Annotated[str, typer.Option(help="Multiple comparisons, corrected together: holm (family-wise "
                                                        "error), bh (false discovery rate) or none.")] = "holm",
           std: Annotated[bool, typer.Option("--std", help="Show each row's standard deviation over seeds too.")] = False,
           results_dir: ResultsDir = DEFAULT_RESULTS) -> None:
    """Tabulate results: one row per setting, the mean with its 95% interval and n over seeds.

    A row averages only runs whose configs differ in the seed alone. When the factors (--by) leave runs of
    several settings in one row, the config keys that tell them apart are added as columns, and a note
    under the table names them; --where KEY=VALUE keeps one value of a key instead. Diverged runs are
    counted in their row (column diverged) without their metrics; failed and unfinished runs are counted
    in a note; a metric some runs lack shows its own n. Unreadable records are named on stderr and skipped.
    png and html draw each setting's metrics over seeds and its training curves (html adds each setting's config
    and its runs).
    --experiment paper/<table> (or paper) prints the paper's layout, with the paper's numbers and findings.
    """
    from ablate.results.commands import report as tabulate

    call(tabulate, _absolute(results_dir), experiment, by, metric, where, fmt, output, baseline, correction, std)


@app.command("ls")
def list_runs(experiment: Annotated[str | None, typer.Option(help="Only this experiment.")] = None,
              results_dir: ResultsDir = DEFAULT_RESULTS) -> None:
    """List runs by experiment, then start time: status, epochs, headline metric (top-1, or AP; the latest
    epoch's while unfinished), start time (UTC) and overrides."""
    from ablate.results.commands import list_runs as listing

    call(listing, _absolute(results_dir), experiment)


@app.command("config", epilog=FILING)
def show_config(overrides: Overrides = None, results_dir: ResultsDir = DEFAULT_RESULTS) -> None:
    """Print the resolved config of one run (YAML), exactly as `ablate train` with these overrides runs it."""
    from ablate.sweep.command import show_config as resolved

    typer.echo(call(resolved, overrides or [], _absolute(results_dir)), nl=False)


@app.command("eval")
def evaluate(checkpoint: Annotated[Path, typer.Argument(help="A .pth file: the authors' (key 'model') or ours.")],
             overrides: Overrides = None) -> None:
    """Evaluate a checkpoint: top-1/top-5 for classification, COCO AP for DETR (model=detr data=coco).

    Images are resized to data.img_size; data=imagenet uses the official transform (resize 256 bicubic,
    centre-crop 224: eval.crop_pct=0.875).
    """
    from ablate.engine.evaluate import evaluate as run_eval

    console.print(call(run_eval, checkpoint, overrides or []))


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
    from ablate.bench.command import bench as measure

    call(measure, model, batch, steps, warmup, dtype, backends, variants, compile_models, detr, layer, device, output)


@app.command()
def migrate(results_dir: ResultsDir = DEFAULT_RESULTS) -> None:
    """Bring runs made by an older ablate to the current config schema, so sweeps find, skip and resume them.

    Rewrites each run's record and config.yaml and renames its directory to its new identity hash;
    runs being run now are left alone (run it again later). Reports read old records without it.
    """
    from ablate.results.commands import migrate_runs

    _exit(call(migrate_runs, _absolute(results_dir)))


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
    from ablate.engine.pretrain_backbone import pretrain_command

    console.print(call(pretrain_command, out, backbone, width, images, epochs, seed, force))


if __name__ == "__main__":
    app()

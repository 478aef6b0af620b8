"""What `ablate report`, `ablate ls` and `ablate migrate` do with a results directory. Bad input is Refused
(one line, exit 2), checked before anything is written; a directory with nothing finished yet is exit 1."""
import os
import sys
import textwrap
from pathlib import Path

from rich.table import Table

from ablate.config.tasks import TASKS, headline_of
from ablate.console import Refused, console, say
from ablate.results.formats import FORMATS, check_output, write_output
from ablate.results.paper import is_paper_experiment
from ablate.results.rundir import experiments, record_paths, run_dirs
from ablate.suggest import did_you_mean


NO_RESULTS = "no results directory {} (ablate sweep makes it; or point --results-dir or ABLATE_RESULTS at your results)"


def _task_metrics(frame, metric: str | None) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The runs' task headline, the metrics asked for (default: the task's, and its headline at every other test
    resolution the runs were evaluated at), and every metric a task knows."""
    from ablate.results.report import at_resolutions

    tasks = set(frame["task"].dropna())
    task = TASKS[tasks.pop()] if len(tasks) == 1 and next(iter(tasks)) in TASKS else TASKS["classification"]
    defaults = (*task.report, *at_resolutions(frame.columns, task.headline))
    metrics = tuple(m.strip() for m in (metric or ",".join(defaults)).split(",") if m.strip())
    known = tuple(m for _, spec in TASKS.items() for m in (*spec.metrics, f"best_{spec.headline}"))
    return task.headline, metrics, known


def report(results: Path, experiment: str | None = None, by: str | None = None, metric: str | None = None,
           where: list[str] | None = None, fmt: str = "table", output: Path | None = None,
           baseline: list[str] | None = None, correction: str = "holm", std: bool = False) -> None:
    """Tabulate a study (or lay out the paper's tables) in a format, on the terminal or into a file: each row's
    mean with its interval, and with a baseline every other row's paired difference to it, corrected together."""
    from ablate.results.report import load_records, readable, select, summarize, warn

    if fmt not in FORMATS:
        raise Refused(FORMATS.unknown(fmt))
    if output is not None:
        try:
            check_output(output)
        except ValueError as e:
            raise Refused(str(e)) from None
    if is_paper_experiment(experiment):
        from ablate.results.paper.report import paper_report

        try:
            paper_report(experiment, fmt, results, output, correction, std, baseline)
        except ValueError as e:
            raise Refused(str(e)) from None
        return _wrote(output, fmt)
    spec = FORMATS[fmt]
    if spec.study is None:
        raise Refused(f"--format {fmt} is for the paper's tables (--experiment paper/<table>)")
    if spec.binary and output is None:
        raise Refused(f"--format {fmt} writes a file, not text: give --output FILE{spec.suffix}")
    existing = experiments(results)
    if not existing:
        raise Refused(f"no runs in {results}: run `ablate sweep` first, or point --results-dir at your results")
    if experiment is not None and experiment not in existing:
        raise Refused(f"no experiment {experiment!r} in {results}{did_you_mean(experiment, existing)}; experiments "
                      f"there: {', '.join(existing)}")
    frame = load_records(results, experiment)
    if frame.empty:
        raise Refused(f"no run has finished in {results}" + (f"/{experiment}" if experiment else "")
                      + " yet (ablate ls shows them)", 1)
    headline, metrics, known = _task_metrics(frame, metric)
    try:
        frame = select(frame, where or [])
        summary = summarize(frame, [f.strip() for f in by.split(",")] if by else None, metrics, known, baseline,
                            correction, std)
    except ValueError as e:
        raise Refused(str(e)) from None
    if summary.empty:
        raise Refused(f"no completed or diverged runs among {len(frame)} records ({'; '.join(summary.notes)})", 1)
    summary.headline = headline
    unfinished = sum(not os.path.exists(path) for path in record_paths(results, experiment))
    if unfinished:
        summary.notes.append(f"{unfinished} unfinished run{'s' if unfinished > 1 else ''} (no record yet: running, "
                             "stopped or killed) not in the table (ablate ls lists them)")
    if fmt == "table" and output is None:
        text = readable(summary)
        table = Table()
        for column in text.columns:
            table.add_column(str(column), justify="right" if column in (*metrics, "n", "diverged") else "left")
        for row in text.itertuples(index=False):
            table.add_row(*("" if v is None else str(v) for v in row))
        console.print(table)
        for note in (*summary.legend, *summary.notes):
            say(f"note: {note}")
        return
    for note in summary.notes:
        warn(f"note: {note}")
    content = spec.renderer("study")(summary)
    if output is None:
        sys.stdout.write(content)
    else:
        write_output(output, content)
        _wrote(output, fmt)


def _wrote(output: Path | None, fmt: str) -> None:
    """One line on stderr saying what a report wrote into a file (stdout stays the report's, when it has one)."""
    if output is not None:
        size = output.stat().st_size
        shown = f"{size / 1024:.1f} KiB" if size >= 1024 else f"{size} bytes"
        print(f"wrote {output} ({'md' if fmt == 'table' else fmt}, {shown})", file=sys.stderr)


def _row(run) -> tuple:
    """One run as `ablate ls` lists it: experiment, start, name, state, epochs, headline metric, overrides."""
    record, state = run.read_state()
    epochs = run.metrics()
    metrics = (record or {}).get("metrics") or (epochs[-1] if epochs else {})
    headline = headline_of(metrics)
    shown = "" if headline is None else f"{metrics[headline]:.2f}"
    return (run.path.parent.name, run.started_at(record), run.name, state, str(len(epochs)), shown,
            run.overrides(record))


def list_runs(results: Path, experiment: str | None = None) -> None:
    """Print the runs by experiment, then start time, the overrides every run of one shares said once."""
    if not results.is_dir():
        raise Refused(NO_RESULTS.format(results))
    existing = experiments(results)
    if experiment is not None and experiment not in existing:
        raise Refused(f"no experiment {experiment!r} in {results}{did_you_mean(experiment, existing)}; experiments "
                      f"there: {', '.join(existing) or 'none'}")
    rows = [_row(run) for run in run_dirs(results, experiment)]
    if not rows:
        say(f"no runs in {results}")
        return
    say(f"runs in {results}")
    for name in sorted({row[0] for row in rows}):
        runs = sorted(row for row in rows if row[0] == name)
        common = [o for o in runs[0][-1] if all(o in row[-1] for row in runs)] if len(runs) > 1 else []
        console.print(name + (f"  (every run: {' '.join(common)})" if common else ""), style="bold", markup=False,
                      highlight=False, soft_wrap=True)
        cells = [(started[5:16].replace("T", " "), *rest,
                  " ".join(o for o in overrides if o not in common) or ("(defaults)" if not overrides else "(as above)"))
                 for _, started, *rest, overrides in runs]
        say("\n".join(_aligned([("started", "run", "status", "ep", "top1/AP", "overrides"), *cells], console.width)))


def _aligned(rows: list[tuple[str, ...]], width: int) -> list[str]:
    """Rows as left-aligned columns two spaces apart, the last one wrapped at spaces to what the width leaves it
    (at least 20 characters). Done by hand: rich's Table measures every cell, 14 s for 10,000 runs."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    indent = sum(widths) + 2 * len(widths)
    lines = []
    for row in rows:
        head = "  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  "
        wrapped = textwrap.wrap(row[-1], max(20, width - indent), break_long_words=False,
                                break_on_hyphens=False) or [""]
        lines.append((head + wrapped[0]).rstrip())
        lines += [" " * indent + more for more in wrapped[1:]]
    return lines


def migrate_runs(results: Path) -> int:
    """Bring every run under results to the current schema on disk; exit 1 if some were busy or clashed."""
    from ablate.results.migrate import migrate

    if not results.is_dir():
        raise Refused(NO_RESULTS.format(results))
    if not experiments(results):
        say(f"no runs in {results}: nothing to migrate")
        return 0
    outcome = migrate(results)
    for moved in outcome["moved"]:
        console.print(f"  {moved}")
    console.print(", ".join(f"{len(runs)} {what}" for what, runs in outcome.items()) + f"  ({results})")
    return 1 if outcome["busy"] or outcome["clash"] else 0

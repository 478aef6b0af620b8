"""Reports: run records into a DataFrame, then one row per setting with the mean, its 95% interval and n over seeds.

A row never mixes settings: it averages only runs whose configs differ in the seed alone (the same
group hash). When the factors asked for (--by) leave runs of several settings in one row, the config
keys that tell them apart are added as columns, in config order, and a note says so; --where KEY=VALUE
keeps one value of a key instead. --baseline KEY=VALUE adds each row's difference to its baseline row
(ablate.results.baseline); the intervals and tests are ablate.stats'.
"""
import io
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ablate.config.identity import effective
from ablate.config.schema import is_identity, neutral_values
from ablate.protocol import MODES, POSITIONS, MetricAt, parse
from ablate.results.migrate import upgrade
from ablate.results.records import COMPLETED, DIVERGED
from ablate.results.rundir import parse_json, record_paths
from ablate.results.where import matches
from ablate.stats.multiplicity import check_correction
from ablate.stats.sample import mean_interval

NOT_FACTORS = ("seed", "name")  # identity, but the replicate and the study, never a setting
RECORD_COLUMNS = ("run_id", "experiment", "status", "error", "group_hash", "path")  # besides config and metrics
CONFIG_SCALARS = ("name", "task", "seed")  # the config's top-level values (ablate.config.schema.Config)
SHOWN = (COMPLETED, DIVERGED)  # statuses a table shows; the others are counted in a note


def _flatten(node: dict, prefix: str, out: dict) -> None:
    for key, value in node.items():
        kind = type(value)
        if kind is dict:
            _flatten(value, f"{prefix}{key}.", out)
        elif kind is list:
            out[prefix + key] = str(value)
        else:
            out[prefix + key] = value


def _row(record: dict, path: str) -> dict:
    row = {"run_id": record["run_id"], "experiment": record["experiment"], "status": record["status"],
           "error": record.get("error"), "group_hash": record["identity"]["group_hash"], "path": path}
    _flatten(effective(record["config"]), "", row)
    row.update(record.get("metrics") or {})
    return row


def warn(message: str) -> None:
    """One line on stderr."""
    print(message, file=sys.stderr)


def load_records(results: Path, experiment: str | None = None,
                 on_error: Callable[[str], None] = warn) -> pd.DataFrame:
    """One row per run record (read as the current schema): status, run directory (path), flattened config
    (dotted keys) and metrics; bad records are skipped."""
    rows = []
    for path in record_paths(results, experiment):
        try:
            with open(path, "rb") as f:
                rows.append(_row(upgrade(parse_json(f.read())), os.path.dirname(path)))
        except FileNotFoundError:
            continue  # a run still in progress
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:  # orjson's error is a ValueError
            on_error(f"skipping unreadable record {path}: {type(e).__name__}: {e}")
    frame = pd.DataFrame(rows)
    for key, value in neutral_values().items():  # runs made before an option existed did what its neutral value does
        if key in frame.columns:
            frame[key] = frame[key].where(frame[key].notna(), str(value) if isinstance(value, list) else value)
    return frame


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """The columns that hold metrics (neither the record's own fields nor config keys)."""
    return [c for c in frame.columns if "." not in c and c not in RECORD_COLUMNS and c not in CONFIG_SCALARS]


def _config_columns(frame: pd.DataFrame) -> list[str]:
    """Config columns that can tell settings apart: not the seed, the name, or what is no part of an identity
    (run-time options, paths)."""
    return [c for c in frame.columns if ("." in c or c == "task") and c not in NOT_FACTORS and is_identity(c)]


def varying(frame: pd.DataFrame) -> list[str]:
    """The config columns whose value differs between runs, in config order."""
    return [c for c in _config_columns(frame) if frame[c].nunique(dropna=False) > 1]


def _splitting(frame: pd.DataFrame, given: list[str], candidates: list[str]) -> list[str]:
    """Candidates, in order, each kept when it splits the rows that `given` plus those kept so far make."""
    text = frame[[*given, *candidates]].astype(str)
    kept: list[str] = []
    groups = len(text[given].drop_duplicates()) if given else 1
    for column in candidates:
        count = len(text[[*given, *kept, column]].drop_duplicates())
        if count > groups:
            kept.append(column)
            groups = count
    return kept


def default_factors(frame: pd.DataFrame) -> list[str]:
    """Config columns that tell runs apart (seed and run-time options aside), in config order.

    A column is left out when the columns before it already determine it (rpe.ratio once rpe.method
    and rpe.mode are there), so a table keeps one column per real factor.
    """
    return _splitting(frame, [], varying(frame))


def select(frame: pd.DataFrame, where: list[str]) -> pd.DataFrame:
    """The records whose config matches every KEY=VALUE (ValueError naming a bad or unknown key)."""
    for condition in where:
        key, sep, value = condition.partition("=")
        if not sep or not key:
            raise ValueError(f"--where {condition}: expected KEY=VALUE, e.g. --where data.name=fashion_mnist")
        if key not in frame.columns or key in RECORD_COLUMNS or key in metric_columns(frame):
            raise ValueError(f"--where {condition}: unknown config key {key!r}; keys that vary here: "
                             f"{', '.join(varying(frame)) or 'none'}")
        matched = frame[matches(frame[key], value)]
        if matched.empty:
            values = sorted({str(v) for v in frame[key].dropna()}) or ["null"]
            raise ValueError(f"--where {condition}: no run has it; {key} is {', '.join(values)}")
        frame = matched
    return frame


@dataclass
class Summary:
    """A study's table, one row per setting, and what its renderers need besides."""

    # factors, then <metric>_mean, _std, _count, _low, _high per metric, n (completed), diverged if any; with
    # --baseline: baseline, vs, and <metric>_diff, _diff_low, _diff_high, _diff_n, _diff_test, _p, _p_adjusted
    table: pd.DataFrame
    metrics: tuple[str, ...]
    factors: list[str]  # the columns that name a row's setting: those asked for, then those added
    runs: pd.DataFrame = field(default_factory=pd.DataFrame)  # the runs shown, with their row in "setting"
    notes: list[str] = field(default_factory=list)  # how the table was made, for under it
    headline: str | None = None  # the task's headline metric, for training curves (else the first metric)
    legend: list[str] = field(default_factory=list)  # what the numbers are, printed with the table
    std: bool = False  # show each row's sd too
    correction: str = "holm"  # of the comparisons with a baseline

    @property
    def compared(self) -> bool:
        """Whether rows were compared with a baseline."""
        return "baseline" in self.table.columns

    @property
    def empty(self) -> bool:
        """Whether no run is shown."""
        return self.table.empty


def _check(frame: pd.DataFrame, factors: list[str], metrics: tuple[str, ...], known: tuple[str, ...]) -> None:
    for name in factors:
        if name not in frame.columns or name in metric_columns(frame):
            raise ValueError(f"unknown factor {name!r} (--by): config keys that vary here: "
                             f"{', '.join(varying(frame)) or 'none, apart from the seed'}")
    have = metric_columns(frame)
    for name in metrics:
        if name not in have and name not in known:
            raise ValueError(f"unknown metric {name!r} (--metric): the records have {', '.join(have) or 'none'}")


def summarize(frame: pd.DataFrame, factors: list[str] | None = None, metrics: tuple[str, ...] = ("top1",),
              known: tuple[str, ...] = (), baseline: list[str] | None = None, correction: str = "holm",
              std: bool = False) -> Summary:
    """Completed runs grouped by factors and setting: <metric>_mean, _std, _count, the 95% interval of the mean
    (_low, _high) over seeds and n per row; with baseline conditions, each row's difference to its baseline row.

    Diverged runs get rows too (counted under `diverged`, their metrics left out); failed and unfinished
    runs are counted in a note. `known` metrics (the task's) are shown as missing when no record has them.
    ValueError for an unknown factor or metric, correction, or a bad --baseline.
    """
    check_correction(correction)
    summary = _summarize(frame, factors, metrics, known)
    summary.std, summary.correction = std, correction
    if summary.empty:
        return summary
    sd = ", sd: the standard deviation of the seeds" if std else ""
    summary.legend = [f"each metric: mean [95% interval of the mean, t with n - 1 df]{sd}; n: completed runs "
                      "(a metric some runs lack shows its own n)"]
    if baseline:
        from ablate.results.baseline import compare_to_baseline

        summary.table, lines = compare_to_baseline(summary.table, summary.runs, summary.factors, metrics, baseline,
                                                   correction)
        summary.legend += lines
    return summary


def _summarize(frame: pd.DataFrame, factors: list[str] | None, metrics: tuple[str, ...],
               known: tuple[str, ...]) -> Summary:
    if frame.empty:
        return Summary(pd.DataFrame(), metrics, list(factors or []))
    shown = frame[frame["status"].isin(SHOWN)].copy()
    factors = default_factors(shown) if factors is None else list(factors)
    if frame["experiment"].nunique() > 1 and "experiment" not in factors:
        factors = ["experiment", *factors]
    _check(frame, factors, metrics, known)
    notes = []
    left_out = frame.loc[~frame["status"].isin(SHOWN), "status"].value_counts()
    if len(left_out):
        notes.append("not in the table: " + ", ".join(f"{n} {s}" for s, n in left_out.items())
                     + " (ablate ls lists them)")
    if shown.empty:
        return Summary(pd.DataFrame(), metrics, factors, shown, notes)
    for name in metrics:
        if name not in shown.columns:
            shown[name] = math.nan
    added = _splitting(shown, factors, [c for c in varying(shown) if c not in factors])
    keys = [*factors, *added]
    rows = len(shown[keys].astype(str).drop_duplicates()) if keys else 1
    if len(shown[[*keys, "group_hash"]].astype(str).drop_duplicates()) > rows:
        keys.append("group_hash")  # settings no config column tells apart (records from another schema)
        added.append("group_hash")
    if added:
        notes.append(f"rows also split by {', '.join(added)}: only runs that differ in the seed alone are "
                     "averaged (--by to choose the columns, --where KEY=VALUE to keep one value)")
    shown["setting"] = shown.groupby(keys, dropna=False, sort=True).ngroup() if keys else 0
    completed = shown[shown["status"] == COMPLETED]
    grouped = completed.groupby("setting")
    table = shown.groupby("setting")[keys].first() if keys else pd.DataFrame(index=[0])
    table.index.name = "setting"
    for name in metrics:
        values = pd.to_numeric(completed[name], errors="coerce")
        table[f"{name}_mean"] = values.groupby(completed["setting"]).mean()
        table[f"{name}_std"] = values.groupby(completed["setting"]).std()
        table[f"{name}_count"] = values.groupby(completed["setting"]).count()
        table[f"{name}_low"], table[f"{name}_high"] = mean_interval(table[f"{name}_mean"], table[f"{name}_std"],
                                                                    table[f"{name}_count"])
    table["n"] = grouped.size()
    table["n"] = table["n"].fillna(0).astype(int)
    for name in metrics:
        table[f"{name}_count"] = table[f"{name}_count"].fillna(0).astype(int)
    diverged = (shown["status"] == DIVERGED).groupby(shown["setting"]).sum()
    if diverged.any():
        table["diverged"] = diverged.astype(int)
    return Summary(table.reset_index(drop=True), metrics, keys, shown, notes)


def at_resolutions(columns, metric: str) -> list[str]:
    """The columns of a metric at other test sizes (ablate.protocol's names: top1@42, top1@56/canvas, ...), by
    protocol (mode, then positions, in ablate.protocol's order), then by size, smallest first."""
    found = [(tested, c) for c in columns if (tested := parse(c)) is not None and tested.metric == metric]

    def order(item: tuple[MetricAt, str]) -> tuple[int, int, int]:
        tested = item[0]
        return (MODES.index(tested.protocol.mode), POSITIONS.index(tested.protocol.positions),
                tested.size[0] * tested.size[1])

    return [c for _, c in sorted(found, key=order)]


def _number(x: float, digits: int, signed: bool = False) -> str:
    return f"{round(x, digits) + 0.0:{'+' if signed else ''}.{digits}f}"


def _cell(table: pd.DataFrame, i: int, m: str, std: bool) -> str:
    """mean [low, high], the sd where asked, and its own n when some runs lack the metric."""
    mean, sd, count = (table.loc[i, f"{m}_{c}"] for c in ("mean", "std", "count"))
    if count == 0 or pd.isna(mean):
        return "-"
    digits = 0 if abs(mean) >= 1000 else 2  # counts (params, MACs) read best without decimals
    text = _number(mean, digits)
    if pd.notna(sd) and sd > 0:  # below two seeds, or the same value on every seed: no interval to show
        text += f" [{_number(table.loc[i, f'{m}_low'], digits)}, {_number(table.loc[i, f'{m}_high'], digits)}]"
        text += f" sd {_number(sd, digits)}" if std else ""
    return text if count == table.loc[i, "n"] else f"{text} (n={count})"  # some runs lack this metric


def _delta(table: pd.DataFrame, i: int, m: str, corrected: bool) -> str:
    """The row's difference to its baseline row: d [low, high], p and adjusted p; blank where there is none."""
    if table.loc[i, "baseline"]:
        return "baseline"
    d = table.loc[i, f"{m}_diff"]
    if pd.isna(d):
        return ""
    digits = 0 if abs(table.loc[i, f"{m}_mean"]) >= 1000 else 2
    if pd.isna(table.loc[i, f"{m}_p"]):
        return f"{_number(d, digits, True)} (n={int(table.loc[i, f'{m}_diff_n'])}: no test)"
    text = (f"{_number(d, digits, True)} [{_number(table.loc[i, f'{m}_diff_low'], digits, True)}, "
            f"{_number(table.loc[i, f'{m}_diff_high'], digits, True)}] p {table.loc[i, f'{m}_p']:.2g}")
    text += f", adj. {table.loc[i, f'{m}_p_adjusted']:.2g}" if corrected else ""
    return text + (" Welch" if table.loc[i, f"{m}_diff_test"] == "Welch" else "")


def readable(summary: Summary) -> pd.DataFrame:
    """The table as text: factor values ('-' where a factor does not apply, e.g. rpe.mode of no RPE), each
    metric as 'mean [95% interval]' (the sd where asked; with its own n when some runs lack it), n, diverged,
    and with a baseline each metric's difference to it (Δmetric)."""
    table = summary.table
    out = table[summary.factors].astype(object)
    out = out.where(out.notna(), "-")
    if "group_hash" in out.columns:
        out["group_hash"] = [h[:8] for h in out["group_hash"]]
    for m in summary.metrics:
        out[m] = [_cell(table, i, m, summary.std) for i in table.index]
    out["n"] = table["n"]
    if "diverged" in table.columns:
        out["diverged"] = table["diverged"]
    if summary.compared:
        for m in summary.metrics:
            out[f"Δ{m}"] = [_delta(table, i, m, summary.correction != "none") for i in table.index]
    return out


def to_markdown(summary: Summary) -> str:
    """Markdown: the table, then what its numbers are."""
    text = readable(summary).to_markdown(index=False, disable_numparse=True) + "\n"
    return text + "".join(f"\n{line}\n" for line in summary.legend)


def to_csv(summary: Summary) -> str:
    """CSV with the numbers (mean, std, count per metric; n)."""
    return summary.table.to_csv(index=False)


def to_json(summary: Summary) -> str:
    """JSON records with the numbers (mean, std, count per metric; n)."""
    return summary.table.to_json(orient="records", indent=1) + "\n"


def to_parquet(summary: Summary) -> bytes:
    """Parquet with the numbers (mean, std, count per metric; n), for pandas and friends."""
    buffer = io.BytesIO()
    summary.table.to_parquet(buffer, index=False)
    return buffer.getvalue()


def to_latex(summary: Summary) -> str:
    """LaTeX (booktabs): the table, captioned with what its numbers are."""
    style = readable(summary).style.hide(axis="index").format(escape="latex").format_index(escape="latex", axis=1)
    caption = " ".join(summary.legend)
    for ch in "&%$#_{}":
        caption = caption.replace(ch, "\\" + ch)
    return style.to_latex(hrules=True, caption=caption or None).replace("Δ", r"$\Delta$")

"""Reports: run records into a DataFrame, then a pivot by factors with mean +- std and n over seeds."""
import json
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pandas as pd

from ablate.results.migrate import upgrade
from ablate.results.rundir import record_paths

NOT_FACTORS = ("seed", "name", "runtime.", "logging.", "launcher.")


def _flatten(node: dict, prefix: str, out: dict) -> None:
    for key, value in node.items():
        kind = type(value)
        if kind is dict:
            _flatten(value, f"{prefix}{key}.", out)
        elif kind is list:
            out[prefix + key] = str(value)
        else:
            out[prefix + key] = value


def _row(record: dict) -> dict:
    row = {"run_id": record["run_id"], "experiment": record["experiment"], "status": record["status"],
           "error": record.get("error"), "group_hash": record["identity"]["group_hash"]}
    _flatten(record["config"], "", row)
    row.update(record.get("metrics") or {})
    return row


def warn(message: str) -> None:
    """One line on stderr."""
    print(message, file=sys.stderr)


def parse_record(data: bytes) -> dict:
    """A record.json's content; older records may hold NaN (now written as null), which orjson rejects."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def load_records(results: Path, experiment: str | None = None,
                 on_error: Callable[[str], None] = warn) -> pd.DataFrame:
    """One row per run record (read as the current schema): status, flattened config (dotted keys) and metrics;
    bad records are skipped."""
    rows = []
    for path in record_paths(results, experiment):
        try:
            with open(path, "rb") as f:
                rows.append(_row(upgrade(parse_record(f.read()))))
        except FileNotFoundError:
            continue  # a run still in progress
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:  # orjson's error is a ValueError
            on_error(f"skipping unreadable record {path}: {type(e).__name__}: {e}")
    return pd.DataFrame(rows)


def default_factors(frame: pd.DataFrame) -> list[str]:
    """Config columns that tell runs apart (seed and run-time options aside), in config order.

    A column is left out when the columns before it already determine it (rpe.ratio once rpe.method
    and rpe.mode are there), so a table keeps one column per real factor.
    """
    config_columns = [c for c in frame.columns if "." in c or c in ("task",)]
    varying = [c for c in config_columns if not c.startswith(NOT_FACTORS) and c not in NOT_FACTORS
               and frame[c].nunique(dropna=False) > 1]
    text = frame[varying].astype(str)
    kept: list[str] = []
    groups = 1
    for column in varying:
        count = len(text[[*kept, column]].drop_duplicates())
        if count > groups:
            kept.append(column)
            groups = count
    return kept


def summarize(frame: pd.DataFrame, factors: list[str] | None = None,
              metrics: tuple[str, ...] = ("top1",)) -> pd.DataFrame:
    """Completed runs grouped by factors: <metric>_mean, <metric>_std over seeds and n per row."""
    completed = frame[frame["status"] == "completed"] if len(frame) else frame
    if completed.empty:
        return pd.DataFrame()
    factors = default_factors(completed) if factors is None else factors
    if completed["experiment"].nunique() > 1 and "experiment" not in factors:
        factors = ["experiment", *factors]
    for name in [*factors, *metrics]:
        if name not in completed.columns:
            raise ValueError(f"unknown column {name!r}: choose from {', '.join(sorted(completed.columns))}")
    keys = factors or (lambda _: "all")
    grouped = completed.groupby(keys, dropna=False, sort=True)
    table = grouped[list(metrics)].agg(["mean", "std"])
    table.columns = [f"{m}_{stat}" for m, stat in table.columns]
    table["n"] = grouped.size()
    return table.reset_index() if factors else table.reset_index(drop=True)


def _pm(mean: float, std: float) -> str:
    digits = 0 if abs(mean) >= 1000 else 2  # counts (params, MACs) read best without decimals
    return f"{mean:.{digits}f}" if pd.isna(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def readable(summary: pd.DataFrame, metrics: tuple[str, ...]) -> pd.DataFrame:
    """Each metric's mean and std merged into one 'mean ± std' column."""
    out = summary.drop(columns=[f"{m}_{s}" for m in metrics for s in ("mean", "std")])
    out = out.astype(object).where(out.notna(), "-")  # a factor that does not apply (rpe.mode of no RPE)
    n = out.pop("n")
    for m in metrics:
        out[m] = [_pm(a, b) for a, b in zip(summary[f"{m}_mean"], summary[f"{m}_std"])]
    out["n"] = n
    return out


def to_markdown(summary: pd.DataFrame, metrics: tuple[str, ...]) -> str:
    """Markdown, each metric as mean ± std."""
    return readable(summary, metrics).to_markdown(index=False, disable_numparse=True) + "\n"


def to_csv(summary: pd.DataFrame, metrics: tuple[str, ...]) -> str:
    """CSV with the numbers (mean, std, n)."""
    return summary.to_csv(index=False)


def to_json(summary: pd.DataFrame, metrics: tuple[str, ...]) -> str:
    """JSON records with the numbers (mean, std, n)."""
    return summary.to_json(orient="records", indent=1) + "\n"


def to_latex(summary: pd.DataFrame, metrics: tuple[str, ...]) -> str:
    """LaTeX (booktabs), each metric as mean $\\pm$ std."""
    style = readable(summary, metrics).style.hide(axis="index").format(escape="latex")
    return style.format_index(escape="latex", axis=1).to_latex(hrules=True).replace("±", r"$\pm$")

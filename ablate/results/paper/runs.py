"""Find the recorded runs of each row of a paper table: a row's runs are the completed records whose
seed-free config hash equals the hash of the row's own config, composed from conf/ as the sweep does.

Matching by exact config means a run made with extra overrides (say train.epochs=50) is not counted
as the table's row: the table reports the experiment as defined.
"""
import math
from functools import cache
from pathlib import Path

import pandas as pd

from ablate.results.paper.reference import Reference, load_reference
from ablate.results.records import COMPLETED, config_hashes
from ablate.results.report import load_records, warn
from ablate.config.compose import Composer

ROW = "+experiment/paper/row"  # the override that adds a row's config (conf/experiment/paper/row/<run>.yaml)
RECORD_NAMES = {"proxy": "paper_proxy", "gpu_proxy": "paper_gpu_proxy", "paper": "paper_full"}  # results/<name>/


def row_overrides(table: str, scale: str, run: str) -> list[str]:
    """The overrides that compose a row's config (data.root is a path: it never changes the hash)."""
    return [f"experiment=paper/{table}", f"scale={scale}", f"{ROW}={run}", "data.root=unset"]


@cache
def row_hashes(table: str, scale: str) -> dict[str, str]:
    """Row key -> seed-free config hash, for the rows of a table that have a run at this scale."""
    reference, hashes = load_reference(table), {}
    with Composer() as composer:
        for row in reference.rows:
            if scale in row.runs:
                [config] = composer.configs([row_overrides(reference.name, scale, row.runs[scale])])
                hashes[row.key] = config_hashes(config)[1]
    return hashes


def load_scale(results: Path, scale: str) -> pd.DataFrame:
    """The completed run records of one scale (unreadable ones are named on stderr and skipped)."""
    frame = load_records(results, RECORD_NAMES[scale], on_error=warn)
    if frame.empty:
        return frame
    return frame[frame["status"] == COMPLETED]


def row_values(reference: Reference, scale: str, frame: pd.DataFrame,
               hashes: dict[str, str] | None = None) -> dict[str, dict[str, dict[int, float]]]:
    """Row key -> metric -> seed -> value, over completed runs (missing or NaN metrics are left out); a row's
    runs are those of its seed-free config hash (default: the row as the table defines it, row_hashes)."""
    out: dict[str, dict[str, dict[int, float]]] = {row.key: {m: {} for m in reference.metrics}
                                                   for row in reference.rows}
    if frame.empty:
        return out
    for key, group_hash in (row_hashes(reference.name, scale) if hashes is None else hashes).items():
        runs = frame[frame["group_hash"] == group_hash]
        for metric in reference.metrics:
            column = reference.record_metric(scale, metric)
            if column in runs.columns:
                out[key][metric] = {int(seed): float(v) for seed, v in zip(runs["seed"], runs[column])
                                    if v is not None and not math.isnan(float(v))}
    return out


def _values(runs: pd.DataFrame, key: str) -> list:
    """The distinct values of a column among the runs, sorted (none when the column is absent or empty)."""
    if key not in runs.columns:
        return []
    return sorted({v for v in runs[key] if not (isinstance(v, float) and math.isnan(v)) and v is not None}, key=str)


def setting_of(frame: pd.DataFrame, reference: Reference, scale: str) -> str:
    """Our setting in one line, read from the matched records' configs (every distinct value; empty if none)."""
    hashes = set(row_hashes(reference.name, scale).values()) if not frame.empty else set()
    runs = frame[frame["group_hash"].isin(hashes)] if hashes else frame.iloc[:0]
    if runs.empty:
        return ""
    models = _values(runs, "model.name") or [f"DETR ({b})" for b in _values(runs, "model.backbone")]
    parts = [f"model {', '.join(models)}", f"data {', '.join(_values(runs, 'data.name'))}"]
    for key, label in (("data.train_limit", "train images"), ("data.val_limit", "val images")):
        if _values(runs, key):
            parts.append(f"{', '.join(str(int(v)) for v in _values(runs, key))} {label}")
    epochs = [int(v) for v in _values(runs, "train.epochs")]
    batches = ", ".join(str(int(v)) for v in _values(runs, "train.batch_size"))
    parts.append(f"{', '.join(map(str, sorted(epochs)))} epoch{'' if epochs == [1] else 's'}, batch {batches}")
    parts.append(f"seeds {', '.join(str(s) for s in sorted(runs['seed'].unique()))}")
    return "; ".join(parts)

"""Run records: identity hashes, the run directory layout, atomic writes, tolerant reads.

    <results>/<experiment>/<config hash, 12 hex>/
        config.yaml     the resolved config          metrics.jsonl   one line per finished epoch
        checkpoint.pth  the latest epoch             record.json     the final record (atomic)
        error.txt       traceback of a failed run    tb/             TensorBoard events (optional)
"""
import hashlib
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

RECORD = "record.json"
CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
FINISHED = ("completed", "diverged")  # a rerun skips these; failed and unfinished runs are retried
NOT_IDENTITY = ("runtime", "logging", "launcher", "hydra")  # top-level keys that never change a result
PATH_KEYS = ("root", "dir", "path", "file")  # keys (or *_<key>) naming where things are, not what they are


def _is_path_key(key: str) -> bool:
    return key in PATH_KEYS or key.endswith(tuple(f"_{k}" for k in PATH_KEYS))


def _identity_view(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _identity_view(v) for k, v in node.items() if not _is_path_key(str(k))}
    if isinstance(node, list):
        return [_identity_view(v) for v in node]
    return node


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def config_hashes(config: dict) -> tuple[str, str]:
    """(config hash, hash without the seed): identity of a run and of its group of seeds."""
    view = _identity_view({k: v for k, v in config.items() if k not in NOT_IDENTITY})
    return _digest(view), _digest({k: v for k, v in view.items() if k != "seed"})


def run_dir(results: Path, config: dict) -> Path:
    """Where a config's run lives: <results>/<experiment name>/<first 12 hex of its hash>."""
    return Path(results) / str(config["name"]) / config_hashes(config)[0][:12]


def write_atomic(path: Path, text: str) -> None:
    """Write text to a temporary file beside path, fsync, rename over path: readers see old or new, whole."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _finite(value: Any) -> Any:
    """NaN and infinities as None, in nested dicts and lists too."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def dumps(obj: Any, **kwargs: Any) -> str:
    """Strict JSON, non-finite numbers as null: COCO's APm is NaN on a set without medium objects, and
    strict readers (orjson, browsers, pandas) reject NaN."""
    return json.dumps(_finite(obj), allow_nan=False, **kwargs)


def write_record(directory: Path, record: dict) -> None:
    """Write record.json atomically."""
    write_atomic(directory / RECORD, dumps(record, indent=1, default=str))


def read_record(directory: Path) -> dict | None:
    """The run's record, None if it has none; raises ValueError if it cannot be read."""
    path = Path(directory) / RECORD
    try:
        with open(path, "rb") as f:
            record = json.loads(f.read())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise ValueError(f"unreadable record {path}: {e}") from None
    if not isinstance(record, dict) or "status" not in record:
        raise ValueError(f"unreadable record {path}: not a run record")
    return record


def finished_record(directory: Path) -> dict | None:
    """The record of a completed or diverged run, else None (unreadable counts as unfinished)."""
    try:
        record = read_record(directory)
    except ValueError:
        return None
    return record if record is not None and record["status"] in FINISHED else None


def read_metrics(directory: Path) -> list[dict]:
    """The per-epoch metrics lines (a torn last line from a kill is ignored)."""
    rows = []
    try:
        with open(Path(directory) / METRICS) as f:
            for line in f:
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    break
    except FileNotFoundError:
        pass
    return rows


def run_dirs(results: Path, experiment: str | None = None) -> Iterator[Path]:
    """Every run directory under results (or one experiment's), in name order."""
    results = Path(results)
    experiments = [results / experiment] if experiment else [results / name for name in _subdirs(results)]
    for exp in experiments:
        yield from (exp / name for name in _subdirs(exp))


def record_paths(results: Path, experiment: str | None = None) -> list[str]:
    """The record.json path of every run directory (existing or not yet), as plain strings for speed."""
    root = str(results)
    experiments = [experiment] if experiment else _subdirs(results)
    return [f"{root}/{exp}/{name}/{RECORD}" for exp in experiments for name in _subdirs(f"{root}/{exp}")]


def _subdirs(path: Path | str) -> list[str]:
    """Names of the visible subdirectories, sorted."""
    try:
        with os.scandir(path) as entries:
            return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return []

"""Run records: what a record holds, how a run's identity is hashed, and strict JSON for both.

A record: status and error; identity (config hash, group hash without the seed, overrides); final
metrics; the epochs a run resumed at; provenance; the resolved config; warnings, when files of the run had to
be set aside. Where records live on disk is
ablate.results.rundir's business.
"""
import hashlib
import json
import math
from datetime import datetime, timezone
from typing import Any

from ablate.config.identity import identity_view
from ablate.results.provenance import provenance

RECORD_SCHEMA = 4  # bumped with each migration in ablate.results.migrate
COMPLETED, FAILED, DIVERGED = "completed", "failed", "diverged"  # a record's status


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def config_hashes(config: dict) -> tuple[str, str]:
    """(config hash, hash without the seed): identity of a run and of its group of seeds."""
    view = identity_view(config)
    return _digest(view), _digest({k: v for k, v in view.items() if k != "seed"})


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


def now() -> str:
    """The current UTC time, to the second, ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_record(config: dict, run_id: str, overrides: list[str], status: str, error: str | None,
               metrics: dict | None = None, resumed_at: list[int] | None = None, device: str | None = None,
               started: str | None = None, warnings: list[str] | None = None) -> dict:
    """A run's final record from its resolved config and outcome (warnings: files of the run set aside because
    they could not be read, only when there were some)."""
    config_hash, group_hash = config_hashes(config)
    return {
        "schema": RECORD_SCHEMA, "run_id": run_id, "experiment": config["name"], "task": config.get("task"),
        "status": status, "error": error,
        "identity": {"config_hash": config_hash, "group_hash": group_hash, "overrides": list(overrides)},
        "metrics": metrics or {},
        "resumed_at_epochs": resumed_at or [],
        "provenance": {**provenance(device), "started": started or now(), "finished": now()},
        "config": config,
        **({"warnings": list(warnings)} if warnings else {}),
    }


def failed_record(config: dict, run_id: str, overrides: list[str], error: str) -> dict:
    """The record of a run that ended without writing its own (no metrics, no device)."""
    return new_record(config, run_id, overrides, FAILED, error)

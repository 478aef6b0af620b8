"""One run's directory: the only module that knows its layout, its lock, how it is written and read,
which state it is in, and how a run that ended without a record is recorded as failed.

    <results>/<experiment>/<first 12 hex of the config hash>/
        config.yaml     the resolved config          metrics.jsonl   one line per finished epoch
        checkpoint.pth  the latest epoch             record.json     the final record, written last
        error.txt       traceback of a failed run    tb/             TensorBoard events (optional)
        started.json    when the run (last) started and the overrides it was started with
        progress.json   the epoch in progress: steps done, images/s (rewritten about once a second while
                        training, removed when the run ends: never part of a finished run)
        .lock           held (flock) while a process runs it; the OS releases it even on SIGKILL

Crash safety: every file but metrics.jsonl is replaced atomically (temporary file beside it, fsync,
rename), so a reader sees the old or the new version, whole; metrics.jsonl only grows by whole
fsynced lines, and a resumed run rewrites it from its checkpoint. The record is the source of truth:
a directory is finished when, and only when, its record says completed or diverged.

Healing: readers take any bytes (a file of garbage reads as absent, a metrics line that is not one ends the
metrics). A run that starts again sets aside, under its lock, what it cannot read (a record, metrics.jsonl,
and through the engine its checkpoint), as <name>.corrupt-<UTC time> beside it, kept for a human and named in a
warning, and removes the temporary files of writers that were killed; a finished record removes the error.txt
of an earlier attempt.
"""
import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

import orjson

from ablate.results.records import COMPLETED, DIVERGED, config_hashes, dumps, failed_record

# States, as `ablate ls` shows them.
TODO, RUNNING, INCOMPLETE = "to do", "running", "incomplete"
UNREADABLE = "unreadable record"  # besides a record's own status (ablate.results.records)
FINISHED = (COMPLETED, DIVERGED)  # a rerun skips these; failed and unfinished runs are retried
DEFAULT_RESULTS = Path("results/runs")  # where runs go without --results-dir or ABLATE_RESULTS


class RunBusy(RuntimeError):
    """Another process is running this config right now."""


class RunDir:
    """The directory of one run (it need not exist yet)."""

    CONFIG, METRICS, CHECKPOINT = "config.yaml", "metrics.jsonl", "checkpoint.pth"
    RECORD, ERROR, TENSORBOARD, LOCK = "record.json", "error.txt", "tb", ".lock"
    STARTED, PROGRESS = "started.json", "progress.json"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @classmethod
    def of(cls, results: Path | str, config: dict) -> "RunDir":
        """Where a resolved config's run lives: <results>/<experiment name>/<first 12 hex of its hash>."""
        return cls(Path(results) / str(config["name"]) / config_hashes(config)[0][:12])

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunDir) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def name(self) -> str:
        """The run id: the directory's name."""
        return self.path.name

    # Reading -----------------------------------------------------------------------------------------------

    def record(self) -> dict | None:
        """The run's record, None if it has none; ValueError (naming the file) if it cannot be read."""
        path = self.path / self.RECORD
        try:
            with open(path, "rb") as f:
                record = parse_json(f.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:  # a byte that is not UTF-8 is a ValueError too
            raise ValueError(f"unreadable record {path}: {e}") from None
        if not _is_record(record):
            raise ValueError(f"unreadable record {path}: not a run record")
        return record

    def finished(self) -> dict | None:
        """The record of a completed or diverged run, else None (an unreadable record counts as unfinished)."""
        try:
            record = self.record()
        except ValueError:
            return None
        return record if record is not None and record["status"] in FINISHED else None

    def _metrics_lines(self) -> tuple[list[dict], int | None, bool]:
        """(rows up to the first line that is not an epoch's, that line's number or None, whether it is the last
        line and unterminated: torn by a kill while it was appended)."""
        try:
            with open(self.path / self.METRICS, "rb") as f:
                lines = f.read().split(b"\n")
        except OSError:  # absent (or not a file): no epochs
            return [], None, False
        rows: list[dict] = []
        for number, line in enumerate(lines[:-1] if lines[-1] == b"" else lines, 1):
            try:
                row = parse_json(line)
            except ValueError:
                row = None
            if not (isinstance(row, dict) and isinstance(row.get("epoch"), int)):
                return rows, number, number == len(lines)
            rows.append(row)
        return rows, None, False

    def metrics(self) -> list[dict]:
        """The per-epoch metrics lines, up to the first that cannot be read (a torn last line from a kill,
        or damage: see heal)."""
        return self._metrics_lines()[0]

    def _json(self, name: str) -> dict | None:
        """A small JSON file of the run, None if it is absent or unreadable (these are informational)."""
        try:
            with open(self.path / name, "rb") as f:
                data = json.loads(f.read())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def started(self) -> dict | None:
        """{started: ISO time, overrides: [...]} as the runner wrote them when the run (last) started."""
        return self._json(self.STARTED)

    def progress(self) -> dict | None:
        """The epoch in progress: {epoch, epochs, step, steps, images_per_s}; None when nothing is training."""
        return self._json(self.PROGRESS)

    def started_at(self, record: dict | None) -> str:
        """When the run (last) started, ISO time: its record's (as read by the caller), else started.json's,
        else the directory's modification time."""
        started = ((record or {}).get("provenance") or {}).get("started") or (self.started() or {}).get("started")
        if started:
            return str(started)
        try:
            mtime = os.stat(self.path).st_mtime
        except FileNotFoundError:
            return ""
        return datetime.fromtimestamp(mtime, timezone.utc).isoformat(timespec="seconds")

    def overrides(self, record: dict | None) -> list[str]:
        """The overrides the run was made with: its record's (as read by the caller), else those it was started with."""
        for source in ((record or {}).get("identity") or {}, self.started() or {}):
            if isinstance(source.get("overrides"), list):
                return [str(o) for o in source["overrides"]]
        return []

    def locked(self) -> bool:
        """Whether a process holds the run's lock now."""
        try:
            fd = os.open(self.path / self.LOCK, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    def state(self) -> str:
        """to do, running, incomplete, or the record's status (completed, failed, diverged); unreadable record."""
        return self.read_state()[1]

    def read_state(self) -> tuple[dict | None, str]:
        """The record (None if absent or unreadable) and the state, the record read once."""
        try:
            record = self.record()
        except ValueError:
            return None, RUNNING if self.locked() else UNREADABLE
        if record is not None and record["status"] in FINISHED:
            return record, record["status"]
        if self.locked():
            return record, RUNNING
        if record is not None:
            return record, record["status"]
        started = any((self.path / name).exists() for name in (self.METRICS, self.CHECKPOINT))
        return None, INCOMPLETE if started else TODO

    def stamp(self) -> int | None:
        """The record's modification time (ns), None without one: tells whether a launch wrote a new record."""
        try:
            return os.stat(self.path / self.RECORD).st_mtime_ns
        except FileNotFoundError:
            return None

    def written_since(self, since: int | None) -> dict | None:
        """The record, if one was written after `stamp()` returned `since` and it can be read; else None."""
        if self.stamp() == since:
            return None
        try:
            return self.record()
        except ValueError:
            return None

    # Writing -----------------------------------------------------------------------------------------------

    def set_aside(self, name: str, why: str, then: str) -> str:
        """Move <run>/name to name.corrupt-<UTC time> beside it (kept for a human); the warning that says so."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        kept, n = self.path / f"{name}.corrupt-{stamp}", 1
        while kept.exists():  # set aside twice within a second
            kept, n = self.path / f"{name}.corrupt-{stamp}-{n}", n + 1
        os.replace(self.path / name, kept)
        return f"{self.path / name} {why}: kept as {kept.name}; {then}"

    def heal(self) -> list[str]:
        """Before a run starts again, holding its lock: set aside a record or metrics.jsonl that cannot be read,
        remove the temporary files of killed writers and the last run's progress; the warnings, one per file."""
        warnings = []
        try:
            self.record()
        except ValueError as e:
            why = str(e).split(": ", 1)[1] if ": " in str(e) else str(e)
            warnings.append(self.set_aside(self.RECORD, f"could not be read ({why})",
                                           "the run is finished again from its checkpoint"))
        _, bad, torn = self._metrics_lines()
        if bad is not None and not torn:
            warnings.append(self.set_aside(self.METRICS, f"line {bad} is not an epoch's metrics",
                                           "they are rewritten from the checkpoint (or the run starts afresh)"))
        for stale in self.path.glob(".*.tmp*"):  # only a lock holder writes: these writers are dead
            stale.unlink(missing_ok=True)
        self.clear_progress()
        return warnings

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run's exclusive lock (created with the directory); RunBusy if another process has it."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / self.LOCK, "w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunBusy(f"{self.path} is being run by another process") from None
            yield

    @contextmanager
    def replacing(self, name: str, durable: bool = True) -> Iterator[IO[bytes]]:
        """A binary file that atomically replaces <run>/name when the block ends without an exception
        (fsynced first unless not durable: a power cut may then lose it, never tear it)."""
        target = self.path / name
        tmp = target.with_name(f".{name}.tmp{os.getpid()}")
        try:
            with open(tmp, "wb") as f:
                yield f
                if durable:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def replace(self, name: str, text: str, durable: bool = True) -> None:
        """Write <run>/name atomically."""
        with self.replacing(name, durable) as f:
            f.write(text.encode())

    def write_started(self, overrides: list[str], started: str) -> None:
        """When the run starts and with which overrides (ls shows them before there is a record)."""
        self.replace(self.STARTED, dumps({"started": started, "overrides": list(overrides)}))

    def write_progress(self, progress: dict) -> None:
        """The epoch in progress (written often: atomic but not fsynced)."""
        self.replace(self.PROGRESS, dumps(progress), durable=False)

    def clear_progress(self) -> None:
        """No epoch in progress (the run ended, or is starting afresh)."""
        (self.path / self.PROGRESS).unlink(missing_ok=True)

    def write_config(self, yaml_text: str) -> None:
        """The resolved config, as YAML."""
        self.replace(self.CONFIG, yaml_text)

    def reset_metrics(self, rows: list[dict]) -> None:
        """Replace metrics.jsonl with these rows (a fresh run: none; a resumed one: the checkpoint's history)."""
        self.replace(self.METRICS, "".join(dumps(row) + "\n" for row in rows))

    def append_metrics(self, row: dict) -> None:
        """Append one epoch's line, fsynced before returning."""
        with open(self.path / self.METRICS, "a") as f:
            f.write(dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def write_error(self, text: str) -> None:
        """The traceback of a failed run."""
        self.replace(self.ERROR, text)

    def write_record(self, record: dict) -> None:
        """record.json, atomically; a finished run keeps no error.txt of an earlier attempt."""
        self.replace(self.RECORD, dumps(record, indent=1, default=str))
        if record.get("status") in FINISHED:
            (self.path / self.ERROR).unlink(missing_ok=True)

    def fail(self, config: dict, overrides: list[str], why: str) -> dict:
        """Record, under the lock, that the run ended without writing its own record; RunBusy if it is still held."""
        with self.lock():
            record = failed_record(config, self.name, overrides, f"the run ended without writing a record ({why})")
            self.write_record(record)
        return record


def parse_json(data: bytes) -> object:
    """JSON as a record or a metrics line holds it (orjson: 4x json's speed); files from before NaN was written as
    null may hold NaN, which orjson rejects and json reads."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def _is_record(data: object) -> bool:
    """Whether parsed JSON has a record's shape: a status, and dicts where a record has them."""
    return (isinstance(data, dict) and isinstance(data.get("status"), str)
            and all(data.get(key) is None or isinstance(data[key], dict)
                    for key in ("metrics", "identity", "provenance", "config")))


def run_dirs(results: Path | str, experiment: str | None = None) -> Iterator[RunDir]:
    """Every run directory under results (or one experiment's), in name order."""
    results = Path(results)
    experiments = [experiment] if experiment else _subdirs(results)
    for exp in experiments:
        yield from (RunDir(results / exp / name) for name in _subdirs(results / exp))


def experiments(results: Path | str) -> list[str]:
    """The experiments that have run directories under results, sorted."""
    return [name for name in _subdirs(results) if _subdirs(Path(results) / name)]


def record_paths(results: Path | str, experiment: str | None = None) -> list[str]:
    """The record.json path of every run directory (existing or not yet), as plain strings for speed."""
    root = str(results)
    names = [experiment] if experiment else _subdirs(results)
    return [f"{root}/{exp}/{name}/{RunDir.RECORD}" for exp in names for name in _subdirs(f"{root}/{exp}")]


def _subdirs(path: Path | str) -> list[str]:
    """Names of the visible subdirectories, sorted."""
    try:
        with os.scandir(path) as entries:
            return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return []

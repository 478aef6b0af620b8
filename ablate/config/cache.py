"""Compositions kept between commands: Hydra takes about 0.1 s to compose one selection of config groups, so a plan
of eight (experiment=pe_zoo) would spend most of a second composing every time it is printed or re-run.

An entry is what Hydra returned for one list of overrides (the typed OmegaConf config, pickled: schema nodes and
interpolations as Hydra left them, resolved afterwards as before), or the plain values a grid sweeps. Its key
hashes the overrides together with everything a composition reads: the text of every file under conf/, the source
of every ablate module (the structured schema and the registries it draws on among them: 300 files, 10 ms), and
the versions of Python, Hydra and OmegaConf. Changing any of them gives new keys; an entry that cannot be read is
composed again; a cache that cannot be written is only slower. Hydra's own node is never cached (it holds the
working directory).

Entries live in $XDG_CACHE_HOME/ablate/compose (ablate.usercache), written atomically; past KEEP entries the
least recently used half is deleted.
"""
import hashlib
import os
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ablate.usercache import cache_dir

KEEP = 2000  # entries (a few KB each)
CODE = Path(__file__).resolve().parents[1]  # the ablate package
T = TypeVar("T")


def fingerprint(conf: Path, code: Path = CODE) -> str:
    """A digest of what compositions read besides their overrides: conf/'s files, ablate's sources, versions."""
    import hydra
    import omegaconf

    digest = hashlib.sha256(f"{sys.version} {hydra.__version__} {omegaconf.__version__}\n".encode())
    for path in [*sorted(conf.rglob("*")), *sorted(code.rglob("*.py"))]:
        if path.is_file():
            digest.update(f"{path}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


class CompositionCache:
    """Entries under one fingerprint (computed once per Composer)."""

    def __init__(self, fingerprint: str, folder: Path | None = None) -> None:
        self.fingerprint = fingerprint
        self.folder = folder or cache_dir("compose")

    def _path(self, kind: str, overrides: list[str]) -> Path:
        key = hashlib.sha256("\n".join([self.fingerprint, kind, *overrides]).encode()).hexdigest()
        return self.folder / f"{key[:40]}.pkl"

    def get(self, kind: str, overrides: list[str], make: Callable[[], T]) -> T:
        """The entry of this kind for these overrides, else make() (stored; an exception is not)."""
        path = self._path(kind, overrides)
        try:
            with open(path, "rb") as f:
                value = pickle.load(f)
        except Exception:  # absent, unreadable or from a library that changed under it: compose again
            value = make()
            self._store(path, value)
            return value
        try:
            os.utime(path)  # recently used, for pruning
        except OSError:  # a cache we may read but not write
            pass
        return value

    def _store(self, path: Path, value: object) -> None:
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            temporary.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
            os.replace(temporary, path)
            self._prune()
        except OSError:  # read-only, full, or a file where the folder should be: the command goes on uncached
            try:
                temporary.unlink(missing_ok=True)
            except OSError:
                pass

    def _prune(self) -> None:
        entries = list(os.scandir(self.folder))
        if len(entries) <= KEEP:
            return
        for entry in sorted(entries, key=lambda e: e.stat().st_mtime)[:len(entries) - KEEP // 2]:
            Path(entry.path).unlink(missing_ok=True)

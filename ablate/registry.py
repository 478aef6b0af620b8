"""Registries: one per kind of thing (tasks, datasets, report formats, attention backends, position encodings).

A registry is the one list of a kind: the CLI's help, config validation and error messages read it, so a
new entry is one `register` line beside the module that implements it. Entries are plain metadata
(torch-free) so that planning and listing commands can read them without loading models.
"""
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from ablate.suggest import did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind, in registration order."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T) -> T:
        """Add an entry under a new name; returns it (usable as a decorator via `registrar`)."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry
        return entry

    def registrar(self, name: str) -> Callable[[T], T]:
        """A decorator registering what it decorates under name."""
        return lambda entry: self.register(name, entry)

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise ValueError(self.unknown(name)) from None

    def unknown(self, name: object) -> str:
        """The one-line message for a name that is not registered."""
        return f"unknown {self.kind} {name!r}{did_you_mean(str(name), self._entries)}: expected one of " \
            + ", ".join(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> tuple[str, ...]:
        """Every registered name, in registration order."""
        return tuple(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """(name, entry) pairs, in registration order."""
        return list(self._entries.items())

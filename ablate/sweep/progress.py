"""Live state of a sweep, shared by the launchers (which update it) and the display (which reads it)."""
import time
from dataclasses import dataclass, field
from pathlib import Path

from ablate.sweep.plan import Job


@dataclass
class Progress:
    """Live state of a sweep, shared with the display: which jobs run, since when, how they ended."""

    jobs: list[Job]
    workers: int
    running: dict[Path, float] = field(default_factory=dict)  # directory -> start time
    ended: dict[Path, dict] = field(default_factory=dict)  # directory -> record (or a busy marker)
    durations: list[float] = field(default_factory=list)

    def start(self, job: Job) -> None:
        """Mark a job as running."""
        self.running[job.directory] = time.monotonic()

    def end(self, job: Job, record: dict) -> None:
        """Mark a job as ended with its record."""
        self.durations.append(time.monotonic() - self.running.pop(job.directory))
        self.ended[job.directory] = record

"""Live state of a sweep, shared by the launchers (which update it) and the display (which reads it)."""
import time
from dataclasses import dataclass, field
from pathlib import Path

from ablate.results.records import COMPLETED
from ablate.sweep.plan import Job


def fraction(rows: list[dict], progress: dict | None, epochs: int) -> float:
    """How much of a run's training is done (0..1): its finished epochs (metrics rows) plus the steps done
    in the epoch in progress (its progress file, when that is about the next epoch)."""
    done = float(len(rows))
    if progress and progress.get("epoch") == len(rows) and progress.get("steps"):
        done += min(1.0, progress.get("step", 0) / progress["steps"])
    return min(1.0, done / max(1, epochs))


def kept_fraction(job: Job) -> float:
    """The part of a job's training its run directory keeps: its finished epochs (a run that starts again
    resumes from the last one and repeats the epoch that was in progress)."""
    return fraction(job.run.metrics(), None, job.config.train.epochs)


@dataclass
class Progress:
    """Live state of a sweep, shared with the display: which jobs run, since when, how they ended."""

    jobs: list[Job]
    workers: int
    running: dict[Path, float] = field(default_factory=dict)  # directory -> start time
    kept: dict[Path, list[dict]] = field(default_factory=dict)  # directory -> its epochs' metrics when it started
    began: dict[Path, float] = field(default_factory=dict)  # directory -> fraction done when it started
    ended: dict[Path, dict] = field(default_factory=dict)  # directory -> record (or a busy marker)
    durations: dict[Path, float] = field(default_factory=dict)  # directory -> seconds it ran

    def start(self, job: Job) -> None:
        """Mark a job as running (a resumed one has part of its work done already)."""
        self.kept[job.directory] = job.run.metrics()
        self.began[job.directory] = fraction(self.kept[job.directory], None, job.config.train.epochs)
        self.running[job.directory] = time.monotonic()

    def end(self, job: Job, record: dict) -> None:
        """Mark a job as ended with its record."""
        self.durations[job.directory] = time.monotonic() - self.running.pop(job.directory)
        self.ended[job.directory] = record

    def full_run_seconds(self) -> list[float]:
        """What a whole run took, from each run completed in this sweep (a resumed one scaled to the whole)."""
        return [seconds / (1 - self.began[d]) for d, seconds in self.durations.items()
                if self.ended[d].get("status") == COMPLETED and self.began[d] < 1]

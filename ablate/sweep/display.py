"""The sweep's live view (rich): runs done/total, the runs in progress with epoch and metrics, ETA."""
import time

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ablate.config.tasks import headline_of
from ablate.sweep.plan import Job
from ablate.sweep.progress import Progress


def duration(seconds: float | None) -> str:
    """1h02m, 3m05s or 12s."""
    if seconds is None:
        return "?"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _headline(row: dict) -> str:
    metric = headline_of(row)
    return f"{metric} {row[metric]:.2f}" if metric else ""


class SweepView:
    """A rich renderable re-read from the run directories at every refresh."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.total = len(progress.jobs)
        self.already = sum(job.done for job in progress.jobs)
        self.by_dir = {job.directory: job for job in progress.jobs}

    def _fraction(self, job: Job) -> tuple[float, list[dict]]:
        rows = job.run.metrics()
        return min(1.0, len(rows) / max(1, job.config.train.epochs)), rows

    def eta(self, fractions: dict) -> float | None:
        """Seconds left: mean run time (finished runs, else extrapolated running ones) times work left."""
        p = self.progress
        now = time.monotonic()
        estimates = list(p.durations) or [(now - p.running.get(d, now)) / f
                                          for d, (f, _) in fractions.items() if f > 0]
        if not estimates:
            return None
        per_run = sum(estimates) / len(estimates)
        waiting = self.total - self.already - len(p.ended) - len(p.running)
        left = waiting * per_run + sum(per_run * (1 - f) for f, _ in fractions.values())
        return left / p.workers

    def __rich__(self) -> Group:
        p = self.progress
        fractions = {d: self._fraction(self.by_dir[d]) for d in list(p.running)}
        done = self.already + len(p.ended)
        failed = sum(r.get("status") != "completed" for r in p.ended.values())
        head = Text(f"runs {done}/{self.total} done" + (f", {failed} not completed" if failed else "")
                    + f"   ETA {duration(self.eta(fractions))}", style="bold")
        table = Table(box=None, pad_edge=False)
        for column in ("run", "overrides", "epoch", "last", "elapsed"):
            table.add_column(column)
        now = time.monotonic()
        for directory, (fraction, rows) in fractions.items():
            job = self.by_dir[directory]
            last = _headline(rows[-1]) if rows else ""
            table.add_row(directory.name, job.label, f"{len(rows)}/{job.config.train.epochs}", last,
                          duration(now - p.running.get(directory, now)))
        return Group(head, table)

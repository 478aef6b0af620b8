"""The sweep's live view (rich): runs done/total, ETA, and each running run's epoch, in-epoch progress bar,
images/s and latest metric, re-read from the run directories at every refresh. Without a terminal (output piped
or logged) a sweep prints one plain line per finished epoch of each run instead (EpochLines).

The ETA is recomputed at every refresh from what the runs have done so far (ablate.sweep.progress): a
whole run takes the mean time of the runs completed in this sweep (before any has, a running run's
start-up, until its first step, plus its training time over its fraction done); each running run still
needs its share of that, blended with its own pace as it progresses; the waiting runs then go to
whichever worker frees first.
"""
import heapq
import threading
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Group
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ablate.config.tasks import headline_of
from ablate.results.records import COMPLETED
from ablate.sweep.plan import Job
from ablate.sweep.progress import Progress, fraction, kept_fraction


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


def finish_time(running: list[float], waiting: list[float], workers: int) -> float:
    """Seconds until the last run ends: each running run ends after its remaining seconds, each waiting run
    (its seconds, in order) starts on the first worker to free up."""
    slots = sorted(running + [0.0] * max(0, workers - len(running)))
    for seconds in waiting:
        heapq.heappush(slots, heapq.heappop(slots) + seconds)
    return max(slots, default=0.0)


class SweepView:
    """A rich renderable re-read from the run directories at every refresh."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.total = len(progress.jobs)
        self.already = sum(job.done for job in progress.jobs)
        self.by_dir = {job.directory: job for job in progress.jobs}
        # What each job still has to do, read once: a waiting job's directory does not change until it starts.
        self.left = {job.directory: 1 - kept_fraction(job) for job in progress.jobs if not job.done}
        self.training_since: dict = {}  # directory -> when its progress file first showed it training
        self.started = time.monotonic()

    def _snapshot(self, job: Job) -> tuple[list[dict], dict | None, float]:
        rows, progress = job.run.metrics(), job.run.progress()
        return rows, progress, fraction(rows, progress, job.config.train.epochs)

    def eta(self, fractions: dict, now: float | None = None) -> float | None:
        """Seconds left, from the fraction done of each running run (directory -> fraction); None before
        anything tells how long a run takes."""
        p, now = self.progress, time.monotonic() if now is None else now
        running = [d for d in fractions if d in p.running]
        elapsed = {d: now - p.running[d] for d in running}
        # start-up (imports, data, model) is paid once, not in proportion to the epochs
        setup = {d: min(elapsed[d], self.training_since.get(d, p.running[d]) - p.running[d]) for d in running}
        share = {d: 1 - p.began.get(d, 0.0) for d in running}  # what it had left when it started
        done = {d: fractions[d] - p.began.get(d, 0.0) for d in running}  # what it has done since
        waiting = [left for d, left in self.left.items() if d not in p.running and d not in p.ended]
        whole = p.full_run_seconds() or [setup[d] + (elapsed[d] - setup[d]) / done[d] for d in running if done[d] > 0]
        if not whole:
            return None if running or waiting else 0.0
        per_run = sum(whole) / len(whole)
        remaining = []
        for d in running:
            prior = max(0.0, per_run * share[d] - elapsed[d])
            if done[d] <= 0 or share[d] <= 0:
                remaining.append(prior)
                continue
            pace = (elapsed[d] - setup[d]) * (share[d] - done[d]) / done[d]
            weight = min(1.0, done[d] / share[d])  # its own pace counts more the further it is
            remaining.append(weight * pace + (1 - weight) * prior)
        return finish_time(remaining, [per_run * left for left in waiting], p.workers)

    def __rich__(self) -> Group:
        p, now = self.progress, time.monotonic()
        snapshots = {d: self._snapshot(self.by_dir[d]) for d in list(p.running)}
        for d, (_, progress, _) in snapshots.items():
            if progress is not None:
                self.training_since.setdefault(d, now)
        done = self.already + len(p.ended)
        failed = sum(r.get("status") != COMPLETED for r in p.ended.values())
        eta = self.eta({d: f for d, (_, _, f) in snapshots.items()}, now)
        head = Text(f"runs {done}/{self.total} done" + (f", {failed} not completed" if failed else "")
                    + f", {len(p.running)} running   ETA {duration(eta)}   elapsed {duration(now - self.started)}",
                    style="bold", overflow="ellipsis", no_wrap=True)
        table = Table(box=None, pad_edge=False, expand=True, header_style="bold")
        table.add_column("overrides", overflow="ellipsis", no_wrap=True, ratio=1)
        table.add_column("epoch", no_wrap=True, justify="right", width=5)
        table.add_column("in epoch", no_wrap=True, width=13)
        table.add_column("img/s", no_wrap=True, justify="right", width=6)
        table.add_column("last", no_wrap=True, width=11)
        table.add_column("time", no_wrap=True, justify="right", width=6)
        for directory, (rows, progress, _) in snapshots.items():
            job = self.by_dir[directory]
            epochs = job.config.train.epochs
            in_epoch, rate = Text(""), ""
            if progress and progress.get("epoch") == len(rows) and progress.get("steps"):
                in_epoch = Table.grid()
                in_epoch.add_row(ProgressBar(total=progress["steps"], completed=progress["step"], width=8),
                                 Text(f" {100 * progress['step'] // progress['steps']:3d}%"))
                rate = f"{progress['images_per_s']:.0f}" if progress.get("images_per_s") else ""
            epoch = f"{min(len(rows) + 1, epochs)}/{epochs}"
            table.add_row(job.label, epoch, in_epoch, rate, _headline(rows[-1]) if rows else "",
                          duration(now - p.running.get(directory, now)))
        return Group(head, table)


def epoch_line(job: Job, row: dict) -> str:
    """One finished epoch of a run: its directory, the epoch, its metrics and time, then what the run is."""
    shown = [f"{k} {row[k]:.4g}" for k in (headline_of(row), "loss", "train_loss")
             if k and isinstance(row.get(k), (int, float))]
    seconds = row.get("epoch_time_s")
    return "  ".join(["", job.directory.name, f"epoch {row['epoch'] + 1}/{job.config.train.epochs}", *shown,
                      duration(seconds) if isinstance(seconds, (int, float)) else "", job.label])


class EpochLines:
    """The live view's stand-in without a terminal: a thread that reads the running runs' metrics.jsonl twice a
    second and writes a line for each epoch they finish. A line is written for each metrics row not seen before:
    the epochs a resumed run kept are not repeated, those of a run that had to start afresh are."""

    INTERVAL_S = 0.5

    def __init__(self, progress: Progress, write: Callable[[str], None]):
        self.progress, self.write = progress, write
        self.by_dir = {job.directory: job for job in progress.jobs}
        self.seen: dict[Path, list[dict]] = {}  # directory -> its metrics rows when last read
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> "EpochLines":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()

    def _watch(self) -> None:
        while not self.stop.wait(self.INTERVAL_S):
            for directory in list(self.progress.running):
                self.flush(self.by_dir[directory])

    def flush(self, job: Job) -> None:
        """Write the lines of the job's epochs finished since the last call (before its end line, say)."""
        with self.lock:
            rows = job.run.metrics()
            seen = self.seen.get(job.directory, self.progress.kept.get(job.directory, []))
            for i, row in enumerate(rows):
                if i >= len(seen) or row != seen[i]:
                    self.write(epoch_line(job, row))
            self.seen[job.directory] = rows

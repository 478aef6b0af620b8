"""Run one config to the end in its run directory: resume, train, evaluate, checkpoint, record.

Crash safety: each epoch appends its metrics line and then replaces the checkpoint atomically; on
resume metrics.jsonl is rewritten from the checkpoint's history, so a kill at any moment loses at
most the epoch in progress and never duplicates one. The record is written last, atomically.
"""
import fcntl
import os
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from ablate.engine.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from ablate.engine.distributed import DistributedTask, World
from ablate.engine.optim import Diverged, build_stepper
from ablate.engine.provenance import provenance
from ablate.engine.seed import epoch_seed, seed_everything
from ablate.engine.task import build_task
from ablate.engine.tensorboard import TensorBoard
from ablate.models.counting import count_macs, count_params
from ablate.results.records import (CONFIG, METRICS, config_hashes, dumps, finished_record, write_atomic,
                                    write_record)

RECORD_SCHEMA = 1


class RunBusy(RuntimeError):
    """Another process is running this config right now."""


@contextmanager
def run_lock(directory: Path, world: World = World()) -> Iterator[None]:
    """Hold an exclusive lock on the run directory (released by the OS even on SIGKILL).

    In a multi-process run rank 0 holds it for all and tells the others whether it got it.
    """
    if not world.main:
        if world.broadcast(None):
            raise RunBusy(f"{directory} is being run by another process")
        yield
        return
    with open(directory / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            world.broadcast(True)
            raise RunBusy(f"{directory} is being run by another process") from None
        world.broadcast(False)
        yield


def pick_device(name: str) -> torch.device:
    """auto: the first CUDA device if there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def cpu_count() -> int:
    """Cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class Run:
    """The state of one run as it trains; what it holds so far goes into the record even on failure."""

    def __init__(self, cfg: DictConfig, directory: Path, on_epoch: Callable[[dict], None] | None = None,
                 world: World | None = None):
        self.cfg, self.directory, self.on_epoch = cfg, directory, on_epoch
        self.world = world or World(device=pick_device(cfg.runtime.device))
        self.history: list[dict] = []
        self.resumed_at: list[int] = []
        self.size: dict[str, int] = {}
        self.device = self.world.device

    def train(self) -> None:
        """Train from the last checkpoint (or from scratch) to cfg.train.epochs."""
        cfg = self.cfg
        torch.set_num_threads(cfg.runtime.threads or cpu_count())
        seed_everything(cfg.seed)
        task = build_task(cfg, self.device)
        if self.world.size > 1:
            task = DistributedTask(task, self.world, cfg.train.batch_size)
        if task.steps_per_epoch == 0:
            raise ValueError(f"train.batch_size={cfg.train.batch_size} is larger than the training set")
        groups = task.param_groups(cfg.train.weight_decay, cfg.train.decay_rpe, cfg.train.decay_all)
        step = build_stepper(groups, self.device, cfg.train, task.steps_per_epoch)
        checkpoint = load_checkpoint(self.directory / CHECKPOINT)
        if checkpoint is None:
            self.size = {"params": count_params(task.model), "macs": count_macs(task.model, task.input_shape)}
            if self.world.main:
                write_atomic(self.directory / METRICS, "")
        else:
            task.model.load_state_dict(checkpoint["model"])
            step.load_state_dict(checkpoint["stepper"])
            self.history, self.size = checkpoint["history"], checkpoint["size"]
            self.resumed_at = checkpoint["resumed_at"] + [len(self.history)]
            if self.world.main:
                write_atomic(self.directory / METRICS, "".join(dumps(row) + "\n" for row in self.history))
        board = TensorBoard(self.directory, cfg.logging.tensorboard and self.world.main)
        try:
            for epoch in range(len(self.history), cfg.train.epochs):
                self._epoch(task, step, epoch, board)
        finally:
            board.close()

    def _epoch(self, task, step, epoch: int, board: TensorBoard) -> None:
        seed_everything(epoch_seed(self.cfg.seed, epoch))
        start = time.perf_counter()
        trained = task.train_epoch(epoch, step)
        evaluated = task.evaluate()
        seconds = time.perf_counter() - start
        row = {"epoch": epoch, **evaluated, "train_loss": trained["train_loss"], "lr": step.lr,
               "images": trained["images"], "train_time_s": trained["train_time_s"], "epoch_time_s": seconds}
        self.history.append(row)
        if not self.world.main:  # rank 0 writes for every process
            return
        with open(self.directory / METRICS, "a") as f:
            f.write(dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())
        save_checkpoint(self.directory / CHECKPOINT, {
            "model": task.model.state_dict(), "stepper": step.state_dict(), "history": self.history,
            "size": self.size, "resumed_at": self.resumed_at, "epoch": epoch + 1})
        board.log(row)
        if self.on_epoch is not None:
            self.on_epoch(row)

    def metrics(self) -> dict:
        """Final metrics: the last evaluation, the best headline metric, size, time and throughput."""
        out: dict = {"epochs": len(self.history), **self.size}
        if self.history:
            last = self.history[-1]
            headline = next(iter(k for k in last if k != "epoch"))
            out.update({k: v for k, v in last.items() if k not in ("epoch", "lr", "images", "train_time_s",
                                                                      "epoch_time_s")})
            out[f"best_{headline}"] = max(row[headline] for row in self.history)
            train_time = sum(row["train_time_s"] for row in self.history)
            out["wall_time_s"] = sum(row["epoch_time_s"] for row in self.history)
            out["throughput"] = sum(row["images"] for row in self.history) / train_time if train_time else None
        return out


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def build_record(cfg: DictConfig, directory: Path, overrides: list[str], status: str, error: str | None,
                 run: Run | None = None, started: str | None = None) -> dict:
    """The final record of a run: identity, status and error, metrics, provenance, resolved config."""
    config = OmegaConf.to_container(cfg, resolve=True)
    config_hash, group_hash = config_hashes(config)
    device = run.device if run is not None else pick_device(cfg.runtime.device)
    return {
        "schema": RECORD_SCHEMA, "run_id": directory.name, "experiment": cfg.name, "task": cfg.task,
        "status": status, "error": error,
        "identity": {"config_hash": config_hash, "group_hash": group_hash, "overrides": list(overrides)},
        "metrics": run.metrics() if run is not None else {},
        "resumed_at_epochs": run.resumed_at if run is not None else [],
        "provenance": {**provenance(device), "started": started or _now(), "finished": _now()},
        "config": config,
    }


def execute(cfg: DictConfig, directory: Path, overrides: list[str],
            on_epoch: Callable[[dict], None] | None = None, world: World | None = None) -> dict:
    """Run cfg in directory to the end (resuming), write and return its record; a finished run is skipped.

    Exceptions inside the run become a failed record (traceback in error.txt); KeyboardInterrupt and
    RunBusy propagate. In a multi-process run (world) every process trains and rank 0 writes.
    """
    world = world or World(device=pick_device(cfg.runtime.device))
    directory.mkdir(parents=True, exist_ok=True)
    with run_lock(directory, world):
        existing = world.broadcast(finished_record(directory) if world.main else None)
        if existing is not None:
            return existing
        if world.main:
            write_atomic(directory / CONFIG, OmegaConf.to_yaml(cfg))
        run, started, status, error = Run(cfg, directory, on_epoch, world), _now(), "completed", None
        try:
            run.train()
        except Diverged as e:
            status, error = "diverged", str(e)
        except Exception as e:  # a failing run must not stop a sweep: record it and go on
            status, error = "failed", f"{type(e).__name__}: {e}".splitlines()[0]
            if world.main:
                write_atomic(directory / "error.txt", traceback.format_exc())
        record = build_record(cfg, directory, overrides, status, error, run, started)
        if world.main:
            write_record(directory, record)
        return record

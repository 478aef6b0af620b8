"""Run one config to the end in its run directory: resume, train, evaluate, checkpoint, record.

Crash safety: each epoch appends its metrics line and then replaces the checkpoint atomically; on
resume metrics.jsonl is rewritten from the checkpoint's history, so a kill at any moment loses at
most the epoch in progress and never duplicates one. The record is written last, atomically
(ablate.results.rundir owns the files and the lock).
"""
import platform
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from ablate.attention.compiler import quiet_cuda_probe
from ablate.config.tasks import TASKS
from ablate.engine.checkpoint import UnreadableCheckpoint, load_checkpoint, save_checkpoint
from ablate.engine.distributed import World
from ablate.engine.optim import Diverged, build_stepper
from ablate.engine.resources import cpu_count
from ablate.engine.seed import epoch_seed, seed_everything
from ablate.engine.task import build_task
from ablate.engine.tensorboard import TensorBoard
from ablate.models.counting import count_macs, count_params
from ablate.results.records import COMPLETED, DIVERGED, FAILED, new_record, now
from ablate.results.rundir import RunBusy, RunDir


@contextmanager
def world_lock(run: RunDir, world: World) -> Iterator[None]:
    """The run's lock, held by rank 0 for every process of a multi-process run (the others learn whether it got it)."""
    if not world.main:
        if world.broadcast(None):
            raise RunBusy(f"{run.path} is being run by another process")
        yield
        return
    with ExitStack() as held:
        try:
            held.enter_context(run.lock())
        except RunBusy:
            world.broadcast(True)
            raise
        world.broadcast(False)
        yield


def device_name(device: torch.device) -> str:
    """A human name for the device, e.g. 'NVIDIA H100 80GB HBM3' or 'cpu (x86_64, 16 threads)'."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)"


def pick_device(name: str) -> torch.device:
    """auto: the first CUDA device if there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class ProgressFile:
    """Writes <run>/progress.json about once a second while an epoch trains (steps done, images/s): what a
    sweep's display reads, whichever process or machine runs the job."""

    INTERVAL_S = 1.0

    def __init__(self, run: RunDir, epochs: int, steps_per_epoch: int, batch_size: int):
        self.run, self.epochs, self.steps, self.batch_size = run, epochs, steps_per_epoch, batch_size
        self.epoch, self.first_step, self.since, self.written = 0, 0, time.monotonic(), 0.0

    def start_epoch(self, epoch: int, global_step: int) -> None:
        """An epoch begins at this step count."""
        self.epoch, self.first_step, self.since = epoch, global_step, time.monotonic()
        self._write(global_step, time.monotonic())

    def __call__(self, global_step: int) -> None:
        """After each optimisation step; writes when the last write is a second old, and at the epoch's end."""
        now = time.monotonic()
        if now - self.written >= self.INTERVAL_S or global_step - self.first_step == self.steps:
            self._write(global_step, now)

    def _write(self, global_step: int, now: float) -> None:
        done = global_step - self.first_step
        rate = done * self.batch_size / (now - self.since) if done and now > self.since else None
        self.run.write_progress({"epoch": self.epoch, "epochs": self.epochs, "step": done, "steps": self.steps,
                                 "images_per_s": rate})
        self.written = now


class Run:
    """The state of one run as it trains; what it holds so far goes into the record even on failure."""

    def __init__(self, cfg: DictConfig, run: RunDir, on_epoch: Callable[[dict], None] | None = None,
                 world: World | None = None):
        self.cfg, self.run, self.on_epoch = cfg, run, on_epoch
        self.world = world or World(device=pick_device(cfg.runtime.device))
        self.history: list[dict] = []
        self.resumed_at: list[int] = []
        self.size: dict[str, int] = {}
        self.at_resolutions: dict[str, float] = {}
        self.warnings: list[str] = []  # files of the run set aside because they could not be read
        self.device = self.world.device

    def train(self) -> None:
        """Train from the last checkpoint (or from scratch) to cfg.train.epochs."""
        cfg = self.cfg
        torch.set_num_threads(cfg.runtime.threads or cpu_count())
        seed_everything(cfg.seed)
        task = build_task(cfg, self.device)
        if self.world.size > 1:
            task.distribute(self.world, cfg.train.batch_size)
        if task.steps_per_epoch == 0:
            raise ValueError(f"train.batch_size={cfg.train.batch_size} is larger than the training set")
        groups = task.param_groups(cfg.train.weight_decay, cfg.train.decay_rpe, cfg.train.decay_all)
        step = build_stepper(groups, self.device, cfg.train, task.steps_per_epoch)
        try:
            checkpoint = load_checkpoint(self.run)
        except UnreadableCheckpoint as e:
            checkpoint = None
            if self.world.main:  # the others find it gone, or unreadable too: every process starts afresh
                self.warnings.append(self.run.set_aside(RunDir.CHECKPOINT, f"could not be read ({e})",
                                                        "the run starts afresh"))
        if checkpoint is None:
            self.size = {"params": count_params(task.model), "macs": count_macs(task.model, task.input_shape)}
        else:
            task.model.load_state_dict(checkpoint["model"])
            step.load_state_dict(checkpoint["stepper"])
            self.history, self.size = checkpoint["history"], checkpoint["size"]
            self.resumed_at = checkpoint["resumed_at"] + [len(self.history)]
        if cfg.runtime.compile:  # in place, after counting: state dict keys, hooks and DDP stay the bare model's
            quiet_cuda_probe()
            task.model.compile()
        progress = None
        if self.world.main:
            self.run.reset_metrics(self.history)
            progress = ProgressFile(self.run, cfg.train.epochs, task.steps_per_epoch, cfg.train.batch_size)
            step.on_step = progress
        board = TensorBoard(self.run.path, cfg.logging.tensorboard and self.world.main)
        try:
            for epoch in range(len(self.history), cfg.train.epochs):
                self._epoch(task, step, epoch, board, progress)
        finally:
            board.close()
        if cfg.eval.resolutions:  # the trained model at other test sizes, once, into the record
            seed_everything(epoch_seed(cfg.seed, cfg.train.epochs))
            self.at_resolutions = task.evaluate_at(list(cfg.eval.resolutions))

    def _epoch(self, task, step, epoch: int, board: TensorBoard, progress: ProgressFile | None) -> None:
        seed_everything(epoch_seed(self.cfg.seed, epoch))
        if progress is not None:
            progress.start_epoch(epoch, step.global_step)
        start = time.perf_counter()
        trained = task.train_epoch(epoch, step)
        evaluated = task.evaluate()
        seconds = time.perf_counter() - start
        row = {"epoch": epoch, **evaluated, "train_loss": trained["train_loss"], "lr": step.lr,
               "images": trained["images"], "train_time_s": trained["train_time_s"], "epoch_time_s": seconds}
        self.history.append(row)
        if not self.world.main:  # rank 0 writes for every process
            return
        self.run.append_metrics(row)
        save_checkpoint(self.run, {
            "model": task.model.state_dict(), "stepper": step.state_dict(), "history": self.history,
            "size": self.size, "resumed_at": self.resumed_at, "epoch": epoch + 1,
            "input_shape": list(task.input_shape)})  # the trained size: `ablate eval` tests other sizes from it
        board.log(row)
        if self.on_epoch is not None:
            self.on_epoch(row)

    def metrics(self) -> dict:
        """Final metrics: the last evaluation, the best headline metric, size, time and throughput."""
        out: dict = {"epochs": len(self.history), **self.size}
        if self.history:
            last = self.history[-1]
            headline = TASKS[self.cfg.task].headline
            out.update({k: v for k, v in last.items() if k not in ("epoch", "lr", "images", "train_time_s",
                                                                      "epoch_time_s")})
            out[f"best_{headline}"] = max(row[headline] for row in self.history)
            train_time = sum(row["train_time_s"] for row in self.history)
            out["wall_time_s"] = sum(row["epoch_time_s"] for row in self.history)
            out["throughput"] = sum(row["images"] for row in self.history) / train_time if train_time else None
        return {**out, **self.at_resolutions}


def error_line(error: BaseException) -> str:
    """The one line a failed record keeps: the error's type and first line, or for an error raised in a data-loading
    worker process (which torch re-raises with the worker's whole traceback as its message) the original's last."""
    text = f"{type(error).__name__}: {error}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if "\nOriginal Traceback" in text:
        kind, _, message = lines[-1].partition(": ")
        return f"{kind.rpartition('.')[2]}: {message}"
    return lines[0] if lines else type(error).__name__


def interrupted(error: BaseException | None) -> bool:
    """Whether error was raised while handling a KeyboardInterrupt (directly or further back)."""
    while error is not None:
        if isinstance(error, KeyboardInterrupt):
            return True
        error = error.__context__
    return False


def execute(cfg: DictConfig, directory: Path | RunDir, overrides: list[str],
            on_epoch: Callable[[dict], None] | None = None, world: World | None = None) -> dict:
    """Run cfg in its directory to the end (resuming), write and return its record; a finished run is skipped.

    Exceptions inside the run become a failed record (traceback in error.txt); KeyboardInterrupt and
    RunBusy propagate. In a multi-process run (world) every process trains and rank 0 writes.
    """
    run = directory if isinstance(directory, RunDir) else RunDir(directory)
    world = world or World(device=pick_device(cfg.runtime.device))
    with world_lock(run, world):
        existing = world.broadcast(run.finished() if world.main else None)
        if existing is not None:
            return existing
        config = OmegaConf.to_container(cfg, resolve=True)
        state, started, status, error = Run(cfg, run, on_epoch, world), now(), COMPLETED, None
        if world.main:
            state.warnings += run.heal()  # what a killed or damaged attempt left behind
            run.write_config(OmegaConf.to_yaml(cfg))
            run.write_started(overrides, started)
        try:
            state.train()
        except Diverged as e:
            status, error = DIVERGED, str(e)
        except Exception as e:  # a failing run must not stop a sweep: record it and go on
            if interrupted(e):  # Ctrl-C that a library turned into its own error (torch.save's zip writer)
                raise KeyboardInterrupt from e
            status, error = FAILED, error_line(e)
            if world.main:
                run.write_error(traceback.format_exc())
        finally:
            if world.main:
                run.clear_progress()
        record = new_record(config, run.name, overrides, status, error, state.metrics(), state.resumed_at,
                            device_name(state.device), started, state.warnings)
        if world.main:
            run.write_record(record)
        return record

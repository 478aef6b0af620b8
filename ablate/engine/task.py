"""The seam between the runner and a kind of experiment (classification, detection).

The runner owns what every run shares: run directory, seeding, optimiser and schedule, checkpoints,
resume, divergence, records. A task owns the rest. A task is a module ablate.engine.<task> with

    check(cfg) -> None                 raise ValueError (one line) for bad config or missing data
    build(cfg, device) -> Task         model, data, loss on the device

selected by the config's top-level `task` key.
"""
import importlib
from abc import ABC, abstractmethod

import torch
from omegaconf import DictConfig

from ablate.engine.optim import Stepper, param_groups

TASKS = ("classification", "detection")


class Task(ABC):
    """What a runner needs from a kind of experiment: the model, its steps per epoch, one input's shape."""

    model: torch.nn.Module
    steps_per_epoch: int
    input_shape: tuple[int, ...]  # (C, H, W) of one input, for counting MACs

    @abstractmethod
    def train_epoch(self, epoch: int, step: Stepper) -> dict[str, float]:
        """Train one epoch, calling step(loss) per batch; returns metrics including images and loss."""

    @abstractmethod
    def evaluate(self) -> dict[str, float]:
        """Evaluate on the validation split; returns metrics (the first is the headline metric)."""

    def param_groups(self, weight_decay: float, decay_rpe: bool, decay_all: bool) -> list[dict]:
        """Optimiser parameter groups; override for per-part learning rates (key lr_scale)."""
        return param_groups(self.model, weight_decay, decay_rpe, decay_all)


def _module(cfg: DictConfig):
    if cfg.task not in TASKS:
        raise ValueError(f"unknown task={cfg.task!r}: expected one of {', '.join(TASKS)}")
    return importlib.import_module(f"ablate.engine.{cfg.task}")


def check_task(cfg: DictConfig) -> None:
    """Validate a composed config for its task without building anything."""
    _module(cfg).check(cfg)


def build_task(cfg: DictConfig, device: torch.device) -> Task:
    """Build the task named by cfg.task."""
    return _module(cfg).build(cfg, device)

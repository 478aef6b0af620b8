"""The seam between the runner and a kind of experiment (classification, detection).

The runner owns what every run shares: run directory, seeding, optimiser and schedule, checkpoints,
resume, divergence, records. A task owns the rest. A task is declared in ablate.config.tasks (headline
metric, metrics, data schema, plan-time checks) and implemented by a module with

    build(cfg, device) -> Task         model, data, loss on the device

selected by the config's top-level `task` key.
"""
import importlib
from abc import ABC, abstractmethod

import torch
from omegaconf import DictConfig

from ablate.config.tasks import TASKS
from ablate.engine.distributed import World
from ablate.engine.optim import Stepper, param_groups


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

    def evaluate_at(self, sizes: list) -> dict[str, float]:
        """Metrics at other test resolutions (eval.resolutions), named <metric>@<size>; tasks that cannot say so."""
        raise ValueError(f"eval.resolutions is not supported for {type(self).__name__}")

    def distribute(self, world: World, batch_size: int) -> None:
        """Train as one of world's processes (ablate.engine.distributed); tasks that cannot, say so."""
        able = ", ".join(name for name, spec in TASKS.items() if spec.distributed)
        raise ValueError(f"multi-process runs support task={able} only (got {type(self).__name__})")


def build_task(cfg: DictConfig, device: torch.device) -> Task:
    """Build the task named by cfg.task."""
    return importlib.import_module(TASKS[cfg.task].module).build(cfg, device)

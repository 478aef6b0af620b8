"""Kinds of experiment: what each task is known by (headline metric), reports by default, and configures.

The runner, the sweep's progress, `ablate ls` and `ablate report` read the headline and metrics from
here; planning runs `check`; the engine imports `module` (which builds model and data) only to run.
Torch-free.
"""
from collections.abc import Callable
from dataclasses import dataclass

from omegaconf import DictConfig

from ablate.config.checks import check_classification, check_detection
from ablate.registry import Registry


@dataclass(frozen=True)
class TaskSpec:
    """One kind of experiment."""

    module: str  # ablate.engine.<task>: build(cfg, device) -> Task
    check: Callable[[DictConfig], None]  # plan-time checks (ablate.config.checks), torch-free
    headline: str  # the metric a run is known by: ls, progress, best_<headline> in the record
    metrics: tuple[str, ...]  # what evaluation returns, in this order
    report: tuple[str, ...]  # what `ablate report` shows by default
    data_schema: str  # schema/data/<name>: the data fields this task reads
    model_key: str  # a key only this task's model configs have (tells a DeiT config from a DETR one)
    distributed: bool  # whether a run can train over several processes (DDP)


TASKS: Registry[TaskSpec] = Registry("task")
TASKS.register("classification", TaskSpec(
    module="ablate.engine.classification", check=check_classification, headline="top1", metrics=("top1", "top5", "loss"),
    report=("top1", "top5"), data_schema="classification", model_key="name", distributed=True))
TASKS.register("detection", TaskSpec(
    module="ablate.engine.detection", check=check_detection, headline="AP", metrics=("AP", "AP50", "AP75", "APs", "APm", "APl"),
    report=("AP", "AP50", "AP75"), data_schema="detection", model_key="backbone", distributed=False))


def headline_of(metrics: dict) -> str | None:
    """The headline metric among a record's or an epoch's metrics (whichever task wrote them)."""
    return next((spec.headline for _, spec in TASKS.items() if isinstance(metrics.get(spec.headline), (int, float))),
                None)


def check_config(cfg: DictConfig) -> None:
    """Raise ValueError (one line) if the composed config cannot run: unknown task, or its task's checks fail."""
    if cfg.task not in TASKS:
        raise ValueError(TASKS.unknown(cfg.task).replace("task ", "task=", 1))
    spec = TASKS[cfg.task]
    if spec.model_key not in cfg.model:
        other = next(name for name, s in TASKS.items() if s.model_key in cfg.model)
        raise ValueError(f"the experiment ({cfg.name.split('+')[0]}) is a {cfg.task} study but the model is a {other} "
                         "model: drop the experiment with ~experiment or choose one made for this model "
                         "(e.g. experiment=detr_composite)")
    spec.check(cfg)

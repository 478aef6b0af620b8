"""Structured configs: the types Hydra checks every composed config against.

Group options in conf/ extend these schemas through their defaults list (`/schema/<group>@_here_`),
so a typo'd key or a wrong type fails at composition, before anything runs.
"""
from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class RPESchema:
    """Maps onto ablate.rpe.RPEConfig; method "none" means no relative position encoding."""

    method: str = "none"  # none | euc | quant | cross | product
    mode: Optional[str] = None  # bias | contextual
    ratio: Optional[float] = None
    shared_head: Optional[bool] = None
    rpe_on: Optional[str] = None  # subset of "qkv"
    index: Optional[str] = None  # piecewise | clip


@dataclass
class DeiTSchema:
    """A registered timm DeiT name from ablate.models plus its position-encoding choices."""

    name: str = MISSING
    abs_pos: str = "learned"  # learned | sincos | none
    attn_backend: str = "auto"  # auto | eager | sdpa | flex


@dataclass
class ClassificationDataSchema:
    """A classification dataset: where it is, what shape it has."""

    name: str = MISSING  # fashion_mnist | digits | folder
    root: Optional[str] = None
    img_size: int = MISSING
    in_chans: int = MISSING
    num_classes: int = MISSING
    train_limit: Optional[int] = None  # use only the first N training images (CPU-sized runs)
    mean: list[float] = field(default_factory=lambda: [0.5])
    std: list[float] = field(default_factory=lambda: [0.5])


@dataclass
class TrainSchema:
    """The DeiT recipe's knobs (paper values in conf/train/deit.yaml)."""

    epochs: int = MISSING
    batch_size: int = MISSING
    base_lr: float = 5e-4  # at batch 512: lr = base_lr * batch_size / 512
    min_lr: float = 1e-5
    warmup_lr: float = 1e-6
    warmup_epochs: float = 5.0
    weight_decay: float = 0.05
    decay_rpe: bool = False  # whether RPE lookup tables get weight decay
    clip_grad: Optional[float] = None
    smoothing: float = 0.1
    mixup: float = 0.0
    cutmix: float = 0.0
    randaug: Optional[str] = None  # timm RandAugment string, e.g. rand-m9-mstd0.5-inc1
    reprob: float = 0.0  # random erasing probability
    hflip: float = 0.5
    crop_padding: int = 0  # in-memory data: random translation by up to this many pixels
    drop_path: float = 0.1
    amp: bool = True  # mixed precision where the device supports it


@dataclass
class EvalSchema:
    """Evaluation: batch size and the official centre-crop transform for image folders."""

    batch_size: int = 256
    crop_pct: float = 0.875  # resize to img_size / crop_pct (256 for 224), then centre-crop
    interpolation: str = "bicubic"


@dataclass
class RuntimeSchema:
    """Where and how a run executes; not part of a run's identity."""

    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int = 0  # CPU threads for torch; 0 = all cores
    workers: int = 2  # data-loader processes for image folders


@dataclass
class LoggingSchema:
    """Optional outputs; not part of a run's identity."""

    tensorboard: bool = True  # write TensorBoard events when tensorboard is installed


@dataclass
class Config:
    """The whole run: one option per group plus seed, experiment name and task."""

    name: str = "default"  # experiment name: records are grouped by it
    task: str = "classification"
    seed: int = 0
    model: Any = MISSING
    rpe: RPESchema = field(default_factory=RPESchema)
    data: Any = MISSING
    train: TrainSchema = field(default_factory=TrainSchema)
    eval: EvalSchema = field(default_factory=EvalSchema)
    runtime: RuntimeSchema = field(default_factory=RuntimeSchema)
    logging: LoggingSchema = field(default_factory=LoggingSchema)


def register() -> None:
    """Put the schemas in Hydra's ConfigStore (idempotent)."""
    store = ConfigStore.instance()
    store.store(name="config_schema", node=Config)
    store.store(group="schema/rpe", name="rpe", node=RPESchema)
    store.store(group="schema/model", name="deit", node=DeiTSchema)
    store.store(group="schema/data", name="classification", node=ClassificationDataSchema)
    store.store(group="schema/train", name="train", node=TrainSchema)

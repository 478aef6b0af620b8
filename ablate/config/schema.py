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
class PESchema:
    """Position encodings besides iRPE (the rpe group): the absolute one, and one other (ablate.pe.registry)."""

    absolute: str = "learned"  # learned | sincos | none (DETR's models set sincos: DETR's sine)
    name: str = "none"  # none | rope_axial | rope_mixed | bias_table | alibi | peg | shaw | txl | huang | sasa
    base: Optional[float] = None  # RoPE frequency base (null: the encoding's default, axial 100, mixed 10)
    shared: Optional[bool] = None  # bias_table: one table for all layers (BEiT) instead of one per layer (Swin)
    blocks: Optional[list[int]] = None  # peg: the blocks it follows (null: [0])


@dataclass
class DeiTSchema:
    """A registered timm DeiT name from ablate.models.registry."""

    name: str = MISSING
    attn_backend: str = "auto"  # auto, or a backend of ablate.attention.backends


@dataclass
class DETRSchema:
    """DETR with iRPE in the encoder (ablate.models.detr.build_detr); defaults are the authors' R50 model."""

    enc_rpe2d: Optional[str] = None  # the authors' flag, e.g. rpe-2.0-product-ctx-1-k (else the rpe group)
    backbone: str = "resnet50"  # a timm ResNet
    backbone_weights: Optional[str] = None  # local ImageNet weights for the trunk; never downloaded
    backbone_lr_scale: float = 0.1  # DETR's lr_backbone / lr; 0 freezes the backbone
    backbone_from_scratch: bool = False  # random init, trained batch norm and stem (no ImageNet weights)
    backbone_width: Optional[int] = None  # channels of the first stage (ResNet doubles them per stage)
    output_stride: int = 32  # 16 is DETR's DC5 (dilated layer4); 8 dilates layer3 too
    hidden_dim: int = 256
    nheads: int = 8
    enc_layers: int = 6
    dec_layers: int = 6
    dim_feedforward: int = 2048
    dropout: float = 0.1
    num_queries: int = 100
    aux_loss: bool = True
    eos_coef: float = 0.1  # weight of the no-object class in the cross-entropy
    attn_backend: str = "auto"  # auto, or a backend of ablate.attention.backends


@dataclass
class DetectionDataSchema:
    """A COCO-format detection set with DETR's augmentations; seed..max_object describe the composite set."""

    name: str = MISSING  # coco | composite
    root: Optional[str] = None  # COCO 2017 folder, or the composite set's cache folder
    num_classes: int = MISSING  # largest category id + 1 (91 for COCO)
    train_limit: Optional[int] = None
    val_limit: Optional[int] = None  # evaluate on the first N validation images only
    scales: list[int] = field(default_factory=lambda: [480, 512, 544, 576, 608, 640, 672, 704, 736, 768, 800])
    max_size: int = 1333
    crop_scales: list[int] = field(default_factory=lambda: [400, 500, 600])
    crop_min: int = 384
    crop_max: int = 600
    eval_size: int = 800
    fashion_root: str = "/usr/share/datasets/fashion-mnist"
    seed: int = 0
    num_train: int = 800
    num_val: int = 200
    image_size: int = 128
    max_objects: int = 4
    min_object: int = 20
    max_object: int = 56


@dataclass
class ClassificationDataSchema:
    """A classification dataset: where it is, what shape it has."""

    name: str = MISSING  # a registered dataset (ablate.data.registry): fashion_mnist | digits | folder | cifar10 | ...
    root: Optional[str] = None
    img_size: Any = MISSING  # one number (square) or [height, width]; checked by ablate.data.options.image_size
    in_chans: int = MISSING
    num_classes: Optional[int] = None  # null: inferred from the data (an image folder's class folders)
    train_limit: Optional[int] = None  # train on N images only: the first N (image files: a fixed sample of N)
    val_limit: Optional[int] = None  # evaluate on N images only, chosen the same way
    mean: list[float] = field(default_factory=lambda: [0.5])
    std: list[float] = field(default_factory=lambda: [0.5])


@dataclass
class HFDataSchema(ClassificationDataSchema):
    """A Hugging Face dataset on disk (ablate.data.hf): which columns and splits to read."""

    image_column: str = "image"
    label_column: str = "label"
    train_split: str = "train"
    val_split: str = "validation"


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
    decay_all: bool = False  # DETR's way: decay every parameter (biases, norms, embeddings, RPE tables too)
    lr_drop: Optional[int] = None  # DETR's schedule: lr constant after warm-up, /10 from this epoch; else cosine
    clip_grad: Optional[float] = None
    smoothing: float = 0.1
    mixup: float = 0.0
    cutmix: float = 0.0
    randaug: Optional[str] = None  # timm RandAugment string, e.g. rand-m9-mstd0.5-inc1
    reprob: float = 0.0  # random erasing probability
    hflip: float = 0.5
    crop: str = "none"  # rrc (random resized crop) | pad (resize, then translate) | none (resize): ablate.data.augment
    crop_scale: list[float] = field(default_factory=lambda: [0.08, 1.0])  # rrc: the fraction of the image a crop covers
    crop_padding: int = 0  # pad: random translation by up to this many pixels
    drop_path: float = 0.1
    amp: bool = True  # mixed precision where the device supports it


@dataclass
class EvalSchema:
    """Evaluation: batch size, the view of an image (resized to img_size; centre-cropped only if asked), test
    resolutions."""

    batch_size: int = 256
    crop_pct: Optional[float] = None  # null: resize to img_size, nothing cut; 0.875: ImageNet's (256 -> crop 224)
    resolutions: list[Any] = field(default_factory=list)  # after the last epoch, top-1 at each: 42 or [H, W]
    interpolation: str = "bicubic"


@dataclass
class RuntimeSchema:
    """Where and how a run executes; not part of a run's identity."""

    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int = 0  # CPU threads for torch; 0 = all cores
    workers: int = 2  # data-loader processes for image folders
    compile: bool = False  # torch.compile the model (one graph, forward and backward); changes only float order


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
    pe: PESchema = field(default_factory=PESchema)
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
    store.store(group="schema/pe", name="pe", node=PESchema)
    store.store(group="schema/model", name="deit", node=DeiTSchema)
    store.store(group="schema/data", name="classification", node=ClassificationDataSchema)
    store.store(group="schema/data", name="hf", node=HFDataSchema)
    store.store(group="schema/model", name="detr", node=DETRSchema)
    store.store(group="schema/data", name="detection", node=DetectionDataSchema)
    store.store(group="schema/train", name="train", node=TrainSchema)

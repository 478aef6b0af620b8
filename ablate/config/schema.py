"""Structured configs: the types Hydra checks every composed config against, and what each field means to a run.

Group options in conf/ extend these schemas through their defaults list (`/schema/<group>@_here_`),
so a typo'd key or a wrong type fails at composition, before anything runs.

A field made with `option(...)` carries marks that every reader takes from here, never from a list of its own:
- `low`/`high`: the values it may take (ablate.config.checks refuses others before anything runs);
- `choices=(...)`: the only values a string may take (checked the same way);
- `identity=False`: where or how a run executes, never what it is (runtime, logging, paths): left out of a
  run's identity hash (ablate.config.identity), of the report's factors, and free to change within a study;
- `neutral=V`: the value at which a field is left out of a run's identity. For a field added after runs were
  made, V is what those runs did without it: a run at V keeps the identity it had before the field existed,
  so adding an option re-files no run and needs no migration; records without the field read as V.
- `applies=f`: for a field with a neutral value, f(its group's values) says whether it does anything in this
  run; where it does not, it is read as its neutral value (so it never tells two identical runs apart).
- `encodings=(...)`: a `pe` option, and the position encodings that take it.
"""
from collections.abc import Callable, Iterator
from dataclasses import MISSING as NO_DEFAULT, Field, dataclass, field, fields
from functools import cache
from typing import Any, Optional

from omegaconf import MISSING

from ablate.data.detection.composite_spec import CompositeSpec
from ablate.data.options import INTERPOLATIONS
from ablate.protocol import POSITION_READERS

_UNSET = object()


@dataclass(frozen=True)
class Range:
    """The values a number may take: low <= value (low < value when low_open), value <= high."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False

    def holds(self, value: float) -> bool:
        """Whether value lies in the range (NaN and infinities never do)."""
        below = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        above = self.high is not None and value > self.high
        return not (below or above) and abs(value) != float("inf") and value == value

    def expected(self) -> str:
        """The range in words, e.g. '>= 1', '> 0 and <= 1'."""
        parts = [] if self.low is None else [f"{'>' if self.low_open else '>='} {self.low:g}"]
        return " and ".join(parts + ([] if self.high is None else [f"<= {self.high:g}"]))


def option(default: Any = MISSING, *, low: float | None = None, high: float | None = None, low_open: bool = False,
           choices: tuple[str, ...] = (), identity: bool = True, neutral: Any = _UNSET,
           applies: Callable[[dict], bool] | None = None,
           encodings: tuple[str, ...] = ()) -> Field:
    """A schema field with its marks (see the module docstring); list and dict defaults are copied per config."""
    marks: dict[str, Any] = {}
    if low is not None or high is not None:
        marks["range"] = Range(low, high, low_open)
    if choices:
        marks["choices"] = choices
    if not identity:
        marks["identity"] = False
    if neutral is not _UNSET:
        marks["neutral"] = neutral
    if applies is not None:
        marks["applies"] = applies
    if encodings:
        marks["encodings"] = encodings
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=marks)
    if isinstance(default, type):
        return field(default_factory=default, metadata=marks)
    return field(default=default, metadata=marks)


@dataclass
class RPESchema:
    """Maps onto ablate.rpe.RPEConfig; method "none" means no relative position encoding."""

    method: str = "none"  # none | euc | quant | cross | product
    mode: Optional[str] = None  # bias | contextual
    ratio: Optional[float] = option(None, low=0, low_open=True)
    shared_head: Optional[bool] = None
    rpe_on: Optional[str] = None  # subset of "qkv"
    index: Optional[str] = None  # piecewise | clip


@dataclass
class PESchema:
    """Position encodings besides iRPE (the rpe group): the absolute one, and one other (ablate.pe.registry).

    An encoding's options are fields here, each naming the encodings that take it; null leaves the choice to
    the encoding's module (its build() default)."""

    absolute: str = "learned"  # learned | sincos | none (DETR's models set sincos: DETR's sine)
    name: str = "none"  # a registered encoding: none | rope_axial | rope_mixed | bias_table | alibi | peg | ...
    base: Optional[float] = option(None, low=0, low_open=True, encodings=("rope_axial", "rope_mixed"))  # RoPE base
    shared: Optional[bool] = option(None, encodings=("bias_table",))  # one table for all layers (BEiT), not per layer
    blocks: Optional[list[int]] = option(None, encodings=("peg",))  # the blocks a PEG follows
    # How positions are read on a test grid other than the trained one: extrapolate | interpolate, or a list of
    # both to test each (ablate.protocol); null: extrapolate, what runs did before the option.
    positions: Optional[Any] = option(None, neutral=None, encodings=POSITION_READERS)


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
    backbone_lr_scale: float = option(0.1, low=0)  # DETR's lr_backbone / lr; 0 freezes the backbone
    backbone_from_scratch: bool = False  # random init, trained batch norm and stem (no ImageNet weights)
    backbone_width: Optional[int] = option(None, low=1)  # channels of the first stage (ResNet doubles them per stage)
    output_stride: int = 32  # 16 is DETR's DC5 (dilated layer4); 8 dilates layer3 too
    hidden_dim: int = option(256, low=1)
    nheads: int = option(8, low=1)
    enc_layers: int = option(6, low=0)
    dec_layers: int = option(6, low=1)
    dim_feedforward: int = option(2048, low=1)
    dropout: float = option(0.1, low=0, high=1)
    num_queries: int = option(100, low=1)
    aux_loss: bool = True
    eos_coef: float = option(0.1, low=0)  # weight of the no-object class in the cross-entropy
    attn_backend: str = "auto"  # auto, or a backend of ablate.attention.backends


@dataclass
class _DetectionFields:
    """A COCO-format detection set with DETR's augmentations."""

    name: str = MISSING  # coco | composite
    root: Optional[str] = option(None, identity=False)  # COCO 2017 folder, or the composite set's cache folder
    num_classes: int = option(MISSING, low=1)  # largest category id + 1 (91 for COCO)
    train_limit: Optional[int] = option(None, low=1)
    val_limit: Optional[int] = option(None, low=1)  # evaluate on the first N validation images only
    scales: list[int] = option([480, 512, 544, 576, 608, 640, 672, 704, 736, 768, 800])
    max_size: int = option(1333, low=1)
    crop_scales: list[int] = option([400, 500, 600])
    crop_min: int = option(384, low=1)
    crop_max: int = option(600, low=1)
    eval_size: int = option(800, low=1)
    fashion_root: str = option("/usr/share/datasets/fashion-mnist", identity=False)


@dataclass
class DetectionDataSchema(CompositeSpec, _DetectionFields):
    """A detection set; the composite set's own parameters (seed .. max_object) are its spec's fields, checked
    by its spec (ablate.data.detection.composite_spec)."""


def _limited(data: dict) -> bool:
    """Whether a data config keeps only some images (data.subset then says which)."""
    return data.get("train_limit") is not None or data.get("val_limit") is not None


@dataclass
class ClassificationDataSchema:
    """A classification dataset: where it is, what shape it has."""

    name: str = MISSING  # a registered dataset (ablate.data.registry): fashion_mnist | digits | folder | cifar10 | ...
    root: Optional[str] = option(None, identity=False)
    img_size: Any = option(MISSING, low=1)  # one number (square) or [height, width] (ablate.data.options.image_size)
    in_chans: int = option(MISSING, low=1)
    num_classes: Optional[int] = option(None, low=1)  # null: inferred from the data (an image folder's class folders)
    train_limit: Optional[int] = option(None, low=1)  # train on N images only (which ones: data.subset)
    val_limit: Optional[int] = option(None, low=1)  # evaluate on N images only, chosen the same way
    # Which N images a limit keeps. seed: a sample drawn from the run's seed, so the spread over seeds includes
    # the data split's (Bouthillier et al. 2021); fixed: the same images for every run (the first N in memory, a
    # fixed sample of files), what runs did before this option existed.
    subset: str = option("seed", neutral="fixed", applies=_limited)
    mean: list[float] = option([0.5])
    std: list[float] = option([0.5])
    # The fill of a canvas test and of padding to whole patches: a pixel value (0-255; one, or one per channel)
    # or "border" (each image's border median); null: the dataset's own (ablate.data.registry: 0 for
    # Fashion-MNIST and digits, "border" for image folders and CIFAR).
    background: Optional[Any] = option(None, neutral=None)


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

    epochs: int = option(MISSING, low=1)
    batch_size: int = option(MISSING, low=1)
    base_lr: float = option(5e-4, low=0, low_open=True)  # at batch 512: lr = base_lr * batch_size / 512
    min_lr: float = option(1e-5, low=0)
    warmup_lr: float = option(1e-6, low=0)
    warmup_epochs: float = option(5.0, low=0)
    weight_decay: float = option(0.05, low=0)
    decay_rpe: bool = False  # whether RPE lookup tables get weight decay
    decay_all: bool = False  # DETR's way: decay every parameter (biases, norms, embeddings, RPE tables too)
    lr_drop: Optional[int] = option(None, low=1)  # DETR's schedule: lr constant after warm-up, /10 from this epoch
    clip_grad: Optional[float] = option(None, low=0)
    smoothing: float = option(0.1, low=0, high=1)
    mixup: float = option(0.0, low=0)
    cutmix: float = option(0.0, low=0)
    randaug: Optional[str] = None  # timm RandAugment string, e.g. rand-m9-mstd0.5-inc1
    reprob: float = option(0.0, low=0, high=1)  # random erasing probability
    hflip: float = option(0.5, low=0, high=1)
    crop: str = "none"  # rrc (random resized crop) | pad (resize, then translate) | none (resize): ablate.data.augment
    crop_scale: list[float] = option([0.08, 1.0])  # rrc: the fraction of the image a crop covers
    crop_padding: int = option(0, low=0)  # pad: random translation by up to this many pixels
    # 0.0 kept out of the identity: every hash made before drop_path counted (records of schema <= 3) was made
    # without it, and runs without stochastic depth keep those hashes.
    drop_path: float = option(0.1, low=0, high=1, neutral=0.0)
    amp: bool = True  # mixed precision where the device supports it


@dataclass
class EvalSchema:
    """Evaluation: batch size, the view of an image (resized to img_size; centre-cropped only if asked), test
    resolutions and how their images are made."""

    batch_size: int = option(256, low=1)
    crop_pct: Optional[float] = option(None, low=0, high=1, low_open=True)  # null: resize, nothing cut; 0.875: ImageNet's
    resolutions: list[Any] = option([])  # after the last epoch, top-1 at each: 42 or [H, W]
    # How a test image of another size is made: upsample | canvas | crop, or a list (ablate.protocol)
    resolution_mode: Any = option("upsample", neutral="upsample")
    interpolation: str = option("bicubic", choices=INTERPOLATIONS)  # how images are resized for evaluation


@dataclass
class RuntimeSchema:
    """Where and how a run executes; not part of a run's identity."""

    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int = option(0, low=0)  # CPU threads for torch; 0 = all cores
    workers: int = option(2, low=0)  # data-loader processes for image folders
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
    seed: int = option(0, low=0)
    model: Any = MISSING
    pe: PESchema = option(PESchema)
    rpe: RPESchema = option(RPESchema)
    data: Any = MISSING
    train: TrainSchema = option(TrainSchema)
    eval: EvalSchema = option(EvalSchema)
    runtime: RuntimeSchema = option(RuntimeSchema, identity=False)
    logging: LoggingSchema = option(LoggingSchema, identity=False)


# The schemas a group may take (model and data are typed Any above: each option picks one by its defaults list).
ALTERNATIVES = {"model": (DeiTSchema, DETRSchema),
                "data": (ClassificationDataSchema, HFDataSchema, DetectionDataSchema)}


def _group_fields() -> Iterator[tuple[str, Field]]:
    for top in fields(Config):
        yield top.name, top
        kinds = ALTERNATIVES.get(top.name) or ((top.default_factory,) if top.default_factory is not NO_DEFAULT else ())
        for kind in kinds:
            for sub in fields(kind):
                yield f"{top.name}.{sub.name}", sub


@cache
def marks() -> dict[str, dict]:
    """Dotted key -> the marks of its field (empty where it has none), over every group's alternatives."""
    out: dict[str, dict] = {}
    for key, f in _group_fields():
        mine = dict(f.metadata)
        if out.setdefault(key, mine) != mine:
            raise TypeError(f"{key} is declared with different marks in two schemas of its group")
    return out


def is_identity(key: str) -> bool:
    """Whether a dotted config key (or a key below it) takes part in a run's identity."""
    parts = key.split(".")
    table = marks()
    return all(table.get(".".join(parts[:i]), {}).get("identity", True) for i in range(1, len(parts) + 1))


def neutral_values() -> dict[str, Any]:
    """Dotted key -> the value that does what runs did before the field existed (fields added since)."""
    return {key: m["neutral"] for key, m in marks().items() if "neutral" in m}


def applies_marks() -> dict[str, Callable[[dict], bool]]:
    """Dotted key -> whether the field does anything, given its group's values (fields that say)."""
    return {key: m["applies"] for key, m in marks().items() if "applies" in m}


def ranges() -> dict[str, Range]:
    """Dotted key -> the range its numbers must lie in."""
    return {key: m["range"] for key, m in marks().items() if "range" in m}


def choices() -> dict[str, tuple[str, ...]]:
    """Dotted key -> the values its string must be one of."""
    return {key: m["choices"] for key, m in marks().items() if "choices" in m}


def encoding_options() -> dict[str, tuple[str, ...]]:
    """pe option -> the position encodings that take it."""
    return {key.split(".", 1)[1]: m["encodings"] for key, m in marks().items() if "encodings" in m}


@cache
def register() -> None:
    """Put the schemas in Hydra's ConfigStore, once per process (storing converts each dataclass: 40 ms)."""
    from hydra.core.config_store import ConfigStore  # Hydra loads only for composition, not for the marks

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

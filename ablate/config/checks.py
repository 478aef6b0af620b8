"""Checks of a composed config that the schema's types cannot express, per task, before anything runs.

Each raises ValueError with one line naming the option and the fix. They read the registries (models,
datasets, RPE options) and never import torch: a sweep validates every job while it plans.
"""
import math
import re
from pathlib import Path
from typing import NamedTuple

from omegaconf import DictConfig, OmegaConf

from ablate.data.registry import check_dataset
from ablate.models.registry import check_model_name
from ablate.rpe.config import RPEConfig, flag_config

RPE_FIELDS = ("mode", "ratio", "shared_head", "rpe_on", "index")
DETR_POSITION_EMBEDDINGS = ("sine", "learned", "none")
DETR_OUTPUT_STRIDES = (8, 16, 32)
_RESNET = re.compile(r"^resnet(18|26|34|50|101|152|200)d?$")  # timm's ResNets that DETR's trunk can be


class Range(NamedTuple):
    """The values a numeric key may take: low <= value (low < value when low_open), value <= high."""

    key: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False


# Every numeric setting's range. A key the config lacks (a detection key in a classification run) is
# skipped, and null stays allowed where the schema allows it (data.train_limit=null: every image).
RANGES = (
    Range("seed", 0),
    Range("train.epochs", 1), Range("train.batch_size", 1),
    Range("train.base_lr", 0, low_open=True), Range("train.min_lr", 0), Range("train.warmup_lr", 0),
    Range("train.warmup_epochs", 0), Range("train.weight_decay", 0), Range("train.lr_drop", 1),
    Range("train.clip_grad", 0), Range("train.smoothing", 0, 1), Range("train.mixup", 0),
    Range("train.cutmix", 0), Range("train.reprob", 0, 1), Range("train.hflip", 0, 1),
    Range("train.crop_padding", 0), Range("train.drop_path", 0, 1),
    Range("eval.batch_size", 1), Range("eval.crop_pct", 0, 1, low_open=True),
    Range("data.train_limit", 1), Range("data.val_limit", 1), Range("data.img_size", 1), Range("data.in_chans", 1),
    Range("data.num_classes", 1), Range("data.max_size", 1), Range("data.crop_min", 1), Range("data.crop_max", 1),
    Range("data.eval_size", 1), Range("data.num_train", 1), Range("data.num_val", 1), Range("data.image_size", 1),
    Range("data.max_objects", 1), Range("data.min_object", 1), Range("data.max_object", 1),
    Range("rpe.ratio", 0, low_open=True),
    Range("model.backbone_lr_scale", 0), Range("model.backbone_width", 1), Range("model.hidden_dim", 1),
    Range("model.nheads", 1), Range("model.enc_layers", 0), Range("model.dec_layers", 1),
    Range("model.dim_feedforward", 1), Range("model.dropout", 0, 1), Range("model.num_queries", 1),
    Range("model.eos_coef", 0),
    Range("runtime.threads", 0), Range("runtime.workers", 0),
)


def _expected(bound: Range) -> str:
    parts = [] if bound.low is None else [f"{'>' if bound.low_open else '>='} {bound.low:g}"]
    parts += [] if bound.high is None else [f"<= {bound.high:g}"]
    return " and ".join(parts)


def check_ranges(cfg: DictConfig) -> None:
    """ValueError naming the first key outside its Range (NaN and infinities are outside every range)."""
    for bound in RANGES:
        value = OmegaConf.select(cfg, bound.key, default=None)
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        below = bound.low is not None and (value <= bound.low if bound.low_open else value < bound.low)
        above = bound.high is not None and value > bound.high
        if below or above or not math.isfinite(value):
            raise ValueError(f"{bound.key}={value} is out of range: expected {_expected(bound)}")


def rpe_config(rpe: DictConfig) -> RPEConfig | None:
    """The RPEConfig of an rpe config group (None for method none); ValueError for invalid combinations."""
    if rpe.method == "none":
        extra = [f"{k}={rpe[k]}" for k in RPE_FIELDS if rpe[k] is not None]
        if extra:
            raise ValueError(f"rpe.method=none takes no other rpe options (got {', '.join(extra)}); "
                             "pick an RPE first, e.g. rpe=irpe_k")
        return None
    missing = [k for k in RPE_FIELDS if rpe[k] is None]
    if missing:
        raise ValueError(f"rpe.method={rpe.method} needs rpe.{missing[0]} (start from an option such as rpe=irpe_k)")
    return RPEConfig(method=rpe.method, **{k: rpe[k] for k in RPE_FIELDS})


def detr_rpe(model: DictConfig, rpe: DictConfig) -> RPEConfig | None:
    """The encoder RPE: the authors' flag model.enc_rpe2d, or the rpe group; both at once is ambiguous."""
    from_group = rpe_config(rpe)
    from_flag = flag_config(model.enc_rpe2d)
    if from_flag is not None and from_group is not None:
        raise ValueError(f"model.enc_rpe2d={model.enc_rpe2d} and rpe.method={rpe.method} both set the encoder "
                         "RPE: use one (rpe=none with the flag)")
    return from_flag or from_group


def check_classification(cfg: DictConfig) -> None:
    """Ranges, model name, RPE combination, dataset files, batch size for mixup."""
    check_ranges(cfg)
    check_model_name(cfg.model.name)
    rpe_config(cfg.rpe)
    check_dataset(cfg.data, "classification")
    if (cfg.train.mixup > 0 or cfg.train.cutmix > 0) and cfg.train.batch_size % 2:
        raise ValueError(f"mixup/cutmix need an even train.batch_size (got {cfg.train.batch_size})")


def check_detection(cfg: DictConfig) -> None:
    """Ranges, DETR's RPE, position embedding and trunk; dataset files."""
    check_ranges(cfg)
    model = cfg.model
    detr_rpe(model, cfg.rpe)
    if model.position_embedding not in DETR_POSITION_EMBEDDINGS:
        raise ValueError(f"model.position_embedding={model.position_embedding!r}: expected one of "
                         f"{', '.join(DETR_POSITION_EMBEDDINGS)}")
    if not _RESNET.match(model.backbone):
        raise ValueError(f"model.backbone={model.backbone!r} is not a timm ResNet (e.g. resnet50, resnet18)")
    if model.output_stride not in DETR_OUTPUT_STRIDES:
        raise ValueError(f"model.output_stride={model.output_stride}: expected 8, 16 or 32")
    if model.backbone_from_scratch and model.backbone_weights is not None:
        raise ValueError("model.backbone_from_scratch=true and model.backbone_weights are contradictory: use one")
    weights = model.backbone_weights
    if weights is not None and not Path(weights).expanduser().is_file():
        raise ValueError(f"model.backbone_weights={weights} does not exist (for the composite proxy: "
                         f"ablate pretrain-backbone {weights})")
    check_dataset(cfg.data, "detection")

"""Checks of a composed config that the schema's types cannot express, per task, before anything runs.

Each raises ValueError with one line naming the option and the fix. They read the registries (models,
datasets, RPE options) and never import torch: a sweep validates every job while it plans.
"""
import re
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ablate.data.options import check_augment, image_size
from ablate.data.registry import DATASETS, check_dataset
from ablate.models.registry import MODELS, check_model_name
from ablate.attention.backends import CHOICES
from ablate.rpe.config import RPEConfig, flag_config
from ablate.config.schema import encoding_options, ranges
from ablate.pe.registry import ABSOLUTE, ENCODINGS
from ablate.protocol import MODES, POSITIONS, choices

RPE_FIELDS = ("mode", "ratio", "shared_head", "rpe_on", "index")
DETR_OUTPUT_STRIDES = (8, 16, 32)
_RESNET = re.compile(r"^resnet(18|26|34|50|101|152|200)d?$")  # timm's ResNets that DETR's trunk can be


def check_ranges(cfg: DictConfig) -> None:
    """ValueError naming the first key outside the range its schema field declares (ablate.config.schema); a key
    the config lacks (a detection key in a classification run) and null, where allowed, pass."""
    for key, bound in ranges().items():
        value = OmegaConf.select(cfg, key, default=None)
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not bound.holds(value):
            raise ValueError(f"{key}={value} is out of range: expected {bound.expected()}")


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


def pe_options(pe: DictConfig) -> dict:
    """The encoding options set in the pe group (null ones are left to the encoding's own defaults)."""
    return {key: pe[key] for key in encoding_options() if pe[key] is not None}


def check_pe(pe: DictConfig, family: str, rpe: RPEConfig | None, head_dim: int, depth: int) -> None:
    """The absolute encoding exists; the other one exists, fits this model, takes these options, combines with iRPE."""
    if pe.absolute not in ABSOLUTE:
        raise ValueError(f"pe.absolute={pe.absolute!r}: expected one of {', '.join(ABSOLUTE)}")
    if pe.name not in ENCODINGS:
        raise ValueError(f"pe.name={pe.name!r}: expected one of {', '.join(ENCODINGS)} (or pick pe=<name>)")
    spec = ENCODINGS[pe.name]
    if family not in spec.models:
        names = {"deit": "DeiT", "detr": "DETR"}
        raise ValueError(f"pe.name={pe.name} is not defined for {names[family]} (it is for "
                         f"{', '.join(names[m] for m in spec.models)}): choose another pe")
    takes = encoding_options()
    options = pe_options(pe)
    extra = sorted(key for key in options if pe.name not in takes[key])
    if extra:
        own = [f"pe.{key}" for key, names in takes.items() if pe.name in names]
        raise ValueError(f"pe.name={pe.name} takes no pe.{extra[0]} (it takes: {', '.join(own) or 'no options'})")
    if rpe is not None and not spec.with_irpe:
        raise ValueError(f"pe.name={pe.name} replaces iRPE: use it with rpe=none")
    if head_dim % spec.head_dim_multiple:
        raise ValueError(f"pe.name={pe.name} needs a head_dim divisible by {spec.head_dim_multiple}, this model's "
                         f"is {head_dim}: choose a model with other heads")
    if "positions" in options:
        choices(options["positions"], "pe.positions", POSITIONS)
    bad = [b for b in options.get("blocks") or [] if not 0 <= b < depth]
    if bad:
        raise ValueError(f"pe.blocks={list(options['blocks'])}: block {bad[0]} does not exist in a model of "
                         f"depth {depth}")


def check_backend(model: DictConfig) -> None:
    """model.attn_backend is auto or a registered backend."""
    if model.attn_backend not in CHOICES:
        raise ValueError(f"model.attn_backend={model.attn_backend!r}: expected one of {', '.join(CHOICES)}")


def check_resolutions(resolutions: list) -> None:
    """Each test resolution is a positive size or an [H, W] pair of them."""
    for size in resolutions:
        sizes = [size] if isinstance(size, int) else list(size) if OmegaConf.is_list(size) or isinstance(size, list) \
            else None
        if sizes is None or len(sizes) not in (1, 2) or not all(isinstance(s, int) and s > 0 for s in sizes):
            raise ValueError(f"eval.resolutions entry {size!r}: expected a positive size (42) or [H, W] ([28, 36])")


def _sizes(size) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[-1]))


def check_background(data: DictConfig) -> None:
    """data.background is null, "border", or pixel values 0-255 (one, or one per channel)."""
    value = data.background
    if value is None or value == "border":
        return
    values = [value] if isinstance(value, (int, float)) else list(value) if OmegaConf.is_list(value) else None
    if (values is None or len(values) not in (1, data.in_chans)
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 255 for v in values)):
        raise ValueError(f"data.background={value!r}: expected a pixel value 0-255 (one, or one per channel) or "
                         "border (each image's border median)")


def check_tests(cfg: DictConfig) -> None:
    """The tests at other resolutions: sizes, how their images are made (eval.resolution_mode, data.background; crop
    needs images stored larger than each size) and how encodings read positions there (pe.positions)."""
    check_resolutions(cfg.eval.resolutions)
    modes = choices(cfg.eval.resolution_mode, "eval.resolution_mode", MODES)
    check_background(cfg.data)
    if not cfg.eval.resolutions and (modes != [MODES[0]] or cfg.pe.positions is not None):
        raise ValueError("eval.resolution_mode and pe.positions say how tests at other sizes are made: give the "
                         "sizes too, e.g. eval.resolutions=[44,56]")
    trained = image_size(cfg.data.img_size)
    smaller = [s for s in cfg.eval.resolutions if any(a < b for a, b in zip(_sizes(s), trained))]
    if "canvas" in modes and smaller:
        raise ValueError(f"eval.resolution_mode=canvas places the {trained[0]}x{trained[1]} image on a larger field, "
                         f"but test size {smaller[0]} is smaller: test canvas at sizes >= data.img_size")
    stored = DATASETS[cfg.data.name].stored
    larger = [s for s in cfg.eval.resolutions if stored and any(a > b for a, b in zip(_sizes(s), stored))]
    if "crop" in modes and larger:
        raise ValueError(f"eval.resolution_mode=crop cuts each test image from a larger stored one, but "
                         f"{cfg.data.name} is stored at {stored[0]}x{stored[1]} (test size {larger[0]}): use "
                         "upsample or canvas, or a set stored larger (data=folder)")


def check_image_size(img_size, model_name: str) -> None:
    """data.img_size is one number or [H, W], each a multiple of the model's patch size."""
    height, width = image_size(img_size)
    patch = MODELS[model_name]["patch_size"]
    if height % patch or width % patch:
        raise ValueError(f"data.img_size={img_size} does not "
                         f"divide into {model_name}'s {patch}-pixel patches: use multiples of {patch}")


def check_classification(cfg: DictConfig) -> None:
    """Ranges, model name, position encodings, backend, test resolutions, dataset files, image size, augmentation
    and evaluation view, mixup batch."""
    check_ranges(cfg)
    check_model_name(cfg.model.name)
    arch = MODELS[cfg.model.name]
    check_pe(cfg.pe, "deit", rpe_config(cfg.rpe), arch["embed_dim"] // arch["num_heads"], arch["depth"])
    check_backend(cfg.model)
    check_dataset(cfg.data, "classification")
    check_tests(cfg)
    check_image_size(cfg.data.img_size, cfg.model.name)
    data, train = cfg.data, cfg.train
    if not len(data.mean) == len(data.std) == data.in_chans:
        raise ValueError(f"data.mean and data.std need one value per channel (data.in_chans={data.in_chans}), "
                         f"got {len(data.mean)} and {len(data.std)}")
    check_augment(train.crop, train.crop_scale, train.crop_padding)
    if (train.mixup > 0 or train.cutmix > 0) and train.batch_size % 2:
        raise ValueError(f"mixup/cutmix need an even train.batch_size (got {train.batch_size})")


def check_detection(cfg: DictConfig) -> None:
    """Ranges, DETR's position encodings, backend and trunk; dataset files."""
    check_ranges(cfg)
    model = cfg.model
    if model.hidden_dim % model.nheads:
        raise ValueError(f"model.hidden_dim={model.hidden_dim} is not divisible by model.nheads={model.nheads}")
    check_pe(cfg.pe, "detr", detr_rpe(model, cfg.rpe), model.hidden_dim // model.nheads, model.enc_layers)
    check_backend(model)
    if cfg.eval.resolutions:
        raise ValueError("eval.resolutions is for classification: DETR is evaluated at data.eval_size")
    if cfg.pe.positions is not None or cfg.eval.resolution_mode != MODES[0]:
        raise ValueError("eval.resolution_mode and pe.positions shape tests at other sizes, which DETR does not take "
                         "(it is evaluated at data.eval_size): leave them unset")
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

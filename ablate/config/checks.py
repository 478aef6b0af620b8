"""Checks of a composed config that the schema's types cannot express, per task, before anything runs.

Each raises ValueError with one line naming the option and the fix. They read the registries (models,
datasets, RPE options) and never import torch: a sweep validates every job while it plans.
"""
import importlib.util
import re
from functools import cache
from pathlib import Path
from types import ModuleType

from omegaconf import DictConfig, OmegaConf

from ablate.data.options import check_augment, image_size
from ablate.data.registry import DATASETS, check_dataset, train_images
from ablate.models.registry import MODELS, check_model_name
from ablate.attention.backends import CHOICES
from ablate.rpe.config import RPEConfig, flag_config
from ablate.config.schema import choices, encoding_options, marks, ranges
from ablate.pe.registry import ABSOLUTE, ENCODINGS
from ablate.protocol import MODES, POSITIONS, listed
from ablate.suggest import did_you_mean

RPE_FIELDS = ("mode", "ratio", "shared_head", "rpe_on", "index")
DETR_OUTPUT_STRIDES = (8, 16, 32)
_RESNET = re.compile(r"^resnet(18|26|34|50|101|152|200)d?$")  # timm's ResNets that DETR's trunk can be
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")  # runtime.device: what ablate.engine.runner.pick_device takes


def check_ranges(cfg: DictConfig) -> None:
    """ValueError naming the first key outside the range its schema field declares (ablate.config.schema); a key
    the config lacks (a detection key in a classification run) and null, where allowed, pass."""
    for key, bound in ranges().items():
        value = OmegaConf.select(cfg, key, default=None)
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not bound.holds(value):
            raise ValueError(f"{key}={value} is out of range: expected {bound.expected()}")


def check_choices(cfg: DictConfig) -> None:
    """ValueError naming the first key whose value is not one of the choices its schema field declares."""
    for key, allowed in choices().items():
        value = OmegaConf.select(cfg, key, default=None)
        if value is not None and value not in allowed:
            hint = did_you_mean(str(value), allowed)
            raise ValueError(f"{key}={value!r}{hint}: expected one of {', '.join(allowed)}")


def unknown_key(key: str) -> str:
    """The refusal of a key no schema has, with the keys it most likely meant: within its group when the group
    exists (train.epoch: train.epochs), else among every key (trian.epochs: train.epochs)."""
    known = list(marks())
    group, _, leaf = key.rpartition(".")
    siblings = [k.rpartition(".")[2] for k in known if k.rpartition(".")[0] == group]
    if (not group or group in known) and siblings:
        hint = did_you_mean(leaf, siblings, f"{group}.{{}}" if group else "{}")
        return f"unknown key {key}" + (hint or f" ({group or 'the config'} has {', '.join(dict.fromkeys(siblings))})")
    return f"unknown key {key}{did_you_mean(key, known)}"


def check_keys(cfg: DictConfig) -> None:
    """ValueError for a key no schema declares (added with +key=value): nothing would read it."""
    known = marks()
    for group, node in cfg.items():
        if group not in known:
            child = next(iter(node), None) if isinstance(node, DictConfig) else None
            added = group if child is None else f"{group}.{child}"
        elif isinstance(node, DictConfig):
            added = next((f"{group}.{key}" for key in node if f"{group}.{key}" not in known), None)
        else:
            added = None
        if added is not None:
            raise ValueError(f"{unknown_key(added)}: it was added (+{added}=...) but nothing reads it")


def check_device_name(device: str, key: str = "runtime.device") -> None:
    """A device (runtime.device, or the option `key`) is auto, cpu, cuda or cuda:N; whether this machine has it is
    asked where the run goes (ablate.engine.resources.check_device_present)."""
    if not _DEVICE.match(str(device)):
        raise ValueError(f"{key}={device!r}: expected auto, cpu, cuda or cuda:N")


@cache
def _timm_auto_augment() -> ModuleType:
    """timm's RandAugment module, loaded from its file alone: it needs PIL and numpy, while the package would bring
    torch into the planning process."""
    timm = importlib.util.find_spec("timm")  # finds the package without importing it
    spec = importlib.util.spec_from_file_location("ablate_timm_auto_augment",
                                                  Path(timm.origin).parent / "data" / "auto_augment.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_randaug(config: str | None) -> None:
    """train.randaug is a RandAugment string timm's own parser reads (it asserts with no message otherwise)."""
    if config is None:
        return
    try:
        _timm_auto_augment().rand_augment_transform(str(config), {"translate_const": 100, "img_mean": (128, 128, 128)})
    except Exception as e:  # timm's parser raises bare AssertionErrors, ValueErrors and KeyErrors
        why = f" ({e})" if str(e) else ""
        raise ValueError(f"train.randaug={config!r} is not a RandAugment string timm reads{why}: expected rand- then "
                         "sections m<magnitude>, n<ops>, mstd<std>, inc<0 or 1>, p<prob>, e.g. rand-m9-mstd0.5-inc1")


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
        listed(options["positions"], "pe.positions", POSITIONS)
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
    modes = listed(cfg.eval.resolution_mode, "eval.resolution_mode", MODES)
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


def check_common(cfg: DictConfig) -> None:
    """What every task's config must pass: known keys, ranges, choices, a device name."""
    check_keys(cfg)
    check_ranges(cfg)
    check_choices(cfg)
    check_device_name(cfg.runtime.device)


def check_classification(cfg: DictConfig) -> None:
    """Keys, ranges, choices, device, model name, position encodings, backend, test resolutions, dataset files, image
    size, augmentation and evaluation view, batches."""
    check_common(cfg)
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
    check_randaug(train.randaug)
    if (train.mixup > 0 or train.cutmix > 0) and train.batch_size % 2:
        raise ValueError(f"mixup/cutmix need an even train.batch_size (got {train.batch_size})")
    images = train_images(data)
    if images is not None and train.batch_size > images:
        raise ValueError(f"train.batch_size={train.batch_size} is larger than the {images} training images "
                         f"({'data.train_limit' if images == data.train_limit else data.name}): an epoch would have no "
                         "full batch; lower train.batch_size")


def check_detection(cfg: DictConfig) -> None:
    """Keys, ranges, choices, device, DETR's position encodings, backend and trunk; dataset files."""
    check_common(cfg)
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

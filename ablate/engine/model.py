"""Build a registered timm model (ablate.models) from the model and rpe config groups."""
import timm
import torch
from omegaconf import DictConfig

import ablate.models  # noqa: F401  (registers the DeiT/iRPE models with timm)
from ablate.rpe import RPEConfig

_RPE_FIELDS = ("mode", "ratio", "shared_head", "rpe_on", "index")


def rpe_config(rpe: DictConfig) -> RPEConfig | None:
    """The RPEConfig of an rpe config group (None for method none); ValueError for invalid combinations."""
    if rpe.method == "none":
        extra = [f"{k}={rpe[k]}" for k in _RPE_FIELDS if rpe[k] is not None]
        if extra:
            raise ValueError(f"rpe.method=none takes no other rpe options (got {', '.join(extra)}); "
                             "pick an RPE first, e.g. rpe=irpe_k")
        return None
    missing = [k for k in _RPE_FIELDS if rpe[k] is None]
    if missing:
        raise ValueError(f"rpe.method={rpe.method} needs rpe.{missing[0]} (start from an option such as rpe=irpe_k)")
    return RPEConfig(method=rpe.method, **{k: rpe[k] for k in _RPE_FIELDS})


def check_model(model: DictConfig, rpe: DictConfig) -> None:
    """Raise ValueError if the model name is not registered or the RPE combination is invalid."""
    if not timm.is_model(model.name):
        known = ", ".join(n for n in timm.list_models("deit_*") if n.endswith(("_rpe", "_28")))
        raise ValueError(f"unknown model model.name={model.name!r} (known: {known})")
    rpe_config(rpe)


def build_model(model: DictConfig, rpe: DictConfig, num_classes: int, in_chans: int, img_size: int,
                drop_path: float) -> torch.nn.Module:
    """timm.create_model with the iRPE keyword arguments of ablate.models.

    With rpe method none the rpe argument is left out, so an official name keeps its built-in iRPE.
    """
    config = rpe_config(rpe)
    extra = {"rpe": config} if config is not None else {}
    return timm.create_model(model.name, num_classes=num_classes, in_chans=in_chans, img_size=img_size,
                             drop_path_rate=drop_path, abs_pos=model.abs_pos, attn_backend=model.attn_backend,
                             baseline=model.baseline,
                             **extra)

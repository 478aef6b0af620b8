"""Build a registered timm model (ablate.models.deit) from the model, pe and rpe config groups."""
from collections.abc import Sequence

import timm
import torch
from omegaconf import DictConfig

import ablate.models.deit  # noqa: F401  (registers the DeiT/iRPE models with timm)
from ablate.config.checks import pe_options, rpe_config
from ablate.data.options import image_size
from ablate.protocol import POSITIONS, listed


def build_model(model: DictConfig, pe: DictConfig, rpe: DictConfig, num_classes: int, in_chans: int,
                img_size: int | Sequence[int], drop_path: float) -> torch.nn.Module:
    """timm.create_model with the position-encoding keyword arguments of ablate.models.deit, for images of
    img_size (one number, or (H, W): the patch grid and a learned position embedding take that shape).

    With rpe method none the rpe argument is left out, so an official name keeps its built-in iRPE. A list of
    pe.positions is a list of tests (ablate.protocol): the model reads the first unless a test says otherwise.
    """
    if num_classes is None:
        raise ValueError("data.num_classes is not set: give the class count the model's head needs, data.num_classes=N")
    config = rpe_config(rpe)
    extra = {"rpe": config} if config is not None else {}
    options = pe_options(pe)
    if "positions" in options:
        options["positions"] = listed(options["positions"], "pe.positions", POSITIONS)[0]
    return timm.create_model(model.name, num_classes=num_classes, in_chans=in_chans, img_size=image_size(img_size),
                             drop_path_rate=drop_path, abs_pos=pe.absolute, pe=pe.name, pe_options=options,
                             attn_backend=model.attn_backend, **extra)

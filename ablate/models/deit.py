"""DeiT with iRPE as timm models: timm's VisionTransformer with RPEAttention in every block.

After `import ablate`, `timm.create_model(name, **kwargs)` builds:
- the official names deit_{tiny,small,base}_patch16_224_ctx_{product_50,...}_shared_{k,qk,qkv},
  whose state dicts are the authors' (learned position embedding and class token kept);
- deit_{tiny,small,base}_patch16_224_rpe, taking any `rpe` (an RPEConfig, a suffix string, or None);
- CPU-sized 28x28 variants deit_{pico,micro,nano}_patch4_28 (grey, 10 classes, 7x7 grid).
Every name takes rpe=, abs_pos= (learned | sincos | none), attn_backend= (see ablate.rpe.BACKENDS) and
baseline= (one of ablate.rpe.baselines.BASELINES: the paper's Table 5 RPEs, instead of iRPE).
"""
import sys

import torch
from timm.models import VisionTransformer, register_model
from torch import Tensor, nn

from ablate.models.registry import MODELS
from ablate.rpe import RPEAttention, RPEConfig
from ablate.rpe.abs_pos import ABS_POS, sincos_2d
from ablate.rpe.baselines import baseline_attention

class RPEVisionTransformer(VisionTransformer):
    """timm's ViT whose attention layers get the true patch grid (H, W) of every input."""

    def __init__(self, *, rpe: RPEConfig | str | None = None, abs_pos: str = "learned",
                 attn_backend: str = "auto", baseline: str | None = None, **kwargs: object) -> None:
        if abs_pos not in ABS_POS:
            raise ValueError(f"invalid abs_pos={abs_pos!r}: expected one of {', '.join(ABS_POS)}")
        if isinstance(rpe, str):
            rpe = RPEConfig.from_suffix(rpe)
        prefix = int(kwargs.get("class_token", True)) + int(kwargs.get("reg_tokens", 0) or 0)
        rpe = rpe.replace(skip=prefix) if rpe is not None else None
        if baseline is not None and rpe is not None:
            raise ValueError(f"baseline={baseline!r} replaces iRPE: pass rpe=None with a baseline RPE")
        kwargs.setdefault("dynamic_img_size", True)
        attn_layer = (baseline_attention(baseline, skip=prefix) if baseline is not None
                      else RPEAttention.configured(rpe, attn_backend))
        super().__init__(attn_layer=attn_layer,
                         pos_embed="learn" if abs_pos == "learned" else "none", **kwargs)
        self.rpe, self.abs_pos, self.baseline = rpe, abs_pos, baseline
        self.patch_embed.register_forward_pre_hook(self._set_grid)
        if abs_pos == "sincos":
            self.patch_embed.register_forward_hook(self._add_sincos)

    def grid(self, image: Tensor) -> tuple[int, int]:
        """The patch grid (H, W) of an image batch: the true one, never a square-root guess."""
        return tuple(self.patch_embed.dynamic_feat_size(tuple(image.shape[-2:])))

    def _set_grid(self, module: nn.Module, args: tuple[Tensor, ...]) -> None:
        grid = self.grid(args[0])
        for block in self.blocks:
            block.attn.grid = grid

    def _add_sincos(self, module: nn.Module, args: tuple[Tensor, ...], tokens: Tensor) -> Tensor:
        height, width = self.grid(args[0])
        pos = sincos_2d(height, width, tokens.shape[-1]).to(tokens)
        return tokens + pos.reshape(tokens.shape[1:]) if tokens.ndim == 4 else tokens + pos


def _create(variant: str, arch: dict, pretrained: bool, **kwargs: object) -> RPEVisionTransformer:
    if pretrained:
        raise ValueError(f"{variant}: weights are never downloaded; build with pretrained=False and load "
                         "the authors' checkpoint file (ablate eval --checkpoint FILE)")
    for key in ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir"):
        kwargs.pop(key, None)
    return RPEVisionTransformer(**{**arch, **kwargs})


def _register(name: str, arch: dict) -> None:
    """Register a timm entrypoint called `name` in this module."""
    def entrypoint(pretrained: bool = False, **kwargs: object) -> RPEVisionTransformer:
        return _create(name, arch, pretrained, **kwargs)
    entrypoint.__name__ = entrypoint.__qualname__ = name
    entrypoint.__module__ = __name__
    entrypoint.__doc__ = f"{name}: DeiT with iRPE ({arch})."
    setattr(sys.modules[__name__], name, register_model(entrypoint))


for _name, _arch in MODELS.items():
    _register(_name, _arch)

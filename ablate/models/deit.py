"""Our DeiTs as timm models: every name of ablate.models.registry registered with timm, with a pretrained config,
and built by timm's build_model_with_cfg (so pretrained_cfg, features_only and feature_info are timm's).

After `import ablate`, `timm.create_model(name, **kwargs)` builds:
- the official names deit_{tiny,small,base}_patch16_224_ctx_{product_50,...}_shared_{k,qk,qkv},
  whose state dicts are the authors' (learned position embedding and class token kept);
- deit_{tiny,small,base}_patch16_224_rpe, taking any `rpe` (an RPEConfig, a suffix string, or None);
- CPU-sized 28x28 variants deit_{pico,micro,nano}_patch4_28 (grey, 10 classes, 7x7 grid).
Every name takes rpe=, abs_pos= (learned | sincos | none), pe= (a name of ablate.pe.registry: RoPE, bias
tables, ALiBi, PEG, the paper's Table 5 baselines) with pe_options=, and attn_backend= (ablate.attention.backends).

Weights are never downloaded (no url, hf_hub_id left empty): `pretrained=True` needs a local checkpoint,
`pretrained_cfg_overlay=dict(file=PATH)`, the authors' .pth or ours, loaded strictly (ablate.models.weights).
"""
import sys
from pathlib import Path

from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model, resolve_pretrained_cfg
from torch import nn

# vit as a module, not its class: importing vit first imports timm, whose import (ablate/__init__.py) imports
# this module before vit has finished.
from ablate.models import vit
from ablate.models.registry import MODELS
from ablate.models.weights import checkpoint_filter, checkpoint_state

IRPE_PAPER = "Rethinking and Improving Relative Position Encoding for Vision Transformer"
IRPE_CODE = "https://github.com/microsoft/Cream/tree/main/iRPE/DeiT-with-iRPE"
DEIT_PAPER_ID, IRPE_PAPER_ID = "arXiv:2012.12877", "arXiv:2107.14222"
RELEASES = "https://github.com/wkcn/iRPE-model-zoo/releases/download/1.0"
RELEASED = {f"deit_{size}_patch16_224_ctx_product_50_shared_{sites}"  # the authors' released checkpoints
            for size, sites in (("tiny", "k"), ("small", "k"), ("small", "qk"), ("small", "qkv"), ("base", "k"),
                                ("base", "qkv"))}
FASHION_MEAN, FASHION_STD = (0.286,), (0.353,)  # conf/data/fashion_mnist.yaml: the CPU models' data


def _cfg(name: str, arch: dict) -> dict:
    """The pretrained config of a name: the authors' ImageNet protocol (resize 256, centre-crop 224, bicubic) for
    the 224-pixel models, Fashion-MNIST's for the 28-pixel ones; never a download location."""
    small = arch["img_size"] == 28
    if "rpe" in arch:
        about = dict(paper_name=IRPE_PAPER, paper_ids=IRPE_PAPER_ID,
                     notes=(f"the authors' checkpoint: {RELEASES}/{name}.pth" if name in RELEASED
                            else "the authors released no checkpoint for this name",
                            "load a local checkpoint: pretrained=True, pretrained_cfg_overlay=dict(file=PATH)"))
    else:
        about = dict(paper_name=f"DeiT, to which ablate adds any iRPE ({IRPE_PAPER})",
                     paper_ids=(DEIT_PAPER_ID, IRPE_PAPER_ID),
                     notes=("no released weights: load your own with pretrained=True, "
                            "pretrained_cfg_overlay=dict(file=PATH)",))
    return dict(url="", hf_hub_id="", num_classes=arch.get("num_classes", 1000),
                input_size=(arch.get("in_chans", 3), arch["img_size"], arch["img_size"]), pool_size=None,
                crop_pct=1.0 if small else 0.875, interpolation="bicubic", fixed_input_size=False,
                mean=FASHION_MEAN if small else IMAGENET_DEFAULT_MEAN,
                std=FASHION_STD if small else IMAGENET_DEFAULT_STD,
                first_conv="patch_embed.proj", classifier="head", license="apache-2.0", origin_url=IRPE_CODE,
                **about)


default_cfgs = generate_default_cfgs({name: _cfg(name, arch) for name, arch in MODELS.items()})


def _create(variant: str, arch: dict, pretrained: bool, **kwargs: object) -> nn.Module:
    """build_model_with_cfg with our checkpoint filter; a local file is read here (clear errors, the "model" key
    of the authors' files) and handed to timm as the state dict it loads."""
    overlay = dict(kwargs.pop("pretrained_cfg_overlay", None) or {})
    read_here = False
    if pretrained:
        cfg = resolve_pretrained_cfg(variant, kwargs.get("pretrained_cfg"), overlay)
        if cfg.state_dict is None and not cfg.file:
            raise ValueError(f"{variant}: weights are never downloaded: pass pretrained_cfg_overlay=dict(file=PATH) "
                             "(the authors' .pth or ours), or build with pretrained=False")
        if cfg.state_dict is None:
            overlay["state_dict"] = checkpoint_state(Path(cfg.file))
            read_here = True
    model = build_model_with_cfg(vit.RPEVisionTransformer, variant, pretrained, pretrained_cfg_overlay=overlay,
                                 pretrained_filter_fn=checkpoint_filter,
                                 feature_cfg=dict(out_indices=kwargs.pop("out_indices", 3), feature_cls="getter"),
                                 **{**arch, **kwargs})
    if read_here:  # the weights are in the model; its config keeps where they came from (file)
        for module in model.modules():
            getattr(module, "pretrained_cfg", {}).pop("state_dict", None)
    return model


def _register(name: str, arch: dict) -> None:
    """Register a timm entrypoint called `name` in this module."""
    def entrypoint(pretrained: bool = False, **kwargs: object) -> nn.Module:
        return _create(name, arch, pretrained, **kwargs)
    entrypoint.__name__ = entrypoint.__qualname__ = name
    entrypoint.__module__ = __name__
    entrypoint.__doc__ = f"{name}: DeiT with iRPE ({arch})."
    setattr(sys.modules[__name__], name, register_model(entrypoint))


for _name, _arch in MODELS.items():
    _register(_name, _arch)

"""DeiT with position encodings as timm models: timm's VisionTransformer with RPEAttention in every block.

After `import ablate`, `timm.create_model(name, **kwargs)` builds every name in ablate.models.registry:
- the official names deit_{tiny,small,base}_patch16_224_ctx_{product_50,...}_shared_{k,qk,qkv},
  whose state dicts are the authors' (learned position embedding and class token kept);
- deit_{tiny,small,base}_patch16_224_rpe, taking any `rpe` (an RPEConfig, a suffix string, or None);
- CPU-sized 28x28 variants deit_{pico,micro,nano}_patch4_28 (grey, 10 classes, 7x7 grid).
Every name takes rpe=, abs_pos= (learned | sincos | none), pe= (a name of ablate.pe.registry: RoPE, bias
tables, ALiBi, PEG, the paper's Table 5 baselines) with pe_options=, and attn_backend= (ablate.attention.backends).
"""
import sys

from timm.models import VisionTransformer, register_model
from torch import Tensor, nn

from ablate.models.registry import MODELS
from ablate.attention.layer import RPEAttention
from ablate.rpe.config import RPEConfig
from ablate.pe.absolute import sincos_2d
from ablate.pe.interface import Grid, no_weight_decay
from ablate.pe.registry import ABSOLUTE, ENCODINGS, build_encoding


class RPEVisionTransformer(VisionTransformer):
    """timm's ViT whose attention layers get the true patch grid (H, W) of every input, with iRPE and one
    other position encoding in every layer (and its token mixers between blocks)."""

    def __init__(self, *, rpe: RPEConfig | str | None = None, abs_pos: str = "learned", pe: str = "none",
                 pe_options: dict | None = None, attn_backend: str = "auto", **kwargs: object) -> None:
        if abs_pos not in ABSOLUTE:
            raise ValueError(f"invalid abs_pos={abs_pos!r}: expected one of {', '.join(ABSOLUTE)}")
        if isinstance(rpe, str):
            rpe = RPEConfig.from_suffix(rpe)
        prefix = int(kwargs.get("class_token", True)) + int(kwargs.get("reg_tokens", 0) or 0)
        rpe = rpe.replace(prefix=prefix) if rpe is not None else None
        if rpe is not None and not ENCODINGS[pe].with_irpe:
            raise ValueError(f"pe={pe!r} replaces iRPE: pass rpe=None with it")
        # Any input size: the grid follows the image, padded at the bottom and right to whole patches.
        kwargs.setdefault("dynamic_img_size", True)
        kwargs.setdefault("dynamic_img_pad", True)
        super().__init__(attn_layer=RPEAttention.configured(rpe, attn_backend),
                         pos_embed="learn" if abs_pos == "learned" else "none", **kwargs)
        self.rpe, self.abs_pos, self.pe = rpe, abs_pos, pe
        self.num_prefix = prefix
        self.current_grid: Grid | None = None
        encoding = build_encoding(pe, self.embed_dim, self.blocks[0].attn.num_heads, len(self.blocks), prefix,
                                  tuple(self.patch_embed.grid_size), pe_options)
        for name, module in encoding.modules.items():
            self.add_module(name, module)
        for block, layer in zip(self.blocks, encoding.layers):
            if layer is not None:
                block.attn.set_encoding(layer)
        # Token mixers act between blocks: after block i, through a forward hook, so the blocks (and the
        # checkpoint keys of every official model) stay timm's.
        self.pos_block = nn.ModuleDict({str(i): mixer for i, mixer in encoding.mixers.items()})
        for i, mixer in encoding.mixers.items():
            self.blocks[i].register_forward_hook(lambda module, args, out, mixer=mixer: mixer(out, self.current_grid))
        self.patch_embed.register_forward_pre_hook(self._set_grid)
        if abs_pos == "sincos":
            self.patch_embed.register_forward_hook(self._add_sincos)

    def no_weight_decay(self) -> set[str]:
        """timm's (position embedding, tokens), and what each encoding's reference keeps out of weight decay."""
        return set(super().no_weight_decay()) | no_weight_decay(self)

    def grid(self, image: Tensor) -> tuple[int, int]:
        """The patch grid (H, W) of an image batch: the true one, never a square-root guess."""
        return tuple(self.patch_embed.dynamic_feat_size(tuple(image.shape[-2:])))

    def _set_grid(self, module: nn.Module, args: tuple[Tensor, ...]) -> None:
        grid = self.grid(args[0])
        self.current_grid = Grid(*grid, self.num_prefix)
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

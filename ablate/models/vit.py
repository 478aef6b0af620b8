"""DeiT with position encodings: timm's VisionTransformer whose blocks are given the patch grid of every input.

The model computes the grid (H x W patches after padding to whole patches, after its prefix tokens) from the
patch embedding and passes it down as data: to every block, to its attention layer and to the token mixers
between blocks. No hooks and no state, so the model runs under TorchScript and torch.fx (the attention layers
and token mixers are timm's notrace modules: leaves of the graph) like timm's own ViT. The modules keep timm's
names, so checkpoint keys are timm's (and the authors').
"""
import torch
import torch.fx
from timm.layers import register_notrace_module
from timm.models import VisionTransformer, checkpoint
from timm.models._features import feature_take_indices
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from ablate.attention.layer import RPEAttention
from ablate.pe.absolute import sincos_2d
from ablate.pe.interface import Grid, TokenMixer, no_weight_decay
from ablate.pe.registry import ABSOLUTE, ENCODINGS, build_encoding
from ablate.rpe.config import RPEConfig

# torch.fx leaves (timm's notrace modules): their checks, bucket maps and token layouts need the grid's sizes.
register_notrace_module(RPEAttention)
register_notrace_module(TokenMixer)
_sincos_uncached = sincos_2d.__wrapped__  # what a scripted model computes (TorchScript has no lru_cache)


@torch.fx.wrap  # torch.fx: a call in the graph, as the table depends on the grid's sizes
def add_sincos(tokens: Tensor, height: int, width: int) -> Tensor:
    """Patch tokens, (B, H, W, dim) or (B, H*W, dim), plus the fixed 2D sinusoid of their H x W grid."""
    if torch.jit.is_scripting():
        pos = _sincos_uncached(height, width, tokens.shape[-1])
    else:
        pos = sincos_2d(height, width, tokens.shape[-1])
    pos = pos.to(tokens)
    return tokens + pos.reshape(tokens.shape[1:]) if tokens.ndim == 4 else tokens + pos


@torch.fx.wrap  # torch.fx: a call in the graph, checked when it runs (while tracing both are placeholders)
def _no_mask(attn_mask: Tensor | None, is_causal: bool) -> None:
    if attn_mask is not None or is_causal:
        raise ValueError("RPEVisionTransformer takes no attn_mask/is_causal: every token attends to every token")


class RPEBlock(Block):
    """timm's Block (the same modules, so the same keys) whose attention is given the grid."""

    def forward(self, x: Tensor, grid: Grid) -> Tensor:
        """(B, L, dim) tokens on grid -> (B, L, dim)."""
        x = x + self.drop_path1(self.ls1(self.attn(self.norm1(x), grid)))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))


class RPEVisionTransformer(VisionTransformer):
    """timm's ViT with iRPE and one other position encoding in every attention layer (and its token mixers
    between blocks), each given the true patch grid of the input, never a square-root guess."""

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
        super().__init__(attn_layer=RPEAttention.configured(rpe, attn_backend), block_fn=RPEBlock,
                         pos_embed="learn" if abs_pos == "learned" else "none", **kwargs)
        # The blocks take (tokens, grid), which nn.Sequential cannot pass along (and TorchScript compiles its forward).
        self.blocks = nn.ModuleList(self.blocks)
        self.rpe, self.abs_pos, self.pe = rpe, abs_pos, pe
        encoding = build_encoding(pe, self.embed_dim, self.blocks[0].attn.num_heads, len(self.blocks), prefix,
                                  tuple(self.patch_embed.grid_size), pe_options)
        for name, module in encoding.modules.items():
            self.add_module(name, module)
        for block, layer in zip(self.blocks, encoding.layers):
            if layer is not None:
                block.attn.set_encoding(layer)
        # Token mixers act between blocks, after the block each is keyed by (pos_block.<i>).
        self.pos_block = nn.ModuleDict({str(i): mixer for i, mixer in encoding.mixers.items()})

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        """timm's (position embedding, tokens), and what each encoding's reference keeps out of weight decay."""
        return set(super().no_weight_decay()) | no_weight_decay(self)

    def embed(self, x: Tensor) -> tuple[Tensor, Grid]:
        """Images -> the tokens the blocks take (prefix tokens, then patches, absolute encoding added) and their
        grid."""
        x = self.patch_embed(x)
        if self.dynamic_img_size:  # (B, H, W, dim): this input's grid
            grid = Grid(x.shape[1], x.shape[2], self.num_prefix_tokens)
        else:
            grid = Grid(self.patch_embed.grid_size[0], self.patch_embed.grid_size[1], self.num_prefix_tokens)
        if self.abs_pos == "sincos":
            x = add_sincos(x, grid.height, grid.width)
        x = self._pos_embed(x)
        return self.norm_pre(self.patch_drop(x)), grid

    def mix(self, index: int, x: Tensor, grid: Grid) -> Tensor:
        """The tokens after block `index`, through the token mixer keyed by it if there is one."""
        for key, mixer in self.pos_block.items():
            if key == str(index):
                x = mixer(x, grid)
        return x

    def forward_features(self, x: Tensor, attn_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        """Images -> (B, L, dim) normalised tokens."""
        _no_mask(attn_mask, is_causal)
        x, grid = self.embed(x)
        for i, block in enumerate(self.blocks):
            if self.grad_checkpointing and not torch.jit.is_scripting():
                x = checkpoint(block, x, grid)
            else:
                x = block(x, grid)
            x = self.mix(i, x, grid)
        return self.norm(x)

    def forward_intermediates(self, x: Tensor, indices: int | list[int] | None = None,
                              return_prefix_tokens: bool = False, norm: bool = False, stop_early: bool = False,
                              output_fmt: str = "NCHW", intermediates_only: bool = False, output_dict: bool = False,
                              attn_mask: Tensor | None = None, is_causal: bool = False
                              ) -> list | tuple[Tensor, list] | dict:
        """timm's VisionTransformer.forward_intermediates, the same arguments and outputs (for features_only): the
        tokens after the blocks of `indices` (the last n for an int), NCHW on the patch grid or NLC."""
        if output_fmt not in ("NCHW", "NLC"):
            raise ValueError(f"invalid output_fmt={output_fmt!r}: expected NCHW or NLC")
        _no_mask(attn_mask, is_causal)
        take_indices, max_index = feature_take_indices(len(self.blocks), indices)
        x, grid = self.embed(x)
        intermediates = []
        for i, block in enumerate(self.blocks[:max_index + 1] if stop_early else self.blocks):
            x = checkpoint(block, x, grid) if self.grad_checkpointing else block(x, grid)
            x = self.mix(i, x, grid)
            if i in take_indices:
                intermediates.append(self.norm(x) if norm else x)
        prefix = self.num_prefix_tokens
        prefix_tokens = [y[:, :prefix] for y in intermediates] if prefix else None
        intermediates = [y[:, prefix:] for y in intermediates]
        if output_fmt == "NCHW":
            intermediates = [y.reshape(y.shape[0], grid.height, grid.width, -1).permute(0, 3, 1, 2).contiguous()
                             for y in intermediates]
        if output_dict:
            result = {"image_intermediates": intermediates}
            if return_prefix_tokens and prefix_tokens is not None:
                result["image_intermediates_prefix"] = prefix_tokens
            if not intermediates_only:
                result["image_features"] = self.norm(x)
            return result
        if return_prefix_tokens and prefix_tokens is not None:
            intermediates = list(zip(intermediates, prefix_tokens))
        return intermediates if intermediates_only else (self.norm(x), intermediates)

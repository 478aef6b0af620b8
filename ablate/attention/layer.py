"""Multi-head self-attention with position encodings, behind interchangeable backends.

Every encoding acts through ablate.pe.interface.AttentionEncoding: the attention gathers the logit and
output terms of its encodings from q and k as projected, rotates q and k with any rotary encoding, and
hands the rest to a backend (ablate.attention.backends). Logit terms see q and k before rotation, so a relative
term stays relative when combined with RoPE. Encodings run in a fixed order: iRPE on K, Q, V, then the
layer's other encoding (`pe`).

RPEAttention compiles under TorchScript with the eager and SDPA backends.
"""
from collections.abc import Iterable

import torch
from torch import Tensor, nn

from ablate.attention.backends import AUTO, CHOICES, attention_function, eager, load, resolve, sdpa
from ablate.rpe.config import RPEConfig
from ablate.pe.interface import AttentionEncoding, Grid, check_length
from ablate.pe.terms import BucketLogits, BucketValues
from ablate.rpe.lookup import build_rpe, site_parts

# The backends TorchScript compiles: triton launches its kernels from Python, flex needs torch.compile.
SCRIPTABLE = ("eager", "sdpa")


def attend(q: Tensor, k: Tensor, v: Tensor, encodings: Iterable[AttentionEncoding], grid: Grid | None,
           key_padding_mask: Tensor | None = None, dropout_p: float = 0.0, backend: str = "auto") -> Tensor:
    """Attention of unscaled (B, heads, L, head_dim) q, k, v with what each encoding contributes."""
    encodings = list(encodings)
    if encodings and grid is None:
        raise ValueError("position encodings need the grid: pass height and width")
    if grid is not None:
        grid.check(q.shape[-2])
    logits = [term for e in encodings for term in e.logits(q, k, grid)]
    values = [term for e in encodings for term in e.values(grid)]
    for e in encodings:
        q, k = e.rotate(q, k, grid)
    run = attention_function(resolve(backend, q.device.type))
    return run(q, k, v, logits, values, key_padding_mask, dropout_p, q.shape[-1] ** -0.5)


def rpe_attention(q: Tensor, k: Tensor, v: Tensor, *, rpe_q: AttentionEncoding | None = None,
                  rpe_k: AttentionEncoding | None = None, rpe_v: AttentionEncoding | None = None,
                  encodings: Iterable[AttentionEncoding] = (), height: int | None, width: int | None,
                  key_padding_mask: Tensor | None = None, dropout_p: float = 0.0, backend: str = "auto") -> Tensor:
    """Attention with iRPE on any of Q, K, V (and other encodings) on an H x W grid after L - H*W prefix tokens;
    key_padding_mask True = ignore."""
    if backend not in CHOICES:
        raise ValueError(f"invalid attention backend {backend!r}: expected one of {', '.join(CHOICES)}")
    # The iRPE tables know how many prefix tokens they were built for; without them the rest of L is prefix.
    prefixes = {part.prefix for site in (rpe_q, rpe_k, rpe_v) if site is not None for part in site_parts(site)}
    grid = None
    if height is not None or width is not None:
        grid = Grid(height, width, prefixes.pop() if prefixes else q.shape[-2] - height * width)
    sites = [e for e in (rpe_k, rpe_q, rpe_v, *encodings) if e is not None]
    return attend(q, k, v, sites, grid, key_padding_mask, dropout_p, backend)


def _flatten_pe(module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict) -> None:
    for key in [k for k in state_dict if k.startswith(prefix + "pe.")]:
        state_dict[prefix + key[len(prefix) + 3:]] = state_dict.pop(key)


def _nest_pe(module: nn.Module, state_dict: dict, prefix: str, *args: object) -> None:
    for name in module.pe.state_dict():
        if prefix + name in state_dict:
            state_dict[prefix + "pe." + name] = state_dict.pop(prefix + name)


class EncodedAttention(nn.Module):
    """An attention layer's encodings: iRPE's sites (rpe_q, rpe_k, rpe_v, the authors' names) and at most one
    other encoding (`pe`), whose parameters are saved on the layer itself."""

    __jit_unused_properties__ = ["backend"]  # TorchScript reads the backends fixed by __prepare_scriptable__

    @property
    def backend(self) -> str:
        """The attention backend this layer runs (a choice of ablate.attention.backends.CHOICES)."""
        return self._backend

    @backend.setter
    def backend(self, choice: str) -> None:
        if choice not in CHOICES:
            raise ValueError(f"invalid attention backend {choice!r}: expected one of {', '.join(CHOICES)}")
        load(choice)  # now, so that a forward traced by torch.compile never imports (a graph break)
        self._backend = choice

    def init_encodings(self, rpe: RPEConfig | None, head_dim: int, num_heads: int) -> None:
        """Build the iRPE sites; the other encoding comes later, from the model (set_encoding)."""
        self.rpe_q, self.rpe_k, self.rpe_v = build_rpe(rpe, head_dim, num_heads)
        self.pe = None

    def set_encoding(self, encoding: AttentionEncoding) -> None:
        """Give the layer its other encoding (at most one)."""
        if self.pe is not None:
            raise ValueError("this attention layer already has an encoding besides iRPE")
        # Its parameters are saved on the attention layer itself (blocks.N.attn.u, where the paper's
        # baselines always kept theirs; attn.relative_position_bias_table as timm's), not under attn.pe.
        clash = {n.split(".")[0] for n in self.state_dict()} & {n.split(".")[0] for n in encoding.state_dict()}
        if clash:
            raise ValueError(f"{type(encoding).__name__} names a parameter like the attention's own: {sorted(clash)}")
        self.pe = encoding
        self.register_state_dict_post_hook(_flatten_pe)
        self.register_load_state_dict_pre_hook(_nest_pe)

    def encodings(self) -> list[AttentionEncoding]:
        """This layer's encodings, in the order they act."""
        return [e for e in (self.rpe_k, self.rpe_q, self.rpe_v, self.pe) if e is not None]

    def terms(self, q: Tensor, k: Tensor, grid: Grid | None
              ) -> tuple[list[BucketLogits], list[BucketValues], Tensor, Tensor]:
        """What attend() gathers from encodings(): logit terms (of q and k as projected) and output terms in the
        same order, and q and k rotated; written out site by site, since TorchScript cannot loop over modules of
        different types."""
        logits: list[BucketLogits] = []
        values: list[BucketValues] = []
        if self.rpe_k is None and self.rpe_q is None and self.rpe_v is None and self.pe is None:
            return logits, values, q, k
        if grid is None:
            raise ValueError("position encodings need the patch grid: pass grid=Grid(H, W, prefix), or set the "
                             "layer's grid = (H, W)")
        check_length(grid, q.shape[-2])
        if self.rpe_k is not None:  # iRPE's sites add logit terms (Q, K) or output terms (V), and rotate nothing
            logits += self.rpe_k.logits(q, k, grid)
        if self.rpe_q is not None:
            logits += self.rpe_q.logits(q, k, grid)
        if self.rpe_v is not None:
            values += self.rpe_v.values(grid)
        if self.pe is not None:
            logits += self.pe.logits(q, k, grid)
            values += self.pe.values(grid)
            q, k = self.pe.rotate(q, k, grid)
        return logits, values, q, k


class RPEAttention(EncodedAttention):
    """Self-attention with iRPE and one other encoding (`pe`), a drop-in for timm's Attention that also takes the
    patch grid: the model passes it to every call; called alone, the layer reads its `grid` = (H, W)."""

    grid: tuple[int, int] | None

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = False, qk_norm: bool = False,
                 attn_drop: float = 0.0, proj_drop: float = 0.0, norm_layer: type[nn.Module] | None = None,
                 rpe: RPEConfig | None = None, backend: str = "auto", proj_bias: bool = True,
                 scale_norm: bool = False, encoding: AttentionEncoding | None = None,
                 **timm_kwargs: object) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.backend = backend
        self.grid = None
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.q_norm = norm_layer(self.head_dim) if qk_norm else nn.Identity()
        self.k_norm = norm_layer(self.head_dim) if qk_norm else nn.Identity()
        self.attn_drop = nn.Dropout(attn_drop)
        if scale_norm:
            raise ValueError("RPEAttention has no scale_norm (timm's attention-output norm): build without it")
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.proj_drop = nn.Dropout(proj_drop)
        self.init_encodings(rpe, self.head_dim, num_heads)
        if encoding is not None:
            self.set_encoding(encoding)

    @classmethod
    def configured(cls, rpe: RPEConfig | None, backend: str = "auto") -> type["RPEAttention"]:
        """A subclass with rpe and backend bound, for timm's `attn_layer` hook (which takes a class)."""
        def __init__(self, dim: int, **kwargs: object) -> None:
            cls.__init__(self, dim, rpe=rpe, backend=backend, **kwargs)
        return type(cls.__name__, (cls,), {"__init__": __init__})

    def __prepare_scriptable__(self) -> "RPEAttention":
        """Before TorchScript compiles the layer: fix the backend each device type runs (`resolve`), which must
        be one TorchScript compiles."""
        self.scripted_backends = {device_type: resolve(self.backend, device_type) for device_type in AUTO}
        self.scripted_fallback = resolve(self.backend, "")  # any other device type
        if any(name not in SCRIPTABLE for name in (*self.scripted_backends.values(), self.scripted_fallback)):
            raise ValueError(f"attention backend {self.backend!r} cannot be compiled by TorchScript (triton launches "
                             "its kernels from Python, flex needs torch.compile): build the model with "
                             "attn_backend='sdpa' or 'eager'")
        return self

    def forward(self, x: Tensor, grid: Grid | None = None, attn_mask: Tensor | None = None,
                is_causal: bool = False) -> Tensor:
        """(B, L, dim) -> (B, L, dim); L must be grid.prefix + H*W (grid: the model's, else `grid` = (H, W) with
        the rest of L as prefix)."""
        if attn_mask is not None or is_causal:
            raise ValueError("RPEAttention takes no attn_mask/is_causal: pass key padding to rpe_attention")
        batch, length, dim = x.shape
        qkv = self.qkv(x).reshape(batch, length, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # one backward (a stack), where indexing would zero-fill a full-size gradient thrice
        q, k = self.q_norm(q), self.k_norm(k)
        alone = self.grid  # a local: TorchScript narrows Optional locals, not attributes
        if grid is None and alone is not None:
            grid = Grid(alone[0], alone[1], length - alone[0] * alone[1])
        logits, values, q, k = self.terms(q, k, grid)
        dropout_p = self.attn_drop.p if self.training else 0.0
        scale = q.shape[-1] ** -0.5
        if not torch.jit.is_scripting():
            out = attention_function(resolve(self.backend, q.device.type))(q, k, v, logits, values, None,
                                                                           dropout_p, scale)
        elif self.scripted_backends.get(q.device.type, self.scripted_fallback) == "eager":
            out = eager.attention(q, k, v, logits, values, None, dropout_p, scale)
        else:
            out = sdpa.attention(q, k, v, logits, values, None, dropout_p, scale)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(batch, length, dim)))

"""Multi-head attention with iRPE on any of Q, K, V, behind interchangeable backends.

- eager: the reference. Materialised logits, softmax, dropout, then A @ V.
- sdpa:  the Q/K terms are gathered into one (B, heads, L, L) float mask and handed to torch's
         scaled_dot_product_attention, which fuses softmax and A @ V (CPU and GPU).
- flex:  FlexAttention with a score_mod that reads the per-bucket tables; never builds an L x L term.
         Forward-only on CPU (torch has no FlexAttention backward there) and no attention dropout.
- auto:  sdpa, the fastest correct route measured on CPU and, per performance.md, on an H100.

RPE on V needs the attention probabilities themselves, which fused kernels do not return, so with V every
backend takes the eager route; V is then summed per bucket, never as an (L, L, head_dim) tensor.
"""
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.attention.flex_attention import flex_attention

from ablate.rpe.config import RPEConfig
from ablate.rpe.lookup import build_rpe, resolve_grid, site_parts

BACKENDS = ("auto", "eager", "sdpa", "flex")
_compiled_flex = None


def rpe_attention(q: Tensor, k: Tensor, v: Tensor, *, rpe_q: nn.Module | None = None,
                  rpe_k: nn.Module | None = None, rpe_v: nn.Module | None = None, height: int,
                  width: int, key_padding_mask: Tensor | None = None, dropout_p: float = 0.0,
                  backend: str = "auto") -> Tensor:
    """Attention of unscaled (B, heads, L, head_dim) q, k, v with RPE terms; key_padding_mask True = ignore."""
    if backend not in BACKENDS:
        raise ValueError(f"invalid attention backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    for site in (rpe_q, rpe_k, rpe_v):
        if site is not None:
            resolve_grid(q.shape[-2], height, width, site_parts(site)[0].skip)
    if rpe_v is not None or backend == "eager":
        return _eager(q, k, v, rpe_q, rpe_k, rpe_v, height, width, key_padding_mask, dropout_p)
    if backend == "flex":
        return _flex(q, k, v, rpe_q, rpe_k, height, width, key_padding_mask, dropout_p)
    return _sdpa(q, k, v, rpe_q, rpe_k, height, width, key_padding_mask, dropout_p)


def _qk_terms(q: Tensor, k: Tensor, rpe_q: nn.Module | None, rpe_k: nn.Module | None,
              height: int, width: int) -> Tensor | None:
    """Sum of the RPE logit terms, broadcastable to (B, heads, L, L); None without Q/K sites."""
    scale = q.shape[-1] ** -0.5
    term = None
    if rpe_k is not None:
        term = rpe_k(q * scale, height, width)
    if rpe_q is not None:
        # Q's table is indexed by the key's offset to the query: the same map, transposed.
        q_term = rpe_q(k * scale, height, width).transpose(-2, -1)
        term = q_term if term is None else term + q_term
    return term


def _padding_bias(key_padding_mask: Tensor, dtype: torch.dtype) -> Tensor:
    """(B, 1, 1, L) additive mask: -inf on padded keys."""
    bias = torch.zeros(key_padding_mask.shape, dtype=dtype, device=key_padding_mask.device)
    return bias.masked_fill(key_padding_mask, float("-inf"))[:, None, None, :]


def _eager(q: Tensor, k: Tensor, v: Tensor, rpe_q: nn.Module | None, rpe_k: nn.Module | None,
           rpe_v: nn.Module | None, height: int, width: int, key_padding_mask: Tensor | None,
           dropout_p: float) -> Tensor:
    logits = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
    term = _qk_terms(q, k, rpe_q, rpe_k, height, width)
    if term is not None:
        logits = logits + term
    if key_padding_mask is not None:
        logits = logits.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
    attn = F.dropout(logits.softmax(dim=-1), p=dropout_p, training=dropout_p > 0)
    out = attn @ v
    if rpe_v is not None:
        out = out + rpe_v(attn, height, width)
    return out


def _sdpa(q: Tensor, k: Tensor, v: Tensor, rpe_q: nn.Module | None, rpe_k: nn.Module | None,
          height: int, width: int, key_padding_mask: Tensor | None, dropout_p: float) -> Tensor:
    mask = _qk_terms(q, k, rpe_q, rpe_k, height, width)
    if key_padding_mask is not None:
        padding = _padding_bias(key_padding_mask, q.dtype)
        mask = padding if mask is None else mask + padding
    if mask is not None:
        mask = mask.to(q.dtype)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)


def _flex_tables(site: nn.Module | None, x: Tensor, height: int, width: int) -> list[tuple[Tensor, Tensor]]:
    """(per-bucket table expanded to (B, heads, L, buckets), bucket ids) for each table of a site."""
    if site is None:
        return []
    scale = x.shape[-1] ** -0.5
    batch, heads, length, _ = x.shape
    out = []
    for part in site_parts(site):
        table = part.table(x * scale)
        table = table.expand(batch, heads, length, table.shape[-1]).contiguous()
        out.append((table, part.bucket_ids(length, height, width, x.device)))
    return out


def _flex(q: Tensor, k: Tensor, v: Tensor, rpe_q: nn.Module | None, rpe_k: nn.Module | None,
          height: int, width: int, key_padding_mask: Tensor | None, dropout_p: float) -> Tensor:
    global _compiled_flex
    if dropout_p > 0:
        raise ValueError("the flex backend has no attention dropout: use backend 'sdpa' or 'eager'")
    needs_grad = torch.is_grad_enabled() and any(
        t.requires_grad for t in [q, k, v] + [p for s in (rpe_q, rpe_k) if s is not None for p in s.parameters()])
    if q.device.type == "cpu" and needs_grad:
        raise ValueError("the flex backend has no backward pass on CPU (a torch limit): use 'sdpa' to train")
    if not needs_grad:
        # torch refuses CPU inputs that merely carry requires_grad, even under no_grad.
        q, k, v = q.detach(), k.detach(), v.detach()
    k_tables = _flex_tables(rpe_k, q, height, width)
    q_tables = _flex_tables(rpe_q, k, height, width)
    length = q.shape[-2]
    # torch's compiled CPU kernel returns wrong values when L % 16 == 8 (seen with head_dim 8 and 16, L = 8, 24,
    # 40, 200): pad the sequence to a multiple of 16 with masked keys (bucket 0) and drop the padded queries.
    pad = -length % 16 if q.device.type == "cpu" else 0
    if pad:
        if key_padding_mask is None:
            key_padding_mask = torch.zeros(q.shape[0], length, dtype=torch.bool, device=q.device)
        key_padding_mask = F.pad(key_padding_mask, (0, pad), value=True)
        q, k, v = (F.pad(t, (0, 0, 0, pad)) for t in (q, k, v))
        k_tables = [(F.pad(t, (0, 0, 0, pad)), F.pad(ids, (0, pad, 0, pad))) for t, ids in k_tables]
        q_tables = [(F.pad(t, (0, 0, 0, pad)), F.pad(ids, (0, pad, 0, pad))) for t, ids in q_tables]

    def score_mod(score, b, h, qi, ki):
        for table, ids in k_tables:
            score = score + table[b, h, qi, ids[qi, ki]]
        for table, ids in q_tables:
            score = score + table[b, h, ki, ids[ki, qi]]
        if key_padding_mask is not None:
            score = torch.where(key_padding_mask[b, ki], float("-inf"), score)
        return score

    if _compiled_flex is None:
        _compiled_flex = torch.compile(flex_attention, dynamic=False)
    return _compiled_flex(q, k, v, score_mod=score_mod)[:, :, :length]


class RPEAttention(nn.Module):
    """Self-attention with iRPE, a drop-in for timm's Attention; the model sets `grid` = (H, W)."""

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = False, qk_norm: bool = False,
                 attn_drop: float = 0.0, proj_drop: float = 0.0, norm_layer: type[nn.Module] | None = None,
                 rpe: RPEConfig | None = None, backend: str = "auto", proj_bias: bool = True,
                 scale_norm: bool = False, **timm_kwargs: object) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        if backend not in BACKENDS:
            raise ValueError(f"invalid attention backend {backend!r}: expected one of {', '.join(BACKENDS)}")
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.backend = backend
        self.grid: tuple[int, int] | None = None
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.q_norm = norm_layer(self.head_dim) if qk_norm else nn.Identity()
        self.k_norm = norm_layer(self.head_dim) if qk_norm else nn.Identity()
        self.attn_drop = nn.Dropout(attn_drop)
        if scale_norm:
            raise ValueError("RPEAttention has no scale_norm (timm's attention-output norm): build without it")
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.proj_drop = nn.Dropout(proj_drop)
        self.rpe_q, self.rpe_k, self.rpe_v = build_rpe(rpe, self.head_dim, num_heads)

    @classmethod
    def configured(cls, rpe: RPEConfig | None, backend: str = "auto") -> type["RPEAttention"]:
        """A subclass with rpe/backend bound, for timm's `attn_layer` hook (which takes a class)."""
        def __init__(self, dim: int, **kwargs: object) -> None:
            cls.__init__(self, dim, rpe=rpe, backend=backend, **kwargs)
        return type(cls.__name__, (cls,), {"__init__": __init__})

    def forward(self, x: Tensor, attn_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        """(B, L, dim) -> (B, L, dim); L must be skip + H*W of `grid`."""
        if attn_mask is not None or is_causal:
            raise ValueError("RPEAttention takes no attn_mask/is_causal: pass key padding to rpe_attention")
        batch, length, dim = x.shape
        qkv = self.qkv(x).reshape(batch, length, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = self.q_norm(qkv[0]), self.k_norm(qkv[1]), qkv[2]
        has_rpe = any(s is not None for s in (self.rpe_q, self.rpe_k, self.rpe_v))
        if has_rpe and self.grid is None:
            raise ValueError("RPEAttention.grid is not set: the model must set (H, W) before the blocks run")
        height, width = self.grid if self.grid is not None else (None, None)
        out = rpe_attention(q, k, v, rpe_q=self.rpe_q, rpe_k=self.rpe_k, rpe_v=self.rpe_v,
                            height=height, width=width, dropout_p=self.attn_drop.p if self.training else 0.0,
                            backend=self.backend)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(batch, length, dim)))

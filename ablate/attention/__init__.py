"""Attention with position encodings: the layers (ablate.attention.layer) and the backends that execute them
(ablate.attention.backends: eager, SDPA, FlexAttention, our fused Triton kernels in ablate.attention.kernels).

Names are loaded on first use, so that checking a backend name (at plan time) does not import torch.
"""
from importlib import import_module

_EXPORTS = {"BACKENDS": "backends:CHOICES", "RPEAttention": "layer", "rpe_attention": "layer", "attend": "layer"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ablate.attention' has no attribute {name!r}")
    module, _, attribute = _EXPORTS[name].partition(":")
    return getattr(import_module(f"ablate.attention.{module}"), attribute or name)

"""iRPE: image relative position encoding (Wu et al., ICCV 2021), exact and fast.

The authors' API (`get_rpe_config`, `build_rpe`) plus `RPEConfig`, the attention backends and the
bucket maps. Importable on its own: nothing here depends on the rest of ablate. Names are loaded on
first use, so that validating an `RPEConfig` (at plan time) does not import torch.
"""
from importlib import import_module

_EXPORTS = {
    "BACKENDS": "backends:CHOICES", "RPEAttention": "attention", "rpe_attention": "attention",
    "allocated_buckets": "buckets", "bucket_map": "buckets", "total_allocated_buckets": "buckets",
    "used_buckets": "buckets", "INDEXES": "config", "METHODS": "config", "MODES": "config",
    "RPEConfig": "config", "get_rpe_config": "config", "clip_index": "index", "piecewise_index": "index",
    "build_rpe": "lookup", "iRPE": "lookup", "iRPECross": "lookup",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ablate.rpe' has no attribute {name!r}")
    module, _, attribute = _EXPORTS[name].partition(":")
    return getattr(import_module(f"ablate.rpe.{module}"), attribute or name)

"""iRPE: image relative position encoding (Wu et al., ICCV 2021), exact, and the paper's baselines.

The authors' API (`get_rpe_config`, `build_rpe`) plus `RPEConfig` and the bucket maps. iRPE acts on
attention through the position-encoding interface (ablate.pe.interface); the attention layers and
backends that run it are ablate.attention. Names are loaded on first use, so that validating an
`RPEConfig` (at plan time) does not import torch.
"""
from importlib import import_module

_EXPORTS = {
    "allocated_buckets": "buckets", "bucket_map": "buckets", "total_allocated_buckets": "buckets",
    "used_buckets": "buckets", "INDEXES": "config", "METHODS": "config", "MODES": "config",
    "RPEConfig": "config", "get_rpe_config": "config", "clip_index": "index", "piecewise_index": "index",
    "build_rpe": "lookup", "iRPE": "lookup", "iRPECross": "lookup",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ablate.rpe' has no attribute {name!r}")
    return getattr(import_module(f"ablate.rpe.{_EXPORTS[name]}"), name)

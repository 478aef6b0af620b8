"""iRPE: image relative position encoding (Wu et al., ICCV 2021), exact and fast.

The authors' API (`get_rpe_config`, `build_rpe`) plus `RPEConfig`, the attention backends and
the bucket maps. Importable on its own: nothing here depends on the rest of ablate.
"""
from ablate.rpe.attention import BACKENDS, RPEAttention, rpe_attention
from ablate.rpe.buckets import allocated_buckets, bucket_map, total_allocated_buckets, used_buckets
from ablate.rpe.config import INDEXES, METHODS, MODES, RPEConfig, get_rpe_config
from ablate.rpe.index import clip_index, piecewise_index
from ablate.rpe.lookup import build_rpe, iRPE, iRPECross

__all__ = [
    "BACKENDS", "INDEXES", "METHODS", "MODES", "RPEAttention", "RPEConfig", "allocated_buckets",
    "bucket_map", "build_rpe", "clip_index", "get_rpe_config", "iRPE", "iRPECross", "piecewise_index",
    "rpe_attention", "total_allocated_buckets", "used_buckets",
]

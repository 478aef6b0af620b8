"""Every classification model by name, as plain data: the timm names ablate.models.deit registers, and the
settings each is built with. Torch-free, so a config's model name is checked at plan time.

- deit_{tiny,small,base}_patch16_224_rpe: DeiT taking any `rpe`;
- deit_{tiny,small,base}_patch16_224_ctx_{product_50,euc_20,quant_51,cross_56}_shared_{k,qk,qkv}: the
  authors' released models (their iRPE built in; their state dicts load unchanged);
- deit_{pico,micro,nano}_patch4_28: CPU-sized DeiTs for 28x28 grey images (a 7x7 grid).
"""
from ablate.registry import Registry

DEIT = dict(patch_size=16, img_size=224, mlp_ratio=4, qkv_bias=True)
SIZES = {
    "tiny": dict(embed_dim=192, depth=12, num_heads=3),
    "small": dict(embed_dim=384, depth=12, num_heads=6),
    "base": dict(embed_dim=768, depth=12, num_heads=12),
}
CPU_SIZES = {
    "pico": dict(embed_dim=64, depth=4, num_heads=2),
    "micro": dict(embed_dim=96, depth=4, num_heads=3),
    "nano": dict(embed_dim=192, depth=6, num_heads=3),
}
OFFICIAL_SUFFIXES = [f"ctx_{m}_shared_{s}" for m in ("product_50", "euc_20", "quant_51", "cross_56")
                     for s in ("k", "qk", "qkv")]

MODELS: Registry[dict] = Registry("model")  # name -> keyword arguments of RPEVisionTransformer
for _size, _dims in SIZES.items():
    MODELS.register(f"deit_{_size}_patch16_224_rpe", {**DEIT, **_dims})
    for _suffix in OFFICIAL_SUFFIXES:
        MODELS.register(f"deit_{_size}_patch16_224_{_suffix}", {**DEIT, **_dims, "rpe": _suffix})
for _size, _dims in CPU_SIZES.items():
    MODELS.register(f"deit_{_size}_patch4_28", dict(patch_size=4, img_size=28, in_chans=1, num_classes=10,
                                                    mlp_ratio=4, qkv_bias=True, **_dims))


def check_model_name(name: str) -> None:
    """Raise ValueError naming the choices if name is not one of our models."""
    if name not in MODELS:
        known = ", ".join(n for n in MODELS if n.endswith(("_rpe", "_28")))
        raise ValueError(f"unknown model model.name={name!r} (known: {known}; and the authors' "
                         "deit_*_patch16_224_ctx_* names)")

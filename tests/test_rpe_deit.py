"""DeiT with iRPE on timm: every registered name builds, the released models' exact parameter counts and
checkpoint layout (irpe.md section 6), and the true patch grid of non-square inputs reaches every block.

Large models are built on the meta device (shapes only, no memory or init time); forwards run on CPU with
the tiny and the 28x28 variants only.
"""
import functools

import pytest
import timm
import torch

import ablate.models.deit as deit_module

SIZES = {"tiny": (192, 3), "small": (384, 6), "base": (768, 12)}  # embed dim, heads (head_dim 64)
OFFICIAL = {"product_50": ("", 50), "euc_20": ("", 82), "quant_51": ("", 134), "cross_56": ("cross", 82)}
SITES = ("k", "qk", "qkv")


def registered_names() -> list[str]:
    """The timm names whose entrypoint lives in ablate.models.deit."""
    return sorted(name for name, fn in vars(deit_module).items()
                  if timm.is_model(name) and timm.models.model_entrypoint(name) is fn)


def official_layout(size: str, method: str, sites: str) -> dict[str, tuple[int, ...]]:
    """State-dict names and shapes of a released DeiT-iRPE checkpoint, written out from the spec."""
    dim, _ = SIZES[size]
    kind, buckets = OFFICIAL[method]
    layout = {"cls_token": (1, 1, dim), "pos_embed": (1, 197, dim), "patch_embed.proj.weight": (dim, 3, 16, 16),
              "patch_embed.proj.bias": (dim,), "norm.weight": (dim,), "norm.bias": (dim,),
              "head.weight": (1000, dim), "head.bias": (1000,)}
    for b in range(12):
        p = f"blocks.{b}."
        layout.update({p + "norm1.weight": (dim,), p + "norm1.bias": (dim,), p + "norm2.weight": (dim,),
                       p + "norm2.bias": (dim,), p + "attn.qkv.weight": (3 * dim, dim), p + "attn.qkv.bias": (3 * dim,),
                       p + "attn.proj.weight": (dim, dim), p + "attn.proj.bias": (dim,),
                       p + "mlp.fc1.weight": (4 * dim, dim), p + "mlp.fc1.bias": (4 * dim,),
                       p + "mlp.fc2.weight": (dim, 4 * dim), p + "mlp.fc2.bias": (dim,)})
        for site in sites:
            tables = ["rp_rows.", "rp_cols."] if kind == "cross" else [""]
            for table in tables:
                shape = (1, buckets, 64) if site == "v" else (1, 64, buckets)
                layout[f"{p}attn.rpe_{site}.{table}lookup_table_weight"] = shape
    return layout


def _count(layout: dict) -> int:
    total = 0
    for shape in layout.values():
        n = 1
        for s in shape:
            n *= s
        total += n
    return total


def _meta_model(name: str, **kwargs) -> torch.nn.Module:
    with torch.device("meta"):
        return timm.create_model(name, **kwargs)


@functools.cache
def meta_shapes(name: str) -> dict[str, tuple[int, ...]]:
    """State-dict names and shapes of a registered model (cached: several tests read the same model)."""
    model = _meta_model(name)
    assert not list(model.buffers())  # so the state dict holds exactly the parameters
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_every_official_name_is_registered():
    names = registered_names()
    for size in SIZES:
        for method in OFFICIAL:
            for sites in SITES:
                assert f"deit_{size}_patch16_224_ctx_{method}_shared_{sites}" in names
        assert f"deit_{size}_patch16_224_rpe" in names
    assert {"deit_pico_patch4_28", "deit_micro_patch4_28", "deit_nano_patch4_28"} <= set(names)
    assert len(names) == 3 * (1 + 12) + 3


@pytest.mark.parametrize("name", registered_names())
def test_every_name_builds(name):
    assert _count(meta_shapes(name)) > 0


@pytest.mark.parametrize("name,count", [
    ("deit_tiny_patch16_224_ctx_product_50_shared_k", 5_755_816),
    ("deit_small_patch16_224_ctx_product_50_shared_k", 22_089_064),
    ("deit_small_patch16_224_ctx_product_50_shared_qk", 22_127_464),
    ("deit_small_patch16_224_ctx_product_50_shared_qkv", 22_165_864),
    ("deit_base_patch16_224_ctx_product_50_shared_k", 86_606_056),
])
def test_released_parameter_counts(name, count):
    assert _count(meta_shapes(name)) == count
    size, sites = name.split("_")[1], name.split("_")[-1]
    assert _count(official_layout(size, "product_50", sites)) == count  # the written-out layout agrees


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("method", list(OFFICIAL))
@pytest.mark.parametrize("sites", SITES)
def test_official_layout(size, method, sites):
    name = f"deit_{size}_patch16_224_ctx_{method}_shared_{sites}"
    assert meta_shapes(name) == official_layout(size, method, sites)


@pytest.mark.parametrize("method", list(OFFICIAL))
def test_official_state_dict_loads_strictly(method):
    model = timm.create_model(f"deit_tiny_patch16_224_ctx_{method}_shared_qkv")
    generator = torch.Generator().manual_seed(0)
    state = {k: torch.randn(shape, generator=generator) for k, shape in official_layout("tiny", method, "qkv").items()}
    model.load_state_dict(state, strict=True)
    key = "blocks.11.attn.rpe_v." + ("rp_cols." if method == "cross_56" else "") + "lookup_table_weight"
    assert torch.equal(model.state_dict()[key], state[key])


def _record_grids(model):
    """Forward pre-hooks on every attention, and a wrapper on every RPE site's logit terms, recording (L, grid)
    and (L, H, W) as each sees them (the model passes the grid to every attention call)."""
    seen = {"attn": [], "rpe": []}

    def on_attn(module, args):
        seen["attn"].append((args[0].shape[1], (args[1].height, args[1].width)))

    def recording(site):
        terms = site.logits

        def logits(q, k, grid):
            seen["rpe"].append((q.shape[-2], grid.height, grid.width))
            return terms(q, k, grid)
        return logits

    for block in model.blocks:
        block.attn.register_forward_pre_hook(on_attn)
        for site in (block.attn.rpe_q, block.attn.rpe_k, block.attn.rpe_v):
            if site is not None:
                site.logits = recording(site)
    return seen


@pytest.mark.parametrize("build_size", [(224, 160), 224])
def test_non_square_input_reaches_every_attention(build_size):
    """Built for (224, 160), or built for 224 and fed a 224 x 160 image: the grid is (14, 10), never guessed."""
    model = timm.create_model("deit_tiny_patch16_224_ctx_product_50_shared_qk", img_size=build_size).eval()
    torch.nn.init.normal_(model.blocks[0].attn.rpe_k.lookup_table_weight)
    seen = _record_grids(model)
    with torch.no_grad():
        out = model(torch.randn(1, 3, 224, 160))
    assert out.shape == (1, 1000) and torch.isfinite(out).all()
    assert seen["attn"] == [(1 + 14 * 10, (14, 10))] * 12
    assert seen["rpe"] == [(1 + 14 * 10, 14, 10)] * 24  # Q and K of 12 blocks


def test_abs_pos_choices():
    learned = sum(p.numel() for p in _meta_model("deit_tiny_patch16_224_rpe", rpe="ctx_product_50_shared_k")
                  .parameters())
    none = _meta_model("deit_tiny_patch16_224_rpe", rpe="ctx_product_50_shared_k", abs_pos="none")
    assert learned - sum(p.numel() for p in none.parameters()) == 197 * 192
    with pytest.raises(ValueError, match="abs_pos"):
        _meta_model("deit_tiny_patch16_224_rpe", abs_pos="rotary")


@pytest.mark.parametrize("abs_pos", ["learned", "sincos", "none"])
def test_cpu_variant_trains_a_step(abs_pos):
    model = timm.create_model("deit_micro_patch4_28", rpe="ctx_product_50_shared_qkv", abs_pos=abs_pos)
    images = torch.randn(2, 1, 28, 28)
    out = model(images)
    assert out.shape == (2, 10)
    out.logsumexp(-1).sum().backward()
    assert model.blocks[0].attn.rpe_k.lookup_table_weight.grad.abs().sum() > 0
    assert model.embed(images)[1] == (7, 7, 1)  # the grid the model gives its blocks


@pytest.mark.parametrize("kwargs", [{"rpe": "ctx_product_50_shared_qkv"}, {"pe": "bias_table"}, {"pe": "huang"}])
def test_trains_after_running_under_inference_mode(kwargs):
    """The cached bucket maps of an inference_mode run are ordinary tensors: autograd saves them later."""
    model = timm.create_model("deit_pico_patch4_28", **kwargs)
    images = torch.randn(2, 1, 28, 28)
    with torch.inference_mode():
        model(images)
    model(images).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("baseline", ["shaw", "txl", "huang", "sasa"])
def test_baseline_models_run(baseline):
    model = timm.create_model("deit_micro_patch4_28", pe=baseline)
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_pretrained_is_refused():
    with pytest.raises(ValueError, match="never downloaded"):
        timm.create_model("deit_tiny_patch16_224_ctx_product_50_shared_k", pretrained=True)


def test_sincos_is_added_to_the_patch_tokens():
    models = {}
    for abs_pos in ("none", "sincos"):
        torch.manual_seed(0)
        models[abs_pos] = timm.create_model("deit_micro_patch4_28", rpe="ctx_product_50_shared_k", abs_pos=abs_pos)
    models["sincos"].load_state_dict(models["none"].state_dict(), strict=True)  # same weights, no pos params
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert not torch.allclose(models["none"](x), models["sincos"](x))

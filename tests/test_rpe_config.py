"""RPEConfig: validation messages, model-name suffixes and DETR flags (irpe.md section 5)."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ablate.rpe import RPEConfig, allocated_buckets, get_rpe_config


@pytest.mark.parametrize("field,value,allowed", [
    ("method", "manhattan", ["euc", "quant", "cross", "product"]),
    ("mode", "additive", ["bias", "contextual"]),
    ("index", "log", ["piecewise", "clip"]),
    ("ratio", 0, ["> 0"]),
    ("ratio", -1.5, ["> 0"]),
    ("ratio", float("inf"), ["finite"]),
    ("ratio", float("nan"), ["> 0"]),
    ("rpe_on", "kx", ["q", "k", "v"]),
    ("rpe_on", "", ["q", "k", "v"]),
])
def test_invalid_field_names_field_value_and_allowed(field, value, allowed):
    with pytest.raises(ValueError) as err:
        RPEConfig(**{field: value})
    message = str(err.value)
    assert field in message and repr(value) in message
    for word in allowed:
        assert word in message


def test_bias_on_v_is_rejected_with_a_clear_message():
    with pytest.raises(ValueError) as err:
        RPEConfig(mode="bias", rpe_on="kv")
    message = str(err.value)
    assert "rpe_on" in message and "'kv'" in message and "bias" in message and "q and/or k" in message
    with pytest.raises(ValueError, match="bias"):
        get_rpe_config(mode="bias", rpe_on="v")


def test_normalisation():
    config = RPEConfig(mode="ctx", rpe_on="VKq", ratio=2)
    assert config.mode == "contextual" and config.rpe_on == "qkv" and config.ratio == 2.0
    assert isinstance(config.ratio, float)
    assert RPEConfig(mode="contextual") == RPEConfig(mode="ctx")


def test_replace_validates_again():
    with pytest.raises(ValueError, match="ratio"):
        RPEConfig().replace(ratio=0.0)
    assert RPEConfig().replace(prefix=1).prefix == 1


OFFICIAL = {"product_50": ("product", 1.9), "euc_20": ("euc", 20.0), "quant_51": ("quant", 33.0),
            "cross_56": ("cross", 20.0)}


@pytest.mark.parametrize("name", list(OFFICIAL))
@pytest.mark.parametrize("sites", ["k", "qk", "qkv"])
def test_official_suffixes_parse_and_print(name, sites):
    suffix = f"ctx_{name}_shared_{sites}"
    config = RPEConfig.from_suffix(suffix, prefix=1)
    method, ratio = OFFICIAL[name]
    assert config == RPEConfig(method=method, mode="contextual", ratio=ratio, shared_head=True, rpe_on=sites,
                               index="piecewise", prefix=1)
    assert config.suffix == suffix


def test_other_suffix_forms():
    config = RPEConfig.from_suffix("bias_euc_r2.5_unshared_qk_clip")
    assert (config.mode, config.method, config.ratio, config.shared_head, config.rpe_on, config.index) == \
        ("bias", "euc", 2.5, False, "qk", "clip")
    # 2.5 is the smallest ratio giving 7 clipped euc buckets, so the count form is printed.
    assert config.suffix == "bias_euc_7_unshared_qk_clip"
    assert RPEConfig.from_suffix("bias_euc_r2.6_unshared_qk_clip").suffix == "bias_euc_r2.6_unshared_qk_clip"
    # Paper Table 3: clip with 50 product buckets keeps the official ratio.
    assert RPEConfig.from_suffix("ctx_product_50_shared_k_clip").ratio == 1.9
    assert RPEConfig(index="clip").suffix == "ctx_product_50_shared_k_clip"


@pytest.mark.parametrize("bad", ["ctx_product_50_k", "product_50_shared_k", "ctx_product_50_shared_kx",
                                 "ctx_hex_50_shared_k", "ctx_product_1000_shared_k"])
def test_bad_suffix(bad):
    with pytest.raises(ValueError, match="suffix|method"):
        RPEConfig.from_suffix(bad)


@settings(max_examples=30, deadline=None)
@given(method=st.sampled_from(["euc", "quant", "cross", "product"]), mode=st.sampled_from(["bias", "contextual"]),
       ratio=st.sampled_from([0.5, 1.0, 1.9, 2.0, 2.5, 3.0, 1.2345678, 20.0, 33.0]), shared=st.booleans(),
       sites=st.sampled_from(["q", "k", "v", "qk", "kv", "qv", "qkv"]), index=st.sampled_from(["piecewise", "clip"]))
def test_suffix_and_flag_round_trip(method, mode, ratio, shared, sites, index):
    if mode == "bias" and "v" in sites:
        sites = sites.replace("v", "") or "k"
    config = RPEConfig(method=method, mode=mode, ratio=ratio, shared_head=shared, rpe_on=sites, index=index)
    assert RPEConfig.from_suffix(config.suffix) == config
    assert RPEConfig.from_flag(config.flag) == config


@pytest.mark.parametrize("ratio,buckets", [("1.9", 49), ("2.0", 81), ("2.5", 121), ("3.0", 169)])
def test_detr_flags(ratio, buckets):
    flag = f"rpe-{ratio}-product-ctx-1-k"
    config = RPEConfig.from_flag(flag)
    assert config == RPEConfig(method="product", mode="contextual", ratio=float(ratio), shared_head=True,
                               rpe_on="k", prefix=0)
    assert config.flag == flag
    assert allocated_buckets(config.method, config.ratio, config.prefix) == buckets


def test_flag_variants():
    config = RPEConfig.from_flag("rpe-2.0-cross-bias-0-qk-clip")
    assert (config.method, config.mode, config.shared_head, config.rpe_on, config.index) == \
        ("cross", "bias", False, "qk", "clip")
    assert config.flag == "rpe-2.0-cross-bias-0-qk-clip"
    assert RPEConfig.from_flag("rpe-2.0-product-ctx-1-k", prefix=1).prefix == 1


@pytest.mark.parametrize("bad,word", [("rpe-2.0-product-ctx-2-k", "flag"), ("rpe-2.0-product-ctx-1", "flag"),
                                      ("rpa-2.0-product-ctx-1-k", "flag"), ("rpe-x-product-ctx-1-k", "ratio"),
                                      ("rpe-2.0-product-ctx-1-kz", "rpe_on"), ("rpe-2.0-hex-ctx-1-k", "method")])
def test_bad_flag(bad, word):
    with pytest.raises(ValueError, match=word):
        RPEConfig.from_flag(bad)


def test_get_rpe_config_matches_authors_defaults():
    config = get_rpe_config(ratio=1.9, method="product", mode="ctx", shared_head=True, skip=1, rpe_on="k")
    assert config == RPEConfig(method="product", mode="contextual", ratio=1.9, shared_head=True, rpe_on="k", prefix=1)

"""Parameter and MAC counts of the DeiT-S variants against the paper's Table 2/5 columns."""
import pytest
import timm

import ablate  # noqa: F401  (registers the models)
from ablate.models.counting import count_macs, count_params

# (model, paper MACs in millions, counted the paper's way for V)
PAPER_MACS = [
    ("deit_small_patch16_224_rpe", 4613),
    ("deit_small_patch16_224_ctx_product_50_shared_k", 4659),
    ("deit_small_patch16_224_ctx_product_50_shared_qk", 4706),
    ("deit_small_patch16_224_ctx_product_50_shared_qkv", 4885),
]


@pytest.mark.parametrize("name,paper", PAPER_MACS)
def test_deit_small_macs_within_one_percent_of_paper(name, paper):
    model = timm.create_model(name)
    macs = count_macs(model, (3, 224, 224), paper_convention=True) / 1e6
    assert abs(macs - paper) / paper < 0.01, f"{name}: {macs:.0f} M vs paper {paper} M"


def test_rpe_v_costs_less_than_the_papers_convention():
    model = timm.create_model("deit_small_patch16_224_ctx_product_50_shared_qkv")
    ours = count_macs(model, (3, 224, 224))
    paper = count_macs(model, (3, 224, 224), paper_convention=True)
    # Per block and head: L*(L - buckets)*head_dim fewer MACs with bucket-wise aggregation of V.
    assert paper - ours == 12 * 6 * 197 * (197 - 50) * 64


def test_contextual_k_adds_one_table_product_per_block():
    plain = count_macs(timm.create_model("deit_small_patch16_224_rpe"), (3, 224, 224))
    with_k = count_macs(timm.create_model("deit_small_patch16_224_ctx_product_50_shared_k"), (3, 224, 224))
    assert with_k - plain == 12 * 6 * 197 * 64 * 50


def test_params_counts_every_parameter():
    model = timm.create_model("deit_micro_patch4_28", rpe="ctx_product_50_shared_qkv")
    expected = sum(p.numel() for p in model.parameters())
    assert count_params(model) == expected
    assert count_params(timm.create_model("deit_micro_patch4_28")) == expected - 3 * 4 * 32 * 50


def test_timm_attention_options_are_honoured_or_refused():
    model = timm.create_model("deit_micro_patch4_28", rpe="ctx_product_50_shared_k", proj_bias=False)
    assert all(block.attn.proj.bias is None for block in model.blocks)
    with pytest.raises(ValueError, match="scale_norm"):
        timm.create_model("deit_micro_patch4_28", scale_attn_norm=True)

"""data.img_size as one number or [H, W]: parsing, plan-time checks, and every position encoding at a
non-square size (the model's patch grid follows the shape)."""
import pytest
import torch
from omegaconf import OmegaConf

from ablate.config.compose import Composer
from ablate.data.options import image_size
from ablate.engine.model import build_model
from conftest import tree


def test_image_size_is_one_number_or_height_and_width():
    assert image_size(28) == (28, 28) and image_size([28, 36]) == (28, 36)
    assert image_size(OmegaConf.create({"s": [28, 36]}).s) == (28, 36)
    for bad in (0, -3, [28], [28, 36, 3], [28, 0], "28", True, [28.5, 36]):
        with pytest.raises(ValueError, match="expected one positive number .* or \\[height, width\\]"):
            image_size(bad)


def test_a_square_size_stays_a_number_in_the_resolved_config():
    """Runs made before [H, W] existed keep their identity: an int is never rewritten into a list."""
    with Composer() as composer:
        assert composer.config(["data.img_size=28"]).data.img_size == 28
        assert list(composer.config(["data.img_size=[28,36]"]).data.img_size) == [28, 36]


@pytest.mark.parametrize("size, needle", [("[28,38]", "does not divide into deit_pico_patch4_28's 4-pixel patches"),
                                          ("[28,36,2]", "expected one positive number")])
def test_bad_sizes_are_refused_before_anything_runs(cli, results, size, needle):
    result = cli("train", f"data.img_size={size}", results=results)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert needle in line and tree(results) == []


POSITION_ENCODINGS = [
    *[["pe.absolute=" + pos] for pos in ("learned", "sincos", "none")],
    *[["pe.absolute=none", f"rpe={option}", f"rpe.method={method}"] for option in ("irpe_k_bias", "irpe_k", "irpe_qkv")
      for method in ("euc", "quant", "cross", "product")],
    *[["pe.absolute=none", f"pe={name}"] for name in ("shaw", "txl", "huang", "sasa", "rope_axial", "rope_mixed",
                                                       "bias_table", "alibi", "peg")],
]


@pytest.mark.parametrize("overrides", POSITION_ENCODINGS, ids=lambda o: " ".join(o))
def test_every_position_encoding_trains_at_a_non_square_size(overrides):
    with Composer() as composer:
        cfg = composer.config(["~experiment", "model=deit_pico", "data.img_size=[28,36]", *overrides])
    model = build_model(cfg.model, cfg.pe, cfg.rpe, 10, 1, cfg.data.img_size, 0.0)
    assert tuple(model.patch_embed.grid_size) == (7, 9)
    if cfg.pe.absolute == "learned":
        assert model.pos_embed.shape[1] == 1 + 7 * 9
    with torch.no_grad():  # the RPE tables start at zero: give every parameter a value
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    images = torch.randn(2, 1, 28, 36)
    logits = model(images)
    assert logits.shape == (2, 10) and model.embed(images)[1] == (7, 9, 1)  # the grid the blocks are given
    logits.sum().backward()
    # Shifting the content by one patch (wrapping around) permutes the tokens: only the position encoding
    # can tell, so the output changes exactly when there is one.
    positional = cfg.pe.absolute != "none" or cfg.rpe.method != "none" or cfg.pe.name != "none"
    assert torch.allclose(model(images.roll(4, dims=-1)), logits, atol=1e-5) != positional

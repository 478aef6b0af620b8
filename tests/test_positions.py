"""How encodings read positions on a grid they were not trained on (pe.positions), and which of their parameters
stay out of weight decay, each as its reference implementation does."""
import pytest
import timm
import torch

from ablate.engine.optim import param_groups
from ablate.pe.bias_table import relative_index
from ablate.pe.interface import Grid, reading_positions
from ablate.pe.registry import build_encoding
from ablate.pe.terms import gather_logits

HEADS, DIM = 2, 16


@pytest.mark.parametrize("name", ["rope_axial", "rope_mixed"])
def test_rope_positions_extrapolate_as_integers_and_interpolate_onto_the_trained_grid(name):
    [layer, *_] = build_encoding(name, DIM, HEADS, 1, 0, (3, 4)).layers
    grid = Grid(6, 8, 0)
    x, y = layer.coordinates(grid, torch.device("cpu"))
    assert torch.equal(x[:8], torch.arange(8.0)) and torch.equal(y[::8], torch.arange(6.0))
    with reading_positions(layer, "interpolate"):
        x, y = layer.coordinates(grid, torch.device("cpu"))
    assert torch.equal(x[:8], torch.arange(8.0) * 4 / 8) and torch.equal(y[::8], torch.arange(6.0) * 3 / 6)
    assert layer.positions == "extrapolate"  # restored on leaving


@pytest.mark.parametrize("name", ["rope_axial", "rope_mixed", "bias_table"])
def test_both_readings_agree_on_the_trained_grid(name):
    model = timm.create_model("deit_pico_patch4_28", pe=name, abs_pos="none")
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)
    model.eval()
    image = torch.randn(2, 1, 28, 28)
    wide = torch.randn(2, 1, 44, 44)
    with reading_positions(model, "interpolate"):
        interpolated, interpolated_wide = model(image), model(wide)
    torch.testing.assert_close(model(image), interpolated)
    assert not torch.allclose(model(wide), interpolated_wide)


def test_the_model_reads_the_positions_it_was_built_with():
    model = timm.create_model("deit_pico_patch4_28", pe="rope_axial", abs_pos="none",
                              pe_options={"positions": "interpolate"})
    assert {block.attn.pe.positions for block in model.blocks} == {"interpolate"}
    assert {block.attn.pe.trained for block in model.blocks} == {(7, 7)}


def test_bias_table_interpolated_is_the_table_resized_to_the_new_grids_offsets():
    [layer] = build_encoding("bias_table", DIM, HEADS, 1, 1, (3, 3)).layers
    torch.nn.init.normal_(layer.relative_position_bias_table)
    table = layer.relative_position_bias_table
    grid = Grid(5, 5, 1)
    [extrapolated] = layer.logits(torch.zeros(1, HEADS, grid.length, 8), torch.zeros(1, HEADS, grid.length, 8), grid)
    assert torch.equal(extrapolated.ids, relative_index((3, 3), grid.height, grid.width, grid.prefix))  # offsets beyond +-2 read the edge
    with reading_positions(layer, "interpolate"):
        [term] = layer.logits(torch.zeros(1, HEADS, grid.length, 8), torch.zeros(1, HEADS, grid.length, 8), grid)
    plane = table[:-3].t().reshape(1, HEADS, 5, 5)
    expected = torch.nn.functional.interpolate(plane, size=(9, 9), mode="bicubic", align_corners=False)
    gathered = gather_logits(term)[0]  # (heads, L, L)
    # from patch (0, 0) to patch (4, 4): offset (-4, -4), the corner of the resized 9 x 9 plane
    torch.testing.assert_close(gathered[:, 1, 1 + 24], expected[0, :, 0, 0])
    torch.testing.assert_close(gathered[:, 1, 1], expected[0, :, 4, 4])  # offset 0: the centre
    torch.testing.assert_close(gathered[:, 0, 0], table[-1])  # prefix entries kept


def _groups(model: torch.nn.Module) -> tuple[set[str], set[str]]:
    decay, no_decay = param_groups(model, 0.05, decay_rpe=False)
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)] for p in decay["params"]}, {names[id(p)] for p in no_decay["params"]}


@pytest.mark.parametrize("name, options, kept", [
    ("rope_mixed", {}, {"rope.freqs"}),  # rope-vit's no_weight_decay: 'freqs'
    ("bias_table", {}, {f"blocks.{i}.attn.pe.relative_position_bias_table" for i in range(4)}),  # Swin, BEiT
    ("bias_table", {"shared": True}, {"rel_pos_bias.relative_position_bias_table"}),  # BEiT's shared table
    ("peg", {}, {"pos_block.0.pos.proj.0.weight", "pos_block.0.pos.proj.0.bias"}),  # timm's Twins: all of pos_block
])
def test_encodings_keep_out_of_weight_decay_what_their_references_do(name, options, kept):
    model = timm.create_model("deit_pico_patch4_28", pe=name, abs_pos="none", pe_options=options)
    decayed, not_decayed = _groups(model)
    assert kept <= not_decayed and not kept & decayed
    assert kept <= model.no_weight_decay()
    assert {"blocks.0.attn.qkv.weight", "blocks.0.mlp.fc1.weight", "head.weight"} <= decayed


def test_rope_axial_has_nothing_to_decay_and_nothing_else_changes():
    decayed, not_decayed = _groups(timm.create_model("deit_pico_patch4_28", pe="rope_axial", abs_pos="none"))
    plain_decayed, plain_not = _groups(timm.create_model("deit_pico_patch4_28", abs_pos="none"))
    assert (decayed, not_decayed) == (plain_decayed, plain_not)

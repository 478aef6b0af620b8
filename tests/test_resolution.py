"""Tests at other resolutions: how each mode makes the test image (upsample, canvas, crop), the fill (the
dataset's background, not 0 after normalisation), the metric names, and a run, a report and `ablate eval` that
use them."""
import json

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from ablate.data.build import build_crop_loader
from ablate.data.sizing import AtSize, canvas, fill_of, pad_to_patches, upsample
from ablate.protocol import Protocol, MetricAt, metric_name, parse
from ablate.results.report import at_resolutions, load_records, summarize
from ablate.results.study_figure import resolution_modes
from conftest import FAST, tree

MEAN, STD = [0.286], [0.353]  # Fashion-MNIST's
BLACK = (0 - MEAN[0]) / STD[0]  # its background after normalisation


def _batch(height: int = 8, width: int = 8) -> torch.Tensor:
    return torch.randn(2, 1, height, width, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("protocol, name", [
    (Protocol(), "top1@56"), (Protocol("canvas"), "top1@56/canvas"), (Protocol(positions="interpolate"),
     "top1@56/interpolate"), (Protocol("canvas", "interpolate"), "top1@56/canvas/interpolate"),
    (Protocol("crop"), "top1@56/crop")])
def test_names_keep_the_defaults_out_and_read_back(protocol, name):
    assert metric_name("top1", 56, protocol) == name
    assert parse(name) == MetricAt("top1", (56, 56), protocol)
    assert parse(metric_name("loss", [28, 36], protocol)) == MetricAt("loss", (28, 36), protocol)


@pytest.mark.parametrize("column", ["top1", "best_top1", "top1@", "top1@big", "top1@56/sideways",
                                    "top1@56/interpolate/canvas", "top1@56/upsample"])
def test_other_columns_are_not_test_metrics(column):
    assert parse(column) is None


def test_report_orders_test_columns_by_protocol_then_size():
    columns = ["top1", "top1@56/canvas", "top1@44", "top5@44", "top1@56", "top1@44/canvas/interpolate",
               "top1@44/interpolate", "top1@44/canvas"]
    assert at_resolutions(columns, "top1") == ["top1@44", "top1@56", "top1@44/interpolate", "top1@44/canvas",
                                               "top1@56/canvas", "top1@44/canvas/interpolate"]


def test_fill_is_the_background_normalised_or_each_images_border_median():
    images = _batch()
    torch.testing.assert_close(fill_of(images, 0, MEAN, STD).flatten(), torch.tensor([BLACK]))
    rgb = fill_of(torch.zeros(1, 3, 4, 4), [255, 0, 128], [0.5] * 3, [0.5] * 3).flatten()
    torch.testing.assert_close(rgb, torch.tensor([1.0, -1.0, 128 / 255 * 2 - 1]))
    framed = torch.full((1, 1, 6, 6), 3.0)
    framed[..., 1:-1, 1:-1] = -5.0
    framed[..., 0, 0] = 9.0  # one odd border pixel does not move the median
    assert fill_of(framed, "border", MEAN, STD).flatten().tolist() == [3.0]


def test_canvas_keeps_the_image_at_its_size_on_the_background_at_a_whole_patch_offset():
    images = _batch()
    fill = fill_of(images, 0, MEAN, STD)
    out = canvas(images, (22, 22), fill, patch=4)
    assert out.shape == (2, 1, 22, 22)
    assert torch.equal(out[..., 4:12, 4:12], images)  # (22 - 8) / 2 = 7 px, rounded down to whole patches: 4
    outside = torch.ones(22, 22, dtype=torch.bool)
    outside[4:12, 4:12] = False
    assert torch.all(out[..., outside] == fill.flatten()[0])
    with pytest.raises(ValueError, match="cannot hold"):
        canvas(images, (6, 6), fill, patch=4)


def test_upsample_resizes_as_before_and_pads_with_the_background_not_zero():
    images = _batch()
    fill = fill_of(images, 0, MEAN, STD)
    expected = torch.nn.functional.interpolate(images, size=(10, 10), mode="bicubic", align_corners=False,
                                               antialias=True)
    [(made, labels)] = list(AtSize([(images, torch.tensor([3, 4]))], "upsample", (10, 10), 4, 0, MEAN, STD))
    assert made.shape == (2, 1, 12, 12) and labels.tolist() == [3, 4]
    assert torch.equal(made[..., :10, :10], upsample(images, (10, 10))) and torch.equal(made[..., :10, :10], expected)
    assert torch.all(made[..., 10:, :] == fill.flatten()[0]) and torch.all(made[..., :, 10:] == fill.flatten()[0])
    assert pad_to_patches(images, 4, fill) is images  # whole patches already


def test_crop_resizes_the_stored_short_side_and_keeps_the_centre(tmp_path):
    """A folder stored at 40 x 30 (W x H), trained at 16: the crop test at 24 resizes the short side to 24
    (32 x 24) and keeps the centre 24 x 24; crop_pct 0.75 resizes it to 32 first."""
    pixels = (np.arange(30 * 40).reshape(30, 40) % 251).astype(np.uint8)
    for split in ("train", "val"):
        (tmp_path / split / "a").mkdir(parents=True)
        Image.fromarray(pixels).save(tmp_path / split / "a" / "0.png")
    data = OmegaConf.create({"name": "folder", "root": str(tmp_path), "img_size": 16, "in_chans": 1,
                             "train_limit": None, "val_limit": None, "subset": "seed", "mean": [0.0], "std": [1 / 255]})
    for crop_pct, short in ((None, 24), (0.75, 32)):
        evaluation = OmegaConf.create({"crop_pct": crop_pct, "interpolation": "bicubic", "batch_size": 8})
        [(images, _)] = list(build_crop_loader(data, evaluation, (24, 24), workers=0, seed=0))
        resized = Image.fromarray(pixels).resize((round(40 * short / 30), short), Image.BICUBIC)
        left, top = (resized.width - 24) // 2, (resized.height - 24) // 2
        centre = np.asarray(resized)[top:top + 24, left:left + 24]
        assert images.shape == (1, 1, 24, 24)
        assert np.abs(images[0, 0].numpy() - centre).mean() < 2.0  # PIL's resize vs torchvision's: a grey level


def test_a_run_records_every_size_mode_and_positions(cli, results):
    result = cli("train", *FAST, "pe=rope_axial", "pe.absolute=none", "eval.resolutions=[12,16]",
                 "eval.resolution_mode=[upsample,canvas]", "pe.positions=[extrapolate,interpolate]", results=results)
    assert result.exit_code == 0, result.output
    [record] = [json.loads(p.read_text()) for p in results.rglob("record.json")]
    tested = {name for name in record["metrics"] if "@" in name and name.startswith("top1")}
    assert tested == {f"top1@{size}{mode}{positions}" for size in (12, 16) for mode in ("", "/canvas")
                      for positions in ("", "/interpolate")}
    report = cli("report", "--format", "csv", results=results)
    assert "top1@16/canvas/interpolate_mean" in report.stdout
    summary = summarize(load_records(results), metrics=("top1", *at_resolutions(record["metrics"], "top1")))
    assert resolution_modes(summary) == ["upsample", "canvas"]  # one resolution panel each
    figure = cli("report", "--format", "png", "--output", str(results / "f.png"), results=results)
    assert figure.exit_code == 0 and (results / "f.png").stat().st_size > 0


def test_an_old_run_keeps_its_identity(cli, results):
    """The new options at their neutral values (upsample, no positions, the dataset's background) hash as absent."""
    from ablate.sweep.plan import plan_runs

    common = [*FAST, "name=probe", "eval.resolutions=[12]"]
    [plain] = plan_runs(common, results, sweep=False)
    [explicit] = plan_runs([*common, "eval.resolution_mode=upsample"], results, sweep=False)
    [canvas_run] = plan_runs([*common, "eval.resolution_mode=canvas"], results, sweep=False)
    assert plain.directory.name == explicit.directory.name != canvas_run.directory.name


BAD = {
    "unknown mode": (["eval.resolutions=[12]", "eval.resolution_mode=stretch"], "eval.resolution_mode='stretch'"),
    "a mode without sizes": (["eval.resolution_mode=canvas"], "give the sizes too"),
    "positions for an encoding without them": (["pe=alibi", "eval.resolutions=[12]", "pe.positions=interpolate"],
                                                "pe.name=alibi takes no pe.positions"),
    "unknown positions": (["pe=rope_axial", "eval.resolutions=[12]", "pe.positions=stretch"],
                          "pe.positions='stretch'"),
    "crop on a set stored at the training size": (["eval.resolutions=[12]", "eval.resolution_mode=crop"],
                                                  "digits is stored at 8x8"),
    "canvas smaller than the training size": (["eval.resolutions=[4]", "eval.resolution_mode=canvas"],
                                              "test size 4 is smaller"),
    "a background that is no pixel value": (["eval.resolutions=[12]", "data.background=300"], "data.background=300"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_test_settings_are_refused_before_anything_runs(cli, results, case):
    overrides, needle = BAD[case]
    result = cli("sweep", *FAST, *overrides, results=results)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines
    assert tree(results) == []


def test_eval_tests_a_checkpoint_at_other_sizes_and_knows_its_trained_size(cli, results):
    assert cli("train", *FAST, "pe=rope_mixed", "pe.absolute=none", results=results).exit_code == 0
    [checkpoint] = results.rglob("checkpoint.pth")
    result = cli("eval", str(checkpoint), *FAST, "pe=rope_mixed", "pe.absolute=none",
                 "eval.resolutions=[16]", "eval.resolution_mode=[upsample,canvas]",
                 "pe.positions=[extrapolate,interpolate]")
    assert result.exit_code == 0, result.output
    words = result.stdout.split()  # the console wraps the line
    for name in ("top1@16", "top1@16/interpolate", "top1@16/canvas", "top1@16/canvas/interpolate"):
        assert name in words
    wrong = cli("eval", str(checkpoint), *FAST, "pe=rope_mixed", "pe.absolute=none",
                "data.img_size=16")
    assert wrong.exit_code == 2 and "was trained on 8x8 images" in wrong.stderr

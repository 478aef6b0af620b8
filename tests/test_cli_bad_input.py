"""Each bad input: one line on stderr naming the problem, exit code 2, and nothing written."""
from pathlib import Path

import pytest

from conftest import FAST, tree

BAD = {
    "unknown group option": (["rpe=nope"], "unknown option rpe=nope"),
    "unknown key": (["train.nope=1"], "nope"),
    "wrong type": (["train.epochs=abc"], "train.epochs=abc"),
    "bias on V": (["rpe=irpe_k_bias", "rpe.rpe_on=v"], "bias mode on V"),
    "unknown RPE method": (["rpe=irpe_k", "rpe.method=nope"], "method='nope'"),
    "RPE option without an RPE": (["rpe=none", "rpe.mode=bias"], "rpe.method=none"),
    "missing dataset": (["data=fashion_mnist", "data.root=/nonexistent/fmnist"], "apt-get install"),
    "unknown model": (["model.name=nope"], "unknown model"),
    "baseline beside iRPE": (["pe=txl", "rpe=irpe_k"], "pe.name=txl replaces iRPE: use it with rpe=none"),
    "PEG after a block that does not exist": (["pe=peg", "pe.blocks=[9]"], "block 9 does not exist"),
    "an option the encoding does not take": (["pe=alibi", "pe.base=5"], "pe.name=alibi takes no pe.base"),
    "unknown encoding": (["pe.name=rope"], "pe.name='rope'"),
    "unknown absolute encoding": (["pe.absolute=fixed"], "pe.absolute='fixed'"),
    "unknown attention backend": (["model.attn_backend=fast"], "model.attn_backend='fast'"),
    "bad test resolution": (["eval.resolutions=[0]"], "eval.resolutions entry 0"),
    "DETR under the DeiT default experiment": (["model=detr_small", "data=composite", "train=detr_cpu"],
                                               "the experiment (fashion_rpe) is a classification study but the model is a detection model"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config(cli, results, case):
    overrides, needle = BAD[case]
    result = cli("sweep", *FAST, *overrides, results=results)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    assert tree(results) == []


@pytest.mark.parametrize("case", ["wrong type", "bias on V", "missing dataset"])
def test_bad_config_train(cli, results, case):
    overrides, needle = BAD[case]
    result = cli("train", *FAST, *overrides, results=results)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    assert tree(results) == []


def test_unwritable_results_dir(cli, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = cli("sweep", *FAST, results=blocker / "runs")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: results directory {blocker / 'runs'} cannot be created: " \
                                    f"{blocker} is not a directory: choose another with --results-dir"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_empty_sweep(cli, results):
    result = cli("sweep", *FAST, "seed=range(0,0)", results=results)
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: empty sweep: " + " ".join([*FAST, "seed=range(0,0)"]) + \
        " expands to no runs"
    assert tree(results) == []


def test_bad_sweep_job_names_the_job(cli, results):
    result = cli("sweep", *FAST, "rpe=irpe_k", "rpe.mode=bias,contextual", "rpe.rpe_on=v", results=results)
    assert result.exit_code == 2
    assert "bias mode on V" in result.stderr and "rpe.mode=bias" in result.stderr
    assert tree(results) == []


def test_sweep_syntax_refused_by_train(cli, results):
    result = cli("train", *FAST, "seed=0,1", results=results)
    assert result.exit_code == 2 and "use `ablate sweep`" in result.stderr
    assert tree(results) == []


def test_jobs_must_be_positive(cli, results):
    result = cli("sweep", *FAST, "-j", "0", results=results)
    assert result.exit_code == 2 and "-j/--jobs" in result.stderr
    assert tree(results) == []


@pytest.mark.parametrize("override,needle", [
    ("pe=peg", "pe.name=peg is not defined for DETR"),
    ("pe=rope_axial model.nheads=64", "needs a head_dim divisible by 4"),
    ("eval.resolutions=[64]", "eval.resolutions is for classification"),
    ("model.output_stride=4", "model.output_stride=4: expected 8, 16 or 32"),
    ("model.backbone_weights=/tmp/r18.pth", "backbone_from_scratch=true and model.backbone_weights"),
])
def test_bad_detr_backbone(cli, results, override, needle):
    result = cli("sweep", "experiment=detr_composite", "model.backbone_from_scratch=true", *override.split(),
                 results=results)
    assert result.exit_code == 2 and needle in result.stderr
    assert tree(results) == []


@pytest.mark.parametrize("override, needle", [
    ("train.epochs=0", "train.epochs=0 is out of range: expected >= 1"),
    ("train.epochs=-1", "train.epochs=-1 is out of range: expected >= 1"),
    ("train.batch_size=0", "train.batch_size=0 is out of range: expected >= 1"),
    ("train.base_lr=0", "train.base_lr=0.0 is out of range: expected > 0"),
    ("train.base_lr=nan", "train.base_lr=nan is out of range"),
    ("train.smoothing=1.5", "train.smoothing=1.5 is out of range: expected >= 0 and <= 1"),
    ("data.train_limit=0", "data.train_limit=0 is out of range: expected >= 1"),
    ("data.img_size=-8", "data.img_size=-8 is out of range"),
    ("eval.crop_pct=0", "eval.crop_pct=0.0 is out of range: expected > 0 and <= 1"),
    ("eval.batch_size=0", "eval.batch_size=0 is out of range"),
    ("runtime.workers=-1", "runtime.workers=-1 is out of range: expected >= 0"),
])
def test_values_out_of_range(cli, results, override, needle):
    for command in ("sweep", "train"):
        result = cli(command, *FAST, override, results=results)
        assert result.exit_code == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {needle}"), lines
        assert tree(results) == []


def test_every_range_names_a_key_of_some_config():
    from omegaconf import OmegaConf

    from ablate.config.compose import Composer
    from ablate.config.schema import ranges

    with Composer() as composer:
        configs = [composer.config(FAST), composer.config(["experiment=detr_composite"])]
    missing = [key for key in ranges() if all(OmegaConf.select(c, key, default="absent") == "absent" for c in configs)]
    assert missing == []


def test_null_limits_stay_allowed(cli, results):
    result = cli("sweep", *FAST, "data.train_limit=null", "data.val_limit=null", "--dry-run", results=results)
    assert result.exit_code == 0, result.output


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("command", ["sweep", "train"])
def test_results_dir_that_cannot_be_created(cli, command):
    # /proc refuses new directories even to root, whom permission bits would let through
    result = cli(command, *FAST, results=Path("/proc/x"))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: results directory /proc/x cannot be created in /proc (")
    assert len(result.stderr.strip().splitlines()) == 1 and not Path("/proc/x").exists()


def test_report_on_a_missing_directory_an_unknown_experiment_and_an_unknown_metric(cli, results):
    missing = cli("report", results=results)
    assert missing.exit_code == 2 and missing.stderr.startswith(f"error: no runs in {results}")
    assert cli("train", *FAST, results=results).exit_code == 0
    [name] = [p.name for p in results.iterdir()]
    unknown = cli("report", "--experiment", "fashion_rpe", results=results)
    assert unknown.exit_code == 2
    assert unknown.stderr == f"error: no experiment 'fashion_rpe' in {results} (did you mean {name}?); experiments " \
                             f"there: {name}\n"
    metric = cli("report", "--metric", "accuracy", results=results)
    assert metric.exit_code == 2
    assert metric.stderr == ("error: unknown metric 'accuracy' (--metric): the records have epochs, params, macs, "
                             "top1, top5, loss, train_loss, best_top1, wall_time_s, throughput\n")
    assert "model.name" not in metric.stderr  # metrics, not config keys
    factor = cli("report", "--by", "model.nope", results=results)
    assert factor.exit_code == 2 and factor.stderr.startswith("error: unknown factor 'model.nope' (--by)")

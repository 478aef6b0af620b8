"""Runs are filed by the command: under the experiment's name while the overrides stay within it, else under a
name made of the experiment's and the overrides'."""
import pytest
from conftest import FAST

from ablate.config.compose import Composer
from ablate.config.errors import ConfigError
from ablate.config.naming import NAME_LIMIT, filed_name
from ablate.results.rundir import run_dirs
from ablate.sweep.plan import resolve


@pytest.mark.parametrize("overrides, name", [
    ([], "fashion_rpe"),
    (["seed=0,1,2"], "fashion_rpe"),
    (["rpe=irpe_k"], "fashion_rpe"),  # a key the experiment sweeps
    (["rpe.method=euc,quant", "rpe.mode=bias"], "fashion_rpe"),  # keys below one it sweeps
    (["runtime.threads=1", "logging.tensorboard=false", "data.root=/elsewhere"], "fashion_rpe"),  # no identity
    (["data=digits", "train.epochs=1"], "fashion_rpe+data=digits+train.epochs=1"),
    (["train.epochs=1", "data=digits"], "fashion_rpe+data=digits+train.epochs=1"),  # order does not matter
    (["train.epochs=1,2"], "fashion_rpe+train.epochs=1,2"),  # a new factor: one study of both values
    (["model=deit_nano", "rpe=irpe_k", "train.epochs=20"], "fashion_rpe+model=deit_nano+train.epochs=20"),
    (["name=my_study", "data=digits"], "my_study"),
    (["experiment=detr_composite", "model.enc_rpe2d=null"], "detr_composite"),
    (["experiment=paper/table1"], "paper_proxy"),
    (["experiment=paper/table1", "scale=paper", "+experiment/paper/row=none", "data.root=/data/imagenet"],
     "paper_full"),
    (["~experiment", "model=detr_small", "data=composite", "train=detr_cpu"],
     "default+data=composite+model=detr_small+train=detr_cpu"),
])
def test_filed_name(overrides, name):
    with Composer() as composer:
        [composed] = {c["name"] for c in composer.configs(composer.jobs(overrides))}
        assert filed_name(composer, overrides, composed) == name


def test_long_names_are_cut_with_a_hash_of_the_whole():
    with Composer() as composer:
        name = filed_name(composer, FAST, "fashion_rpe")
        other = filed_name(composer, [*FAST, "train.base_lr=1e-3"], "fashion_rpe")
    assert name == "fashion_rpe+data=digits+model=deit_micro+data.train_limit=256+more-a5f47de0"
    assert len(other) <= NAME_LIMIT and other != name and other.startswith("fashion_rpe+data=digits+model=deit_micro+data.train_limit=256+more-")


def test_unsafe_characters_and_bad_names():
    with Composer() as composer:
        assert filed_name(composer, ["data.mean=[0.4]"], "fashion_rpe") == "fashion_rpe+data.mean=_0.4_"
        with pytest.raises(ConfigError, match="name takes one plain directory name"):
            filed_name(composer, ["name=../elsewhere"], "fashion_rpe")
        with pytest.raises(ConfigError, match="name takes one plain directory name"):
            filed_name(composer, ["name=a,b"], "fashion_rpe")


def test_a_sweep_over_scales_files_each_scale_under_its_own_name():
    _, configs = resolve(["experiment=paper/table4", "scale=proxy,paper", "train.epochs=2"])
    assert {c["name"] for c in configs} == {"paper_proxy+train.epochs=2", "paper_full+train.epochs=2"}


def test_plan_first_line_says_where_and_as_which_experiment(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("sweep", "data=digits", "train.epochs=1", "--dry-run", "--results-dir", "relative/runs")
    assert result.exit_code == 0, result.output
    name = "fashion_rpe+data=digits+train.epochs=1"
    assert result.stdout.splitlines()[0] == \
        f"experiment {name}: 6 runs, 0 done, 6 to do, in {tmp_path / 'relative' / 'runs' / name}"


def test_train_files_a_run_of_the_fast_settings_under_its_own_name(cli, results):
    result = cli("train", *FAST, results=results)
    assert result.exit_code == 0, result.output
    [run] = run_dirs(results)
    assert run.path.parent.name == "fashion_rpe+data=digits+model=deit_micro+data.train_limit=256+more-a5f47de0"
    assert result.stdout.startswith(f"experiment {run.path.parent.name}: run {run.name} (")
    assert run.record()["experiment"] == run.record()["config"]["name"] == run.path.parent.name
    listing = cli("report", "--experiment", run.path.parent.name, results=results)
    assert listing.exit_code == 0, listing.output


def test_help_states_the_rule(cli):
    for command in ("sweep", "train"):
        text = " ".join(cli(command, "--help").stdout.split())
        assert "Where runs go" in text and "fashion_rpe+data=digits+train.epochs=1" in text

"""Planning composes each group selection once and applies value overrides to it: the configs (and so the run
identities) must be exactly what Hydra composes job by job, and planning must not import torch."""
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from ablate.config.compose import Composer
from ablate.config.errors import ConfigError
from ablate.results.records import config_hashes

MIXED_GRIDS = [
    # value overrides of several types over a group override
    ["rpe=irpe_k", "rpe.method=euc,cross", "rpe.mode=bias,contextual", "rpe.ratio=1.9,3", "seed=0,1",
     "train.base_lr=1e-3,2", "pe.absolute=none,learned", "pe=none,alibi"],
    # the paper's rows: + group overrides, defaults-list interpolation (${scale}), per-row values
    ["experiment=paper/table4", "scale=proxy,paper", "train.epochs=1,2", "data.root=/d"],
    # a different model and dataset, lists and nulls
    ["model=deit_nano", "data=digits", "data.mean=[0.4]", "data.train_limit=null,100", "train.clip_grad=null,1.0"],
    # deleting a group, adding and force-adding keys: the last two take Hydra's own path
    ["~experiment", "+extra.note=hello,world", "++train.epochs=2", "rpe=none,irpe_qkv"],
    # DETR
    ["experiment=detr_composite", "model.enc_rpe2d='',rpe-2.0-product-ctx-1-k", "rpe=none", "seed=0,3"],
]


@pytest.mark.parametrize("grid", MIXED_GRIDS, ids=lambda g: g[0])
def test_fast_composition_equals_hydra_job_by_job(grid):
    with Composer() as composer:
        jobs = composer.jobs(grid)
        fast = composer.configs(jobs)
        slow = [OmegaConf.to_container(composer.config(job), resolve=True) for job in jobs]
    assert len(jobs) > 1
    assert fast == slow
    assert [config_hashes(c) for c in fast] == [config_hashes(c) for c in slow]
    assert all(type(a) is type(b) for f, s in zip(fast, slow) for a, b in zip(_leaves(f), _leaves(s)))


def _leaves(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _leaves(value)
    elif isinstance(node, list):
        for value in node:
            yield from _leaves(value)
    else:
        yield node


def test_values_are_converted_by_the_schema_as_hydra_does():
    with Composer() as composer:
        [config] = composer.configs([["train.base_lr=1", "train.epochs=3", "rpe.rpe_on=qk", "seed=07"]])
    assert config["train"]["base_lr"] == 1.0 and isinstance(config["train"]["base_lr"], float)
    assert config["seed"] == 7


@pytest.mark.parametrize("override, needle", [
    ("train.epochs=abc", "train.epochs=abc"),
    ("train.nope=1", "nope"),
    ("+train.epochs=2", "Could not append"),
    ("data.root=${nope}", "nope"),
])
def test_bad_values_get_hydras_own_message(override, needle):
    with Composer() as composer, pytest.raises(ConfigError, match=needle):
        composer.configs([[override]])


def test_a_sweep_value_in_one_run_is_refused():
    with Composer() as composer, pytest.raises(ConfigError, match="is a sweep"):
        composer.configs([["seed=0,1"]])


def test_planning_a_sweep_does_not_import_torch(tmp_path):
    code = ("import sys; from typer.testing import CliRunner; import ablate.cli; "
            f"r = CliRunner().invoke(ablate.cli.app, ['sweep', '--dry-run', '--results-dir', '{tmp_path}']); "
            "assert r.exit_code == 0, r.output; assert '6 runs, 0 done, 6 to do' in r.output, r.output; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr

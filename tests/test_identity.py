"""A run's identity comes from the schema's marks: non-identity fields never count, a field at its neutral value
hashes as if it did not exist, and the report's factors and the filing of studies read the same marks."""
import copy

import pandas as pd
import pytest
from omegaconf import OmegaConf

import ablate.config.identity as identity
from ablate.config.compose import Composer
from ablate.config.naming import within_study
from ablate.config.schema import is_identity, marks, neutral_values
from ablate.results.records import config_hashes
from ablate.results.report import varying


@pytest.fixture(scope="module")
def config() -> dict:
    with Composer() as composer:
        return OmegaConf.to_container(composer.config(["rpe=irpe_k"]), resolve=True)


def test_where_and_how_a_run_executes_is_no_part_of_it(config):
    moved = copy.deepcopy(config)
    moved["runtime"]["threads"], moved["logging"]["tensorboard"], moved["data"]["root"] = 7, False, "/elsewhere"
    assert config_hashes(moved) == config_hashes(config)
    moved["train"]["epochs"] += 1
    assert config_hashes(moved)[0] != config_hashes(config)[0]


def test_an_option_added_later_keeps_every_old_hash_at_its_neutral_value(config, monkeypatch):
    monkeypatch.setattr(identity, "neutral_values", lambda: {"pe.new_option": "as_before"})
    old = config_hashes(config)  # a run made before pe.new_option existed
    with_option = copy.deepcopy(config)
    with_option["pe"]["new_option"] = "as_before"
    assert config_hashes(with_option) == old
    with_option["pe"]["new_option"] = "something_else"
    assert config_hashes(with_option)[0] != old[0]


def test_drop_path_counts_unless_it_is_off(config):
    deep = copy.deepcopy(config)
    deep["train"]["drop_path"] = 0.1
    assert config["train"]["drop_path"] == 0.0 and config_hashes(deep)[1] != config_hashes(config)[1]
    assert neutral_values()["train.drop_path"] == 0.0


def test_marks_agree_across_a_groups_schemas_and_name_real_keys():
    table = marks()  # raises if two schemas of one group mark a field differently
    assert not is_identity("runtime.threads") and not is_identity("data.root") and not is_identity("logging")
    assert not is_identity("data.fashion_root") and is_identity("data.name") and is_identity("train.drop_path")
    assert "model.hidden_dim" in table and "data.num_train" in table  # DETR's and the composite set's fields


def test_filing_and_factors_read_the_marks(tmp_path):
    assert within_study("runtime.threads", []) and within_study("data.root", [])
    assert not within_study("train.drop_path", []) and within_study("rpe.mode", ["rpe"])
    frame = pd.DataFrame({"train.epochs": [1, 2], "runtime.threads": [1, 2], "data.root": ["a", "b"],
                          "seed": [0, 1], "name": ["x", "y"]})
    assert varying(frame) == ["train.epochs"]


def test_an_option_that_does_nothing_in_a_run_never_tells_runs_apart(config):
    """data.subset only chooses images when a limit keeps some: without one it is read as its neutral value."""
    limited = copy.deepcopy(config)
    assert limited["data"]["train_limit"] and limited["data"]["subset"] == "seed"
    fixed = copy.deepcopy(limited)
    fixed["data"]["subset"] = "fixed"
    assert config_hashes(fixed)[0] != config_hashes(limited)[0]  # another split of the data: another run
    whole, whole_fixed, before = (copy.deepcopy(limited) for _ in range(3))
    for c in (whole, whole_fixed, before):
        c["data"]["train_limit"] = c["data"]["val_limit"] = None
    whole_fixed["data"]["subset"] = "fixed"
    del before["data"]["subset"]  # a run made before the option existed
    assert config_hashes(whole) == config_hashes(whole_fixed) == config_hashes(before)

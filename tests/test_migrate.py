"""Runs made under an older config schema are found again after `ablate migrate`, and reports read them as they are."""
import copy
from pathlib import Path

from omegaconf import OmegaConf

from ablate.config.compose import Composer
from ablate.config.identity import identity_view
from ablate.results.migrate import migrate, stale, upgrade
from ablate.results.records import RECORD_SCHEMA, config_hashes, new_record
from ablate.results.report import load_records
from ablate.results.rundir import RunDir, run_dirs

SHIPPED = Path(__file__).resolve().parents[1] / "results" / "paper" / "runs"


def current(overrides: list[str]) -> dict:
    with Composer() as composer:
        return OmegaConf.to_container(composer.config(overrides), resolve=True)


def as_schema_1(config: dict) -> dict:
    """The same run as schema 1 resolved it: position encoding under model, no eval.resolutions, no train.crop
    (augmentation by dataset), eval.crop_pct 0.875 for everything."""
    old = copy.deepcopy(config)
    pe = old.pop("pe")
    del old["eval"]["resolutions"]
    del old["train"]["crop"], old["train"]["crop_scale"]
    old["eval"]["crop_pct"] = 0.875
    if old["task"] == "detection":
        old["model"]["position_embedding"] = {"sincos": "sine"}.get(pe["absolute"], pe["absolute"])
    else:
        old["model"]["abs_pos"] = pe["absolute"]
        old["model"]["baseline"] = None if pe["name"] == "none" else pe["name"]
    return old


def write_old_run(results: Path, config: dict, finished: bool = True) -> RunDir:
    old = as_schema_1(config)
    run = RunDir(results / old["name"] / config_hashes(old)[0][:12])
    run.path.mkdir(parents=True)
    run.write_config(OmegaConf.to_yaml(OmegaConf.create(old)))
    if finished:
        record = new_record(old, run.name, [], "completed", None, {"top1": 70.0})
        run.write_record({**record, "schema": 1})
    else:
        run.append_metrics({"epoch": 0, "top1": 60.0})
    return run


def test_old_runs_move_to_their_current_identity(tmp_path):
    configs = {"noape": current(["experiment=paper/table4", "+experiment/paper/row=noape"]),
               "txl": current(["experiment=paper/table5", "+experiment/paper/row=txl"]),
               "detr": current(["experiment=paper/table6", "+experiment/paper/row=detr_sine_ctx"]),
               "default": current(["rpe=irpe_k"])}
    old = {name: write_old_run(tmp_path, config) for name, config in configs.items()}
    unfinished = write_old_run(tmp_path, current(["rpe=irpe_k_bias"]), finished=False)
    assert all(run.name != RunDir.of(tmp_path, configs[name]).name for name, run in old.items())
    assert stale(tmp_path) == 4

    outcome = migrate(tmp_path)
    assert len(outcome["moved"]) == 5 and not outcome["busy"] and not outcome["clash"]
    for config in configs.values():
        run = RunDir.of(tmp_path, config)
        record = run.finished()
        # Options added since schema 4 are absent from a migrated record, as from any record made before them:
        # they read as their neutral values, and the identity is the same.
        assert record is not None and record["schema"] == RECORD_SCHEMA
        assert identity_view(record["config"]) == identity_view(config)
        assert record["identity"]["config_hash"] == config_hashes(config)[0]
        assert identity_view(OmegaConf.to_container(OmegaConf.load(run / RunDir.CONFIG))) == identity_view(config)
    moved = RunDir.of(tmp_path, current(["rpe=irpe_k_bias"]))
    assert moved.metrics() == [{"epoch": 0, "top1": 60.0}] and not unfinished.path.exists()
    assert stale(tmp_path) == 0 and migrate(tmp_path)["current"] and len(list(run_dirs(tmp_path))) == 5


def test_reports_read_old_records_as_current_ones(tmp_path):
    config = current(["experiment=paper/table4", "+experiment/paper/row=noape"])
    write_old_run(tmp_path, config)
    frame = load_records(tmp_path)
    assert frame.loc[0, "pe.absolute"] == "none" and "model.abs_pos" not in frame.columns
    assert frame.loc[0, "group_hash"] == config_hashes(config)[1]


def test_current_records_are_left_alone():
    record = {"schema": RECORD_SCHEMA, "config": {"name": "x"}}
    assert upgrade(record) is record


def test_drop_path_joins_the_identity_and_only_runs_that_used_it_move(tmp_path):
    """Schema 3's rule left every *_path key out of the hash, train.drop_path included: runs at 0.0 keep their
    hash (and need no migration), a run with stochastic depth moves to the hash that counts it."""
    plain = current(["rpe=irpe_k"])
    deep = current(["rpe=irpe_k", "train.drop_path=0.1", "seed=1"])  # another seed: schema 3 hashed both alike
    assert config_hashes(plain)[1] != config_hashes(deep)[1]  # two settings now
    for config in (plain, deep):
        without = {**config, "train": {k: v for k, v in config["train"].items() if k != "drop_path"}}
        old_hash = config_hashes(without)[0]  # what schema 3 hashed: the config less drop_path
        run = RunDir(tmp_path / config["name"] / old_hash[:12])
        run.path.mkdir(parents=True)
        record = new_record(config, run.name, [], "completed", None, {"top1": 70.0})
        record["identity"]["config_hash"], record["schema"] = old_hash, 3
        record["identity"]["group_hash"] = config_hashes({k: v for k, v in without.items() if k != "seed"})[1]
        run.write_record(record)
    assert config_hashes(plain)[0][:12] == RunDir.of(tmp_path, plain).name
    assert stale(tmp_path) == 1
    outcome = migrate(tmp_path)
    assert len(outcome["moved"]) == 1 and len(outcome["current"]) == 1
    assert RunDir.of(tmp_path, deep).finished()["identity"]["config_hash"] == config_hashes(deep)[0]
    assert RunDir.of(tmp_path, plain).finished()["schema"] == 3  # untouched: nothing about it changed


def test_every_shipped_record_is_at_its_current_identity():
    """The proxy reproduction in results/paper/runs is migrated: each run sits where a sweep looks for it."""
    runs = list(run_dirs(SHIPPED))
    assert len(runs) >= 100
    for run in runs:
        record = run.record()
        assert upgrade(record) is record and run.name == config_hashes(record["config"])[0][:12], run.name


def test_every_row_of_the_shipped_reproduction_finds_its_runs():
    """Each paper row that has a proxy config finds its shipped runs (at least two seeds), as composed today."""
    from ablate.results.paper.reference import TABLES
    from ablate.results.paper.report import layouts

    proxy = [layout for layout in layouts(SHIPPED, list(TABLES)) if layout.scale == "proxy"]
    assert {layout.reference.name for layout in proxy} == set(TABLES)
    for layout in proxy:
        for line in layout.lines:
            if "proxy" in line.row.runs:
                assert line.ours[layout.reference.delta].n >= 2, (layout.reference.name, line.row.key)

"""Run records: identity hashes, atomic writes, tolerant reading, report aggregation and formats."""
import io
import json
import math

import pandas as pd
import pytest

from ablate.results.records import config_hashes
from ablate.results.rundir import RunDir, run_dirs
from ablate.results.report import default_factors, load_records, summarize, to_csv, to_json, to_latex, to_markdown

CONFIG = {"name": "exp", "task": "classification", "seed": 0,
          "model": {"name": "deit_micro_patch4_28", "abs_pos": "learned"},
          "rpe": {"method": "product", "mode": "contextual"},
          "data": {"name": "fashion_mnist", "root": "/usr/share/datasets/fashion-mnist", "mean": [0.3]},
          "train": {"epochs": 2}, "runtime": {"device": "cpu", "threads": 2}, "logging": {"tensorboard": True}}


def with_changes(**changes) -> dict:
    config = json.loads(json.dumps(CONFIG))
    for dotted, value in changes.items():
        node = config
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node[key]
        node[leaf] = value
    return config


def test_identity_ignores_paths_runtime_and_logging():
    base = config_hashes(CONFIG)
    assert config_hashes(with_changes(data__root="/elsewhere")) == base
    assert config_hashes(with_changes(runtime__threads=16, runtime__device="cuda")) == base
    assert config_hashes(with_changes(logging__tensorboard=False)) == base


def test_seed_changes_the_run_but_not_its_group():
    seeded = config_hashes(with_changes(seed=1))
    base = config_hashes(CONFIG)
    assert seeded[0] != base[0] and seeded[1] == base[1]
    other = config_hashes(with_changes(rpe__mode="bias"))
    assert other[0] != base[0] and other[1] != base[1]


def test_write_atomic_replaces_whole_and_leaves_no_temp(tmp_path):
    target = tmp_path / "record.json"
    RunDir(tmp_path).replace("record.json", "old")
    RunDir(tmp_path).replace("record.json", "new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_read_record_names_an_unreadable_file(tmp_path):
    (tmp_path / RunDir.RECORD).write_text('{"status": "comp')
    with pytest.raises(ValueError, match=str(tmp_path / RunDir.RECORD)):
        RunDir(tmp_path).record()
    assert RunDir(tmp_path / "absent").record() is None


def make_record(results, config: dict, top1: float, status: str = "completed") -> None:
    config_hash, group_hash = config_hashes(config)
    directory = results / config["name"] / config_hash[:12]
    directory.mkdir(parents=True)
    RunDir(directory).write_record({"run_id": directory.name, "experiment": config["name"], "status": status,
                             "error": None, "identity": {"config_hash": config_hash, "group_hash": group_hash},
                             "metrics": {"top1": top1, "top5": top1 + 5}, "config": config})


def test_report_means_over_seeds_and_skips_unreadable(tmp_path, capsys):
    values = {("contextual", 0): 80.0, ("contextual", 1): 82.0, ("contextual", 2): 84.0,
              ("bias", 0): 70.0, ("bias", 1): 71.0}
    for (mode, seed), top1 in values.items():
        make_record(tmp_path, with_changes(rpe__mode=mode, seed=seed), top1)
    make_record(tmp_path, with_changes(rpe__mode="bias", seed=7), 1.0, status="failed")
    broken = tmp_path / "exp" / "zzzzbroken"
    broken.mkdir()
    (broken / RunDir.RECORD).write_text("not json")

    frame = load_records(tmp_path)
    assert str(broken / RunDir.RECORD) in capsys.readouterr().err
    assert len(frame) == 6 and default_factors(frame) == ["rpe.mode"]
    summary = summarize(frame).table.set_index("rpe.mode")
    assert summary.loc["contextual", "top1_mean"] == pytest.approx(82.0)
    assert summary.loc["contextual", "top1_std"] == pytest.approx(2.0)
    assert summary.loc["bias", "top1_std"] == pytest.approx(math.sqrt(0.5))
    assert summary.loc["bias", "n"] == 2 and summary.loc["contextual", "n"] == 3


def test_nan_metrics_are_written_as_null_and_old_nan_records_still_load(tmp_path, capsys):
    # COCO's APm is NaN on a set without medium objects: the record must stay strict JSON.
    config = with_changes(seed=0)
    make_record(tmp_path, config, 70.0)
    directory = next((tmp_path / "exp").iterdir())
    record = RunDir(directory).record()
    record["metrics"]["APm"] = math.nan
    RunDir(directory).write_record(record)
    assert '"APm": null' in (directory / RunDir.RECORD).read_text()
    old = tmp_path / "exp" / "oldnanrecord"
    old.mkdir()
    (old / RunDir.RECORD).write_text(json.dumps({**record, "metrics": {"top1": 60.0, "APm": math.nan}}))
    frame = load_records(tmp_path)
    assert capsys.readouterr().err == "" and sorted(frame["top1"]) == [60.0, 70.0]


def test_report_formats(tmp_path):
    for seed, top1 in enumerate((80.0, 82.0)):
        make_record(tmp_path, with_changes(seed=seed), top1)
    make_record(tmp_path, with_changes(rpe__mode="bias"), 70.0)
    summary = summarize(load_records(tmp_path), metrics=("top1",))
    md = to_markdown(summary)
    assert "81.00 [68.29, 93.71]" in md and "each metric: mean [95% interval of the mean" in md and "70.00 " in md
    csv = pd.read_csv(io.StringIO(to_csv(summary)))
    assert list(csv.columns) == ["rpe.mode", "top1_mean", "top1_std", "top1_count", "top1_low", "top1_high", "n"]
    rows = json.loads(to_json(summary))
    assert {r["rpe.mode"]: r["n"] for r in rows} == {"bias": 1, "contextual": 2}
    latex = to_latex(summary)
    assert "81.00 [68.29, 93.71]" in latex and r"\toprule" in latex and r"\caption{each metric: mean [95\%" in latex


def test_report_by_chosen_factor_and_unknown_factor(tmp_path):
    make_record(tmp_path, with_changes(seed=0), 80.0)
    make_record(tmp_path, with_changes(seed=1), 90.0)
    frame = load_records(tmp_path)
    by_seed = summarize(frame, ["seed"]).table
    assert list(by_seed["top1_mean"]) == [80.0, 90.0]
    with pytest.raises(ValueError, match="unknown factor 'rpe.nope'"):
        summarize(frame, ["rpe.nope"])


def test_report_cli_writes_output_file(cli, tmp_path):
    make_record(tmp_path / "r", with_changes(seed=0), 80.0)
    out = tmp_path / "table.md"
    result = cli("report", "--format", "md", "--output", str(out), results=tmp_path / "r")
    assert result.exit_code == 0 and "80.00" in out.read_text()
    assert list(run_dirs(tmp_path / "r"))


def test_report_cli_without_records_fails(cli, tmp_path):
    result = cli("report", results=tmp_path / "empty")
    assert result.exit_code == 2
    assert result.stderr == f"error: no runs in {tmp_path / 'empty'}: run `ablate sweep` first, or point " \
                            "--results-dir at your results\n"


def test_report_filters_by_experiment(tmp_path):
    make_record(tmp_path, with_changes(name="a"), 80.0)
    make_record(tmp_path, with_changes(name="b"), 90.0)
    assert list(load_records(tmp_path, "a")["top1"]) == [80.0]
    both = summarize(load_records(tmp_path)).table
    assert list(both["experiment"]) == ["a", "b"] and list(both["top1_mean"]) == [80.0, 90.0]

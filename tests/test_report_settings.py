"""A report row averages only runs whose configs differ in the seed alone; one bad record never breaks a table."""
import json

import pandas as pd
import pytest
from test_records import make_record, with_changes

from ablate.results.records import config_hashes
from ablate.results.report import load_records, readable, summarize
from ablate.results.rundir import RunDir


def _mixed(results) -> None:
    """The issue's case under one experiment: 3-epoch Fashion-MNIST runs and a 1-epoch digits run."""
    for seed, top1 in enumerate((68.5, 69.0, 70.0)):
        make_record(results, with_changes(seed=seed, rpe__method="none", rpe__mode=None, train__epochs=3), top1)
    make_record(results, with_changes(seed=0, rpe__method="none", rpe__mode=None, train__epochs=1,
                                      data__name="digits"), 20.0)
    for seed, top1 in enumerate((75.0, 76.0)):
        make_record(results, with_changes(seed=seed, train__epochs=3), top1)


def test_rows_split_by_the_keys_that_differ_and_a_note_names_them(tmp_path):
    _mixed(tmp_path)
    summary = summarize(load_records(tmp_path), ["rpe.mode", "rpe.method"], ("top1",))
    # train.epochs differs too, but data.name already tells these settings apart: one column per real split
    assert summary.factors == ["rpe.mode", "rpe.method", "data.name"]
    rows = readable(summary).set_index(["rpe.method", "data.name"])
    assert rows.loc[("none", "fashion_mnist"), "top1"] == "69.17 [67.27, 71.06]" and rows.loc[("none", "fashion_mnist"), "n"] == 3
    assert rows.loc[("none", "digits"), "top1"] == "20.00" and rows.loc[("none", "digits"), "n"] == 1
    assert rows.loc[("product", "fashion_mnist"), "top1"] == "75.50 [69.15, 81.85]"  # t(0.975, 1) = 12.71: two seeds say little
    assert summary.notes == ["rows also split by data.name: only runs that differ in the seed alone "
                             "are averaged (--by to choose the columns, --where KEY=VALUE to keep one value)"]
    # every row holds one setting
    assert summary.runs.groupby("setting")["group_hash"].nunique().max() == 1


def test_cli_report_adds_columns_and_where_keeps_one_value(cli, tmp_path):
    _mixed(tmp_path)
    mixed = cli("report", "--experiment", "exp", "--by", "rpe.mode,rpe.method", "--metric", "top1",
                results=tmp_path)
    assert mixed.exit_code == 0, mixed.output
    assert "data.name" in mixed.stdout and "digits" in mixed.stdout and "69.17 [67.27, 71.06]" in mixed.stdout
    assert "note: rows also split by data.name" in mixed.stdout
    assert "56.88" not in mixed.stdout  # the pooled row: digits averaged with Fashion-MNIST
    kept = cli("report", "--by", "rpe.mode,rpe.method", "--metric", "top1", "--where", "data.name=fashion_mnist",
               "--format", "json", results=tmp_path)
    assert kept.exit_code == 0, kept.output
    rows = json.loads(kept.stdout)
    assert sorted((r["rpe.method"], r["n"]) for r in rows) == [("none", 3), ("product", 2)]
    assert all("data.name" not in r for r in rows) and kept.stderr == ""
    wrong = cli("report", "--where", "data.nope=1", results=tmp_path)
    assert wrong.exit_code == 2 and wrong.stderr.startswith("error: --where data.nope=1: unknown config key")
    none = cli("report", "--where", "train.epochs=7", results=tmp_path)
    assert none.exit_code == 2 and "train.epochs is 1, 3" in none.stderr


def test_settings_no_config_column_tells_apart_are_still_separate_rows(tmp_path):
    for seed, top1 in enumerate((80.0, 81.0)):
        make_record(tmp_path, with_changes(seed=seed), top1)
    odd = RunDir(tmp_path / "exp" / "fromanotherschema")
    odd.path.mkdir()
    record = RunDir(next(p for p in (tmp_path / "exp").iterdir() if p != odd.path)).record()
    record["identity"]["group_hash"] = "f" * 64  # hashed by other code: same config columns, other identity
    record["metrics"]["top1"] = 10.0
    odd.write_record({**record, "run_id": odd.name})
    summary = summarize(load_records(tmp_path), metrics=("top1",))
    assert "group_hash" in summary.factors and sorted(summary.table["n"]) == [1, 2]
    assert sorted(summary.table["top1_mean"]) == [10.0, 80.5]


def test_a_record_without_the_metric_and_a_diverged_run_do_not_break_the_table(cli, tmp_path):
    for seed, top1 in enumerate((80.0, 82.0)):
        make_record(tmp_path, with_changes(seed=seed), top1)
    no_metrics = with_changes(seed=2)
    config_hash, group_hash = config_hashes(no_metrics)
    run = RunDir(tmp_path / "exp" / config_hash[:12])
    run.path.mkdir()
    run.write_record({"run_id": run.name, "experiment": "exp", "status": "completed", "error": None,
                      "identity": {"config_hash": config_hash, "group_hash": group_hash},
                      "metrics": {"epochs": 0, "params": 1000}, "config": no_metrics})  # train.epochs=0, before ranges
    make_record(tmp_path, with_changes(seed=0, rpe__mode="bias"), 0.0, status="diverged")
    make_record(tmp_path, with_changes(seed=1, rpe__mode="bias"), 0.0, status="failed")
    result = cli("report", "--metric", "top1,params", results=tmp_path)
    assert result.exit_code == 0, result.output
    table = readable(summarize(load_records(tmp_path), metrics=("top1", "params"))).set_index("rpe.mode")
    assert table.loc["contextual", "top1"] == "81.00 [68.29, 93.71] (n=2)" and table.loc["contextual", "n"] == 3
    assert table.loc["bias", "top1"] == "-" and table.loc["bias", "n"] == 0 and table.loc["bias", "diverged"] == 1
    assert "81.00 [68.29, 93.71] (n=2)" in result.stdout and "note: not in the table: 1 failed" in result.stdout


def test_a_task_metric_no_record_has_is_shown_missing_and_an_unknown_one_lists_the_metrics(cli, tmp_path):
    config = with_changes(seed=0)
    config_hash, group_hash = config_hashes(config)
    run = RunDir(tmp_path / "exp" / config_hash[:12])
    run.path.mkdir(parents=True)
    run.write_record({"run_id": run.name, "experiment": "exp", "status": "completed", "error": None,
                      "identity": {"config_hash": config_hash, "group_hash": group_hash},
                      "metrics": {"epochs": 0, "params": 1000, "macs": 5}, "config": config})
    shown = cli("report", results=tmp_path)  # default metrics top1, top5: no record has them
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.count(" - ") >= 2
    unknown = cli("report", "--metric", "top7", results=tmp_path)
    assert unknown.exit_code == 2
    assert unknown.stderr == "error: unknown metric 'top7' (--metric): the records have epochs, params, macs\n"


def test_paper_rows_match_one_setting_only(tmp_path, capsys):
    from test_paper_layouts import md_row, report, write_runs

    write_runs(tmp_path, "table1", {"none": [70.0, 70.2, 69.8], "product_ctx": [73.5, 73.6, 73.4]})
    # the same row with one more epoch and the same seeds: another setting, which the row must not take in
    for path in list((tmp_path / "paper_proxy").iterdir()):
        record = RunDir(path).record()
        config = json.loads(json.dumps(record["config"]))
        config["train"]["epochs"] += 1
        config_hash, group_hash = config_hashes(config)
        other = RunDir(path.parent / config_hash[:12])
        other.path.mkdir()
        other.write_record({**record, "run_id": other.name, "config": config,
                            "identity": {**record["identity"], "config_hash": config_hash, "group_hash": group_hash},
                            "metrics": {**record["metrics"], "top1": 10.0}})
    assert len(list((tmp_path / "paper_proxy").iterdir())) == 12
    text = report(tmp_path, capsys=capsys)
    assert md_row(text, "DeiT-S (no RPE)")[3] == "70.00 [69.50, 70.50] (3)"
    assert md_row(text, "Product", "yes", "contextual")[3] == "73.50 [73.25, 73.75] (3)"
    assert "10.00" not in text


@pytest.mark.parametrize("fmt", ["md", "csv", "latex"])
def test_notes_go_to_stderr_for_files_and_documents(cli, tmp_path, fmt):
    _mixed(tmp_path)
    result = cli("report", "--by", "rpe.method", "--metric", "top1", "--format", fmt, results=tmp_path)
    assert result.exit_code == 0 and "note: rows also split by" in result.stderr
    assert "note:" not in result.stdout
    if fmt == "csv":
        assert len(pd.read_csv(pd.io.common.StringIO(result.stdout))) == 3

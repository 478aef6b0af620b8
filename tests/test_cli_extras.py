"""The expected things: --version, `ablate config`, `ablate ls` in order with overrides, absolute paths."""
import importlib.metadata
import os

import yaml
from conftest import FAST

from ablate.results.rundir import RunDir


def test_version(cli):
    result = cli("--version")
    assert result.exit_code == 0 and result.stdout == f"ablate {importlib.metadata.version('ablate')}\n"


def test_config_prints_the_resolved_config_of_a_run(cli, results):
    result = cli("config", *FAST, "rpe=irpe_k", results=results)
    assert result.exit_code == 0, result.output
    first, rest = result.stdout.split("\n", 1)
    name = "fashion_rpe+data=digits+model=deit_micro+data.train_limit=256+more-a5f47de0"
    assert first.startswith(f"# experiment {name}, run directory {results / name}/")
    config = yaml.safe_load(rest)
    assert config["name"] == name and config["rpe"]["method"] == "product" and config["data"]["name"] == "digits"
    assert config["train"]["epochs"] == 2 and config["pe"]["absolute"] == "none"  # the experiment's setting
    assert not results.exists()
    sweep = cli("config", *FAST, "seed=0,1", results=results)
    assert sweep.exit_code == 2 and "use `ablate sweep`" in sweep.stderr


def _run(results, experiment: str, name: str, started: str | None, overrides: list[str], status: str | None):
    run = RunDir(results / experiment / name)
    run.path.mkdir(parents=True)
    if started is not None:
        run.write_started(overrides, started)
    if status is not None:
        run.write_record({"run_id": name, "experiment": experiment, "status": status, "error": None,
                          "identity": {"overrides": overrides}, "metrics": {"top1": 50.0},
                          "provenance": {"started": started}, "config": {}})
    return run


def test_ls_sorts_by_experiment_then_start_and_never_blanks_overrides(cli, tmp_path, monkeypatch):
    results = tmp_path / "results"
    _run(results, "b_study", "aaaaaaaaaaaa", "2026-01-02T10:00:00+00:00", ["seed=1", "rpe=none"], "completed")
    _run(results, "b_study", "bbbbbbbbbbbb", "2026-01-01T10:00:00+00:00", ["seed=0", "rpe=none"], "completed")
    interrupted = _run(results, "a_study", "cccccccccccc", "2026-01-03T10:00:00+00:00", ["seed=4"], None)
    interrupted.append_metrics({"epoch": 0, "top1": 40.0})
    untouched = _run(results, "a_study", "dddddddddddd", None, [], None)
    os.utime(untouched.path, (0, 0))  # no started.json: the directory's time (1970) sorts it first
    monkeypatch.chdir(tmp_path)
    result = cli("ls", "--results-dir", "results")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.splitlines()[0] == f"runs in {results}"
    order = [out.index(s) for s in ("a_study", "dddddddddddd", "cccccccccccc", "b_study", "bbbbbbbbbbbb",
                                    "aaaaaaaaaaaa")]
    assert order == sorted(order)
    line = next(x for x in out.splitlines() if "cccccccccccc" in x)
    assert "incomplete" in line and "seed=4" in line and "40.00" in line  # overrides from started.json
    assert "(defaults)" in next(x for x in out.splitlines() if "dddddddddddd" in x)
    assert "(every run: rpe=none)" in out  # said once for the experiment
    assert max(len(x) for x in out.splitlines()) <= 80

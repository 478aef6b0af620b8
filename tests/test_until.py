"""`ablate sweep --until-resolved`: rounds of added seeds on a tiny study whose runs record known numbers.

The study is Table 1's sweep cut to three rows and two findings (a monkeypatched reference): finding 1
(euc_ctx > none, 5 points on the same seed noise) resolves at the first look, 3 seeds; finding 2
(euc_bias > none, 1 point on a spread of about 1.4) only at the last, 16 seeds. Runs are ordinary sweep
runs (planned, located, skipped and resumed by the sweep) whose training is replaced by writing a record
with top-1 = the row's level + the seed's noise.
"""
import json

import re

import pytest
from omegaconf import OmegaConf

import ablate.results.paper.report
import ablate.results.paper.runs
import ablate.sweep.launch
import ablate.sweep.until
from ablate.results.paper.reference import Claim, Finding, Reference, Row
from ablate.results.paper.report import layouts
from ablate.results.paper.render import to_markdown
from ablate.results.records import new_record
from ablate.results.rundir import RunDir, run_dirs

LEVEL = {"none": 70.0, "euc_ctx": 75.0, "euc_bias": 71.0}
NOISE = [0.0, 1.2, -1.1, 0.9, -0.8, 1.0, -1.3, 0.4, -0.2, 0.7, -0.6, 1.1, -0.9, 0.2, -0.4, 0.8]
BIAS_NOISE = [0.9, -1.0, 0.1, -1.2, 1.1, -0.3, 0.6, -0.9, 1.3, -0.5, 0.2, -1.1, 0.8, -0.7, 0.4, -0.1]
# euc_ctx moves with no RPE give or take a twentieth of a point: its +5 is clear, but three seeds (2 df) cannot
# reach the first look's nominal level under O'Brien-Fleming spending (6e-9 with Holm), six can. The very same +5
# at every seed would be no test at all.
CTX_NOISE = [0.05, -0.05, 0.02, -0.03, 0.04, -0.02, 0.0, 0.03, -0.05, 0.02, 0.0, -0.03, 0.05, -0.04, 0.02, 0.0]
FIRST = ["experiment=paper/table1", "+experiment/paper/row=none,euc_bias,euc_ctx", "seed=0,1,2",
         "logging.tensorboard=false", "-j", "1"]  # -j 1: in this process, where the study fixture replaces training


def tiny_reference() -> Reference:
    rows = tuple(Row(key, {"proxy": key}, {"method": key}, {"top1": level + 9.9}, {}, None if key == "none" else "none")
                 for key, level in LEVEL.items())
    findings = (Finding(1, "Contextual Euclidean beats no RPE.", (Claim(("euc_ctx",), ("none",), "greater"),)),
                Finding(2, "Bias Euclidean beats no RPE.", (Claim(("euc_bias",), ("none",), "greater"),)))
    return Reference("table1", "Tiny study", "test", ("method",), ("top1",), "top1", "none", 0.5, rows, findings)


@pytest.fixture
def study(monkeypatch):
    """The tiny reference in place of Table 1's, and training replaced by writing the record; yields the
    list of (row, seed) trained, in order."""
    trained = []
    monkeypatch.setattr(ablate.sweep.until, "load_reference", lambda table: tiny_reference())

    def execute(cfg, directory, overrides):
        values = dict(o.split("=", 1) for o in overrides)
        row, seed = values["+experiment/paper/row"], int(values["seed"])
        if (row, seed) == getattr(execute, "interrupt", None):
            execute.interrupt = None
            raise KeyboardInterrupt
        trained.append((row, seed))
        top1 = LEVEL[row] + (BIAS_NOISE if row == "euc_bias" else NOISE)[seed] + (CTX_NOISE[seed] if row == "euc_ctx"
                                                                                    else 0.0)
        config = OmegaConf.to_container(cfg, resolve=True)
        run = RunDir(directory)
        run.path.mkdir(parents=True, exist_ok=True)
        record = new_record(config, run.name, overrides, "completed", None, {"top1": top1})
        run.write_record(record)
        return record

    monkeypatch.setattr(ablate.sweep.launch, "execute", execute)
    execute.trained = trained
    return execute


def seeds_on_disk(results) -> dict[str, list[int]]:
    out = {}
    for run in run_dirs(results):
        record = run.record()
        values = dict(o.split("=", 1) for o in record["identity"]["overrides"])
        out.setdefault(values["+experiment/paper/row"], []).append(int(values["seed"]))
    return {row: sorted(seeds) for row, seeds in out.items()}


def rounds(text: str) -> list[str]:
    return re.findall(r"round \d+: \d+ runs", text)


@pytest.fixture
def tiny_report(monkeypatch):
    """The report reads the tiny reference too (its rows' hashes are cached: cleared before and after)."""
    for module in (ablate.results.paper.report, ablate.results.paper.runs):
        monkeypatch.setattr(module, "load_reference", lambda table: tiny_reference())
    ablate.results.paper.runs.row_hashes.cache_clear()
    yield
    ablate.results.paper.runs.row_hashes.cache_clear()


def test_seeds_are_added_to_the_open_findings_rows_look_by_look_until_it_resolves(cli, results, study, tiny_report):
    result = cli("sweep", *FIRST, "--until-resolved", "--max-seeds", "16", results=results)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "looks declared: 3, 6, 12, 16 seeds per row" in out
    assert json.loads((results / "paper_proxy" / "until-table1.json").read_text())["looks"] == [3, 6, 12, 16]
    # Round 1 is the planned sweep; finding 1 resolves at the second look, so round 2 takes both findings' rows to
    # 6 seeds (9 runs: none serves both) and later rounds add seeds to none and euc_bias only.
    assert sorted(study.trained[:9]) == sorted((r, s) for r in LEVEL for s in (0, 1, 2))
    assert "finding 1: not resolved at this scale" in out and "finding 1: holds: resolved with 6 seeds per row" in out
    assert "finding 2: not resolved at this scale: needs about" in out
    # Each round takes the open claim to its next declared look, whatever its estimate says.
    assert rounds(out) == ["round 2: 9 runs", "round 3: 12 runs", "round 4: 8 runs"]
    assert "finding 2 (next look at 6 seeds per row; all its open claims would hold with 80% at about" in out
    assert "6 runs, seeds per row: euc_bias to 6, none to 6" in out.replace("\n", "")
    assert all(row != "euc_ctx" for row, _ in study.trained[18:]) and "for finding 2" in out
    assert "finding 2: holds: resolved with 16 seeds per row" in out and out.count("every finding resolved.") == 1
    assert seeds_on_disk(results) == {"none": list(range(16)), "euc_bias": list(range(16)), "euc_ctx": list(range(6))}
    assert len(study.trained) == len(set(study.trained)) == 38 and "sweep finished: 38 completed" in out
    assert "Table: ablate report --experiment paper/table1 " in out.replace("\n", " ")  # the paper's layout
    # The report tests the same looks: at 16 seeds, look 4 of 4, as the loop did.
    report = to_markdown(layouts(results, ["table1"]))
    assert "euc_bias > none: " in report and "(paired t, 16 seeds, look 4 of 4)" in report
    assert "**holds**: resolved with 16 seeds per row" in report
    assert "looks declared in advance at 3, 6, 12, 16" in report

    again = cli("sweep", *FIRST, "--until-resolved", "--max-seeds", "16", results=results)
    assert again.exit_code == 0 and "every finding resolved." in again.stdout and len(study.trained) == 38


def test_the_last_look_stops_the_rounds_and_says_so(cli, results, study):
    result = cli("sweep", *FIRST, "--until-resolved", "--max-seeds", "5", results=results)
    assert result.exit_code == 0, result.output
    assert "looks declared: 3, 5 seeds per row" in result.stdout
    assert rounds(result.stdout) == ["round 2: 4 runs"]
    assert "finding 2: not resolved at this scale: needs about" in result.stdout
    assert "last look done (5 seeds per row, --max-seeds 5): 1 finding(s) not resolved." in result.stdout
    assert seeds_on_disk(results) == {"none": list(range(5)), "euc_bias": list(range(5)), "euc_ctx": [0, 1, 2]}


def test_a_declared_design_cannot_change(cli, results, study):
    assert cli("sweep", *FIRST, "--until-resolved", "--max-seeds", "5", results=results).exit_code == 0
    before = seeds_on_disk(results)
    other = cli("sweep", *FIRST, "--until-resolved", "--max-seeds", "12", results=results)
    assert other.exit_code == 2 and len(other.stderr.splitlines()) == 1
    assert "was declared with --max-seeds 5 (looks at 3, 5 seeds per row)" in other.stderr
    assert "use --max-seeds 5" in other.stderr and seeds_on_disk(results) == before


def test_diverged_seeds_that_leave_too_few_for_the_next_look_are_the_stop_reason(cli, results, study, monkeypatch):
    execute = ablate.sweep.launch.execute

    def diverging(cfg, directory, overrides):
        record = execute(cfg, directory, overrides)
        values = dict(o.split("=", 1) for o in overrides)
        if values["+experiment/paper/row"] == "euc_bias" and int(values["seed"]) >= 3:
            record = {**record, "status": "diverged", "metrics": {}}
            RunDir(directory).write_record(record)
        return record

    monkeypatch.setattr(ablate.sweep.launch, "execute", diverging)
    result = cli("sweep", *FIRST, "--until-resolved", "--max-seeds", "6", results=results)
    assert result.exit_code == 0, result.output
    assert "diverged runs leave 3 usable seeds below --max-seeds 6 for the next look of finding 2" in result.stdout
    assert "--max-seeds 6 reached" not in result.stdout and "last look done" not in result.stdout


def test_an_interrupted_study_continues_where_it_stopped(cli, results, study):
    study.interrupt = ("euc_bias", 4)
    first = cli("sweep", *FIRST, "--until-resolved", "--max-seeds", "16", results=results)
    assert first.exit_code != 0 and "round 2: 9 runs" in first.stdout
    done = list(study.trained)
    assert ("euc_bias", 4) not in done and ("none", 3) in done
    second = cli("sweep", *FIRST, "--until-resolved", "--max-seeds", "16", results=results)
    assert second.exit_code == 0, second.output
    assert "every finding resolved." in second.stdout
    resumed = study.trained[len(done):]
    assert resumed[0] == ("euc_bias", 4) and not set(resumed) & set(done)  # nothing finished runs again
    # The rows sit between the looks at 3 and 6 seeds: the rest of round 2 first, then on as if uninterrupted.
    assert "round 2: 2 runs" in second.stdout and "finding 2: holds: resolved with 16 seeds per row" in second.stdout
    assert seeds_on_disk(results) == {"none": list(range(16)), "euc_bias": list(range(16)), "euc_ctx": list(range(6))}
    assert len(study.trained) == 38


def test_dry_run_shows_the_next_round_and_writes_nothing(cli, results, study):
    assert cli("sweep", *FIRST, results=results).exit_code == 0
    before = sorted(p.name for p in run_dirs(results))
    plan = cli("sweep", *FIRST, "--until-resolved", "--dry-run", results=results)
    assert plan.exit_code == 0, plan.output
    assert "on the runs done so far (looks at 3, 6, 12, 20 seeds per row)" in plan.stdout
    assert "next round (once the planned runs are done): 9 runs" in plan.stdout
    assert "finding 2 (next look at 6 seeds per row" in plan.stdout and "euc_bias to 6, none to 6" in plan.stdout
    assert [plan.stdout.count(f"for {which}") for which in ("finding 1", "finding 2", "findings 1, 2")] == [3, 3, 3]
    assert sorted(p.name for p in run_dirs(results)) == before
    assert not (results / "paper_proxy" / "until-table1.json").exists()  # a dry run declares nothing


@pytest.mark.parametrize("args, message", [
    (["experiment=fashion_rpe"], "--until-resolved needs a study with findings"),
    (["experiment=paper/table1", "scale=proxy,paper"], "--until-resolved tests one scale at a time"),
    (["experiment=paper/table1", "--max-seeds", "1"], "--max-seeds must be at least 2")])
def test_studies_without_findings_are_refused_in_one_line(cli, results, args, message):
    result = cli("sweep", *args, "--until-resolved", results=results)
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1
    assert not results.exists()

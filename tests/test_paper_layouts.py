"""Paper layouts on synthetic run records written in the runner's format into a temporary results dir."""
import csv
import io
import json

import matplotlib.image
import pytest
from omegaconf import OmegaConf
from typer.testing import CliRunner

from ablate.cli import app
from ablate.results.paper.reference import TABLES, load_reference
from ablate.results.paper.report import paper_report
from ablate.results.paper.runs import RECORD_NAMES, row_overrides
from ablate.results.records import RECORD_SCHEMA, config_hashes
from ablate.results.rundir import RunDir
from ablate.config.compose import Composer


def write_runs(results, table: str, values: dict[str, list[float]], scale: str = "proxy",
               metric: str = "top1", status: str = "completed") -> None:
    """One record per (row, seed) with the row's exact config, as the runner writes them."""
    reference = load_reference(table)
    with Composer() as composer:
        for key, per_seed in values.items():
            for seed, value in enumerate(per_seed):
                overrides = row_overrides(table, scale, reference.row(key).runs[scale]) + [f"seed={seed}"]
                config = OmegaConf.to_container(composer.config(overrides), resolve=True)
                config_hash, group_hash = config_hashes(config)
                directory = results / RECORD_NAMES[scale] / config_hash[:12]
                directory.mkdir(parents=True)
                RunDir(directory).write_record({
                    "schema": RECORD_SCHEMA, "run_id": directory.name, "experiment": config["name"], "task": config["task"],
                    "status": status, "error": None,
                    "identity": {"config_hash": config_hash, "group_hash": group_hash, "overrides": overrides},
                    "metrics": {metric: value, "top5": value + 20, "params": 461450 + 1000 * len(key),
                                "macs": 25074624}, "config": config})


def report(results, experiment: str = "paper/table1", fmt: str = "md", capsys=None) -> str:
    paper_report(experiment, fmt, results)
    return capsys.readouterr().out


def md_row(text: str, *first: str) -> list[str]:
    """The cells of the markdown table row whose first cells are `first`."""
    rows = [[c.strip() for c in x.strip().strip("|").split("|")] for x in text.splitlines() if x.startswith("| ")]
    return next(r for r in rows if r[:len(first)] == list(first))


T1_CLEAR = {"none": [70.0, 70.2, 69.8], "euc_bias": [71.0, 71.2, 70.8], "euc_ctx": [70.0, 70.1, 69.9],
            "quant_bias": [71.0, 71.1, 70.9], "quant_ctx": [70.5, 70.4, 70.6],
            "cross_bias": [74.0, 74.1, 73.9], "cross_ctx": [73.0, 73.1, 72.9],
            "product_bias": [74.5, 74.6, 74.4], "product_ctx": [73.5, 73.6, 73.4]}


def test_table1_prints_every_row_with_ours_and_the_papers(tmp_path, capsys):
    write_runs(tmp_path, "table1", T1_CLEAR)
    text = report(tmp_path, capsys=capsys)
    assert "| method" in text and "top-1 ours" in text and "top-1 paper" in text
    # mean [95% interval: 70.00 -+ t(0.975, 2) 0.20 / sqrt(3)] (seeds)
    assert md_row(text, "DeiT-S (no RPE)") == ["DeiT-S (no RPE)", "-", "-", "70.00 [69.50, 70.50] (3)", "79.9", "-",
                                               "-"]
    product_ctx = md_row(text, "Product", "yes", "contextual")
    assert product_ctx[3:5] == ["73.50 [73.25, 73.75] (3)", "80.9"]
    assert product_ctx[5] == "+3.50 [+3.25, +3.75] (3)" and product_ctx[6] == "+1.0"  # paired on seeds 0-2
    assert "Read: ours = mean [95% interval of the mean, t with n - 1 df] (n seeds)" in text
    assert "Ours: model deit_pico_patch4_28; data fashion_mnist" in text
    body = [x for x in text.splitlines() if x.startswith("| ") and "---" not in x][1:]
    assert len(body) == 9 and all(x.count("|") == 8 for x in body)


def test_findings_distinguish_holds_and_reversed(tmp_path, capsys):
    write_runs(tmp_path, "table1", T1_CLEAR)
    text = report(tmp_path, capsys=capsys)
    assert "Finding 1 (Directed (cross, product) > undirected (euc, quant).): **holds**" in text
    assert "Finding 2 (Contextual > bias, for every method.): **reversed**" in text
    assert "euc_ctx > euc_bias: -1.00, 95% CI [-1.25, -0.75] (paired t, 3 seeds), p = 0.0033, " \
           "Holm-adjusted p = 0.013 → reversed" in text
    assert "The table's 5 claims are one family, Holm (family-wise error)" in text


def test_missing_rows_print_blank(tmp_path, capsys):
    write_runs(tmp_path, "table1", {"none": [70.0, 71.0, 72.0], "product_ctx": [72.0, 73.0, 74.0]})
    text = report(tmp_path, capsys=capsys)
    assert md_row(text, "Euclidean", "no", "bias") == ["Euclidean", "no", "bias", "", "80.1", "", "+0.2"]
    assert md_row(text, "Product", "yes", "contextual")[5] == "+2.00 (3)"  # +2 at every seed: no spread, no interval
    assert "Finding 1 (Directed (cross, product) > undirected (euc, quant).): **not resolved at this scale**" in text
    assert "euc_ctx > euc_bias: no runs on a seed common to the rows → not resolved" in text


def test_a_single_seed_has_no_spread_and_resolves_nothing(tmp_path, capsys):
    write_runs(tmp_path, "table1", {k: v[:1] for k, v in T1_CLEAR.items()})
    text = report(tmp_path, capsys=capsys)
    assert md_row(text, "DeiT-S (no RPE)")[3] == "70.00 (1)"
    assert md_row(text, "Cross", "yes", "bias")[5] == "+4.00 (1)"
    assert "**holds**" not in text and "**reversed**" not in text
    assert "euc_ctx > euc_bias: -1.00 (n = 1; fewer than two seeds common to the rows: no test) → not" in text
    assert text.count("(n = 1; fewer than two seeds common to the rows: no test) → not resolved at this scale") == 5


def test_differences_use_the_seeds_both_rows_have(tmp_path, capsys):
    write_runs(tmp_path, "table1", {"none": [70.0, 72.0, 74.0], "euc_bias": [71.0],
                                    "cross_bias": [71.0, 73.5]})
    text = report(tmp_path, capsys=capsys)
    assert md_row(text, "Euclidean", "no", "bias")[3:6] == ["71.00 (1)", "80.1", "+1.00 (1)"]
    # seeds 0 and 1: differences +1.0 and +1.5, paired: +1.25 -+ t(0.975, 1) 0.25 = [-1.93, +4.43]
    assert md_row(text, "Cross", "yes", "bias")[3:6] == ["72.25 [56.37, 88.13] (2)", "80.5", "+1.25 [-1.93, +4.43] (2)"]


def test_failed_runs_and_other_configs_are_not_counted(tmp_path, capsys):
    write_runs(tmp_path, "table1", {"none": [70.0]}, status="failed")
    write_runs(tmp_path, "table3", {"product_bias_clip": [60.0, 61.0]})  # not a Table 1 row
    text = report(tmp_path, capsys=capsys)
    assert md_row(text, "DeiT-S (no RPE)")[3] == ""
    assert "60." not in text


def test_equal_claims_hold_within_the_margin(tmp_path, capsys):
    write_runs(tmp_path, "table3", {"product_bias_clip": [70.0, 70.05, 69.95, 70.02],
                                    "product_bias": [70.01, 70.04, 69.96, 70.01],
                                    "product_ctx_clip": [70.0, 70.1, 69.9], "product_ctx": [72.05, 72.1, 71.85]})
    text = report(tmp_path, "paper/table3", capsys=capsys)
    assert "product_bias = product_bias_clip: +0.00" in text and "→ holds" in text
    assert "product_ctx = product_ctx_clip: +2.00" in text and "→ reversed" in text
    assert "Finding 4 (Piecewise = clip on ImageNet (the detection half is in Table 6).): **mixed**" in text


def test_the_equal_margin_scales_with_our_baseline(tmp_path, capsys):
    # A proxy DETR at 0.14 AP: the paper's 0.5 of 39.5 AP must not make every tiny difference "equal".
    write_runs(tmp_path, "table6", {"sine": [0.13, 0.14, 0.15], "sine_ctx": [0.13, 0.14, 0.15],
                                    "sine_ctx_15": [0.20, 0.21, 0.22]}, metric="AP")
    text = report(tmp_path, "paper/table6", capsys=capsys)
    assert "sine_ctx_15 = sine_ctx: +0.07" in text and "→ reversed" in text
    assert "within ±0.0018 points" in text
    doc = json.loads(report(tmp_path, "paper/table6", "json", capsys))
    assert doc[0]["equal_margin"] == pytest.approx(0.5 * 0.14 / 39.5)
    assert md_row(text, "1")[5:7] == ["0.14 [0.12, 0.16] (3)", "39.5"]


def test_table2_shows_size_columns_and_the_papers_std(tmp_path, capsys):
    write_runs(tmp_path, "table2", {"product_bias_unshared": [60.0, 61.0, 62.0]})
    text = report(tmp_path, "paper/table2", capsys=capsys)
    row = md_row(text, "bias", "no")
    assert row[2:8] == ["0.482", "22.05", "25.1", "4613", "61.00 [58.52, 63.48] (3)", "80.54 ± 0.06"]


@pytest.mark.parametrize("table", TABLES)
def test_every_table_renders_without_runs(tmp_path, capsys, table):
    text = report(tmp_path, f"paper/{table}", capsys=capsys)
    reference = load_reference(table)
    assert text.startswith(f"## {reference.title} (proxy scale)")
    assert len([x for x in text.splitlines() if x.startswith("| ")]) == len(reference.rows) + 1


def test_latex_is_booktabs_and_escaped(tmp_path, capsys):
    write_runs(tmp_path, "table4", {"none": [70.0, 70.4], "noape": [65.0, 65.2]})
    text = report(tmp_path, "paper/table4", "latex", capsys)
    assert r"\toprule" in text and r"\midrule" in text and r"\bottomrule" in text
    assert r"\# & abs pos & Q & K & V" in text and r"70.20 [67.66, 72.74] (2)" in text
    assert "_" not in text.replace(r"\_", "")


def test_csv_and_json_keep_the_numbers(tmp_path, capsys):
    write_runs(tmp_path, "table1", {"none": [70.0, 72.0], "euc_bias": [71.0, 75.0]})
    rows = list(csv.DictReader(io.StringIO(report(tmp_path, "paper/table1", "csv", capsys))))
    euc = next(r for r in rows if r["row"] == "euc_bias")
    assert float(euc["top1_mean"]) == 73.0 and float(euc["top1_paper"]) == 80.1 and euc["top1_n"] == "2"
    assert float(euc["delta"]) == 2.0 and float(euc["delta_paper"]) == pytest.approx(0.2)
    assert float(euc["top1_sd"]) == pytest.approx(2.828, abs=1e-3) and float(euc["top1_low"]) < 73.0
    assert euc["delta_paired"] == "True" and float(euc["delta_low"]) < 2.0 < float(euc["delta_high"])
    assert next(r for r in rows if r["row"] == "quant_ctx")["top1_mean"] == ""
    doc = json.loads(report(tmp_path, "paper/table1", "json", capsys))
    assert doc[0]["table"] == "table1" and doc[0]["findings"][0]["verdict"] == "not resolved at this scale"


def test_png_and_html(tmp_path, capsys):
    write_runs(tmp_path, "table1", {k: v[:2] for k, v in T1_CLEAR.items()} | {"euc_ctx": [70.0]})
    png = tmp_path / "t1.png"
    paper_report("paper/table1", "png", tmp_path, png)
    image = matplotlib.image.imread(png)
    assert image.shape[0] > 200 and image.shape[1] > 600
    page = tmp_path / "all.html"
    paper_report("paper", "html", tmp_path, page)
    html = page.read_text()
    assert html.count("data:image/png;base64,") == len(TABLES)
    assert "http://" not in html and "https://" not in html and html.count("<table>") == len(TABLES)
    assert "the 90% interval within ±0.44 points" in html  # Table 1: 0.5 * 70.0 / 79.9


def test_cli_report_uses_the_paper_layout(tmp_path):
    write_runs(tmp_path, "table1", {"none": [70.0, 71.0]})
    runner = CliRunner()
    result = runner.invoke(app, ["report", "--experiment", "paper/table1", "--format", "md",
                                 "--results-dir", str(tmp_path)])
    assert result.exit_code == 0 and md_row(result.output, "DeiT-S (no RPE)")[3] == "70.50 [64.15, 76.85] (2)"
    bad = runner.invoke(app, ["report", "--experiment", "paper/table9", "--results-dir", str(tmp_path)])
    assert bad.exit_code == 2 and "unknown paper table" in bad.output
    png = runner.invoke(app, ["report", "--experiment", "paper/table1", "--format", "png",
                              "--results-dir", str(tmp_path)])
    assert png.exit_code == 2 and "--output" in png.output


def test_gpu_proxy_records_render_beside_the_proxy(tmp_path, capsys):
    write_runs(tmp_path, "table1", {"none": [70.0, 70.2, 69.8]})
    write_runs(tmp_path, "table1", {"none": [88.0, 88.2, 87.9], "euc_bias": [88.5, 88.4, 88.6]}, scale="gpu_proxy")
    text = report(tmp_path, capsys=capsys)
    assert "## Table 1: directed vs undirected, bias vs contextual (proxy scale)" in text
    gpu = text.split("(GPU proxy scale)")[1]
    assert "Ours: model deit_pico_patch4_28; data fashion_mnist; 6 epochs, batch 256; seeds 0, 1, 2" in gpu
    assert md_row(gpu, "Euclidean", "no", "bias")[3] == "88.50 [88.25, 88.75] (3)"


def test_a_verdict_the_pairing_changes_says_why(tmp_path, capsys):
    # A strong seed effect: every row moves with the seed, euc_bias 0.5 ahead of none on every seed.
    seed_effect = [0.0, 2.0, -1.5, 1.0]
    write_runs(tmp_path, "table1", {"none": [70.0 + e for e in seed_effect],
                                    "euc_bias": [70.5 + e + d for e, d in zip(seed_effect, [0.02, -0.03, 0.0, 0.01])],
                                    "euc_ctx": [70.4 + e for e in seed_effect]})
    text = report(tmp_path, capsys=capsys)
    assert md_row(text, "Euclidean", "no", "bias")[5] == "+0.50 [+0.47, +0.53] (4)"
    lines = text.splitlines()
    claim = next(i for i, x in enumerate(lines) if x.startswith("  - euc_ctx > euc_bias:"))
    assert lines[claim].endswith("→ reversed")
    assert lines[claim + 1].startswith("    - unpaired, ignoring the seeds: -0.10, 95% CI [")
    assert lines[claim + 1].endswith("→ not resolved at this scale: pairing by seed cancels the seed effect both "
                                     "sides share (their per-seed means correlate, r = +1.00), so the paired "
                                     "interval is narrower")
    doc = json.loads(report(tmp_path, "paper/table1", "json", capsys))
    claim = doc[0]["findings"][1]["claims"][0]
    assert (claim["test"], claim["verdict"], claim["unpaired"]["verdict"]) == \
        ("paired t", "reversed", "not resolved at this scale")
    assert claim["p"] < claim["p_adjusted"] < 0.05 < claim["unpaired"]["p_adjusted"]


def test_an_interval_that_excludes_0_but_overlaps_the_margin_is_inconclusive(tmp_path, capsys):
    # Table 3's shipped case: piecewise contextual 1.09 ahead of clip, margin 0.46 at 73% top-1.
    write_runs(tmp_path, "table3", {"product_bias_clip": [73.2, 72.9, 73.5],
                                    "product_ctx_clip": [72.6, 72.2, 73.0], "product_ctx": [73.7, 73.6, 73.8]})
    text = report(tmp_path, "paper/table3", capsys=capsys)
    line = next(x for x in text.splitlines() if x.startswith("  - product_ctx = product_ctx_clip:"))
    assert line.startswith("  - product_ctx = product_ctx_clip: +1.10, 90% CI [+0.59, +1.61] (paired t, 3 seeds), "
                           "outside ±0.46: p = ")
    assert line.endswith("→ not resolved at this scale")


def test_options_std_and_correction(tmp_path, capsys, cli):
    write_runs(tmp_path, "table1", T1_CLEAR)
    paper_report("paper/table1", "md", tmp_path, std=True)
    text = capsys.readouterr().out
    assert md_row(text, "DeiT-S (no RPE)")[3] == "70.00 [69.50, 70.50] (3, sd 0.20)"
    assert "and the sd of the seeds" in text
    result = cli("report", "--experiment", "paper/table1", "--format", "md", "--correction", "bh", results=tmp_path)
    assert result.exit_code == 0 and "BH-adjusted p = " in result.stdout
    assert "one family, Benjamini-Hochberg (false discovery rate)" in result.stdout
    none = cli("report", "--experiment", "paper/table1", "--format", "md", "--correction", "none", results=tmp_path)
    assert "adjusted" not in none.stdout and "are not corrected for each other" in none.stdout
    for args, message in ((["--correction", "bonferroni"], "error: --correction bonferroni: expected one of holm, "
                                                            "bh, none\n"),
                          (["--baseline", "rpe.method=none"], "error: --baseline rpe.method=none: a paper table "
                                                             "compares each row with its own baseline row already")):
        bad = cli("report", "--experiment", "paper/table1", *args, results=tmp_path)
        assert bad.exit_code == 2 and bad.stderr.startswith(message) and len(bad.stderr.splitlines()) == 1


def test_a_table_gathered_in_declared_looks_is_tested_at_them(tmp_path, capsys):
    write_runs(tmp_path, "table1", {"none": [70.0, 70.2, 69.8, 70.1, 69.9, 70.3, 70.0],
                                    "euc_bias": [71.0, 71.3, 70.6, 71.2, 70.8, 71.2, 71.1]})
    (tmp_path / "paper_proxy" / "until-table1.json").write_text(json.dumps({"looks": [3, 6]}))
    text = report(tmp_path, capsys=capsys)
    # Seven seeds on disk; the last look is at 6, so the test uses seeds 0-5, as --until-resolved did.
    assert "euc_bias > none" not in text  # (the claim is named the other way round in Table 1)
    line = md_row(text, "Euclidean", "no", "bias")
    assert line[3].endswith("(7)") and line[5].endswith("(7)")  # the table itself shows every seed
    doc = json.loads(report(tmp_path, "paper/table1", "json", capsys))
    assert doc[0]["looks"] == [3, 6]
    assert "looks declared in advance at 3, 6 seeds per row" in report(tmp_path, capsys=capsys)
    (tmp_path / "paper_proxy" / "until-table1.json").write_text("{")
    with pytest.raises(ValueError, match="until-table1.json is not a design of looks"):
        report(tmp_path, capsys=capsys)


def test_the_same_difference_at_every_seed_is_no_test_not_a_certainty(tmp_path, capsys):
    # Scores are discrete, so seeds can tie: a difference with no spread over its seeds has no standard error,
    # and neither an equal nor an unequal verdict can rest on it.
    same = [70.0, 70.05, 69.95, 70.02]
    write_runs(tmp_path, "table3", {"product_bias_clip": same, "product_bias": same,
                                    "product_ctx_clip": [70.0, 70.1, 69.9], "product_ctx": [72.0, 72.1, 71.9]})
    text = report(tmp_path, "paper/table3", capsys=capsys)
    assert "product_bias = product_bias_clip: +0.00 (n = 4; the same difference at every common seed, no spread: " \
           "no test) → not resolved at this scale" in text
    assert "product_ctx = product_ctx_clip: +2.00 (n = 3; the same difference at every common seed" in text
    assert "**holds**" not in text and "**reversed**" not in text and "**mixed**" not in text
    assert "needs two seeds per row common to its rows, not all with the same difference, before its spread" in text

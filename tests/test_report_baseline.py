"""`ablate report --baseline KEY=VALUE`: each row's difference to its baseline row, paired by seed, in every format."""
import csv
import io
import json

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_records import make_record, with_changes

from ablate.results.report import load_records, readable, summarize

# method x mode, four seeds; every row moves with the seed (a strong seed effect).
SEED = [0.0, 1.5, -1.0, 0.8]
LEVEL = {("none", None): 70.0, ("product", "bias"): 70.6, ("product", "contextual"): 72.0,
         ("euc", "bias"): 70.2, ("euc", "contextual"): 71.0}
JITTER = {("product", "contextual"): [0.1, -0.2, 0.0, 0.1], ("euc", "bias"): [0.4, -0.5, 0.6, -0.3],
          ("product", "bias"): [0.05, -0.05, 0.05, -0.05]}


def _study(results) -> None:
    for (method, mode), level in LEVEL.items():
        for seed, effect in enumerate(SEED):
            jitter = JITTER.get((method, mode), [0.0] * 4)[seed]
            make_record(results, with_changes(rpe__method=method, rpe__mode=mode, seed=seed), level + effect + jitter)


def _by_method(summary):
    return summary.table.set_index(["rpe.method", "rpe.mode"])


def test_each_row_is_compared_with_the_baseline_paired_by_seed(tmp_path):
    _study(tmp_path)
    summary = summarize(load_records(tmp_path), ["rpe.method", "rpe.mode"], ("top1",), baseline=["rpe.method=none"])
    table = _by_method(summary)
    none = [LEVEL["none", None] + e for e in SEED]
    ctx = [LEVEL["product", "contextual"] + e + j for e, j in zip(SEED, JITTER["product", "contextual"])]
    row = table.loc[("product", "contextual")]
    ref = stats.ttest_rel(ctx, none)
    assert (row["top1_diff"], row["top1_p"], row["top1_diff_n"], row["top1_diff_test"]) == \
        (pytest.approx(2.0), pytest.approx(ref.pvalue), 4, "paired")
    assert (row["top1_diff_low"], row["top1_diff_high"]) == pytest.approx(tuple(ref.confidence_interval(0.95)))
    # euc contextual differs from the baseline by exactly +1.0 at every seed: no spread, so no test (a tie is no
    # certainty); it stays in the family of four with p 1, and Holm multiplies the smallest p by 4.
    untested = table.loc[("euc", "contextual")]
    assert untested["top1_diff"] == pytest.approx(1.0) and pd.isna(untested["top1_p"])
    assert pd.isna(untested["top1_diff_low"]) and untested["top1_p_adjusted"] == 1.0
    assert readable(summary).set_index(["rpe.method", "rpe.mode"]).loc[("euc", "contextual"), "Δtop1"] == \
        "+1.00 (n=4: no test)"
    assert any(line.startswith("no test over two or more seeds: the same difference at every seed")
               for line in summary.legend)
    p = table.loc[~table["baseline"], "top1_p"].to_numpy()
    assert table.loc[~table["baseline"], "top1_p_adjusted"].min() == pytest.approx(4 * np.nanmin(p))
    assert list(summary.table["baseline"]) == list(summary.table["rpe.method"] == "none")
    assert row["vs"] == "none, -"
    text = readable(summary).set_index(["rpe.method", "rpe.mode"])
    assert text.loc[("product", "contextual"), "Δtop1"].startswith("+2.00 [+1.77, +2.23] p ")
    assert ", adj. " in text.loc[("product", "contextual"), "Δtop1"]
    assert summary.legend[1].startswith("Δ: each row minus its baseline row (rpe.method=none: the only one)")
    assert "Holm (family-wise error), over each metric's 4 comparisons" in summary.legend[1]


def test_the_pairing_shows_what_the_seed_effect_hides(tmp_path):
    _study(tmp_path)
    summary = summarize(load_records(tmp_path), ["rpe.method", "rpe.mode"], ("top1",), baseline=["rpe.method=none"])
    row = _by_method(summary).loc[("product", "bias")]
    unpaired = stats.ttest_ind([70.6 + e + j for e, j in zip(SEED, JITTER["product", "bias"])],
                               [70.0 + e for e in SEED], equal_var=False)
    assert row["top1_p"] < 1e-3 and unpaired.pvalue > 0.4  # +0.6 -+ 0.05 on every seed


def test_a_baseline_row_per_group_of_the_other_factors(tmp_path):
    _study(tmp_path)
    summary = summarize(load_records(tmp_path), ["rpe.method", "rpe.mode"], ("top1",),
                        baseline=["rpe.method=product"], correction="bh")
    table = _by_method(summary)
    assert table.loc[("euc", "contextual"), "vs"] == "product, contextual"
    assert table.loc[("euc", "bias"), "vs"] == "product, bias"
    assert table.loc[("euc", "contextual"), "top1_diff"] == pytest.approx(-1.0)
    none = summary.table[summary.table["rpe.method"] == "none"].iloc[0]
    assert pd.isna(none["vs"]) and np.isnan(none["top1_diff"])  # no product row without a mode
    assert "Benjamini-Hochberg" in summary.legend[1] and "have no baseline row with their other factors" in \
        summary.legend[2]


@pytest.mark.parametrize("fmt", ["table", "md", "csv", "json", "latex", "html"])
def test_every_format_shows_the_differences(cli, tmp_path, fmt):
    _study(tmp_path)
    result = cli("report", "--by", "rpe.method,rpe.mode", "--metric", "top1", "--baseline", "rpe.method=none",
                 "--format", fmt, results=tmp_path)
    assert result.exit_code == 0, result.output
    out = result.stdout
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        row = next(r for r in rows if r["rpe.method"] == "product" and r["rpe.mode"] == "contextual")
        assert float(row["top1_diff"]) == pytest.approx(2.0) and float(row["top1_p_adjusted"]) < 0.05
        assert float(row["top1_p"]) < float(row["top1_p_adjusted"])
    elif fmt == "json":
        row = next(r for r in json.loads(out) if r["rpe.method"] == "product" and r["rpe.mode"] == "contextual")
        assert row["top1_diff_low"] < 2.0 < row["top1_diff_high"] and row["vs"] == "none, -"
    else:
        assert "+2.00 [+1.77, +2.23] p " in out and "baseline" in out
        assert "Δ" in out or r"$\Delta$" in out
        assert "each row minus its baseline row" in (out if fmt != "table" else out.replace("\n", " "))


def test_the_figure_has_a_difference_panel(cli, tmp_path):
    _study(tmp_path / "r")
    plain, compared = tmp_path / "plain.png", tmp_path / "compared.png"
    assert cli("report", "--format", "png", "--output", str(plain), results=tmp_path / "r").exit_code == 0
    result = cli("report", "--format", "png", "--output", str(compared), "--baseline", "rpe.method=none",
                 results=tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert matplotlib.image.imread(compared).shape[0] > matplotlib.image.imread(plain).shape[0]


@pytest.mark.parametrize("args, message", [
    (["--baseline", "rpe.method"], "error: --baseline rpe.method: expected KEY=VALUE, e.g. --baseline rpe.method=none"),
    (["--baseline", "rpe.nope=none"], "error: --baseline rpe.nope=none: rpe.nope is not a column of the table; its "
                                      "columns: rpe.method, rpe.mode (--by chooses them)"),
    (["--baseline", "rpe.method=cross"], "error: --baseline rpe.method=cross: no row has it; rpe.method is euc, "
                                         "none, product"),
    (["--baseline", "rpe.method=none", "--correction", "bonf"], "error: --correction bonf: expected one of holm, bh, "
                                                                "none"),
])
def test_bad_baselines_are_one_line_and_exit_2(cli, tmp_path, args, message):
    _study(tmp_path)
    out = tmp_path / "t.md"
    result = cli("report", "--by", "rpe.method,rpe.mode", *args, "--format", "md", "--output", str(out),
                 results=tmp_path)
    assert result.exit_code == 2 and result.stderr == message + "\n" and not out.exists()

"""Power of the findings' claims: hand-worked cases, the sd's upper bound, agreement with simulation, the reports."""
import json

import numpy as np
import pytest
from scipy import stats
from test_paper_layouts import report, write_runs

from ablate.stats.power import MAX_SEEDS, claim_power, fewest, power_greater, resolvable, sd_upper


def test_hand_worked_paired_power():
    # Paired t, sd of the differences 1, theta 1, two-sided 5%: m = 10: df 9, t.975 = 2.262, noncentrality
    # sqrt(10) = 3.162, P = nct.sf(2.262; 9, 3.162) = 0.803; m = 9: 0.748. So 10 seeds, the textbook answer.
    assert power_greater(1.0, 1.0, np.array([9, 10]), 0.05) == pytest.approx([0.748, 0.803], abs=1e-3)
    assert fewest(lambda m: claim_power("greater", 1.0, 1.0, m, 0.05, 0.0)) == 10
    assert fewest(lambda m: claim_power("greater", 0.0, 1.0, m, 0.05, 0.0)) is None  # no difference never holds
    assert fewest(lambda m: claim_power("greater", 0.01, 1.0, m, 0.05, 0.0)) is None  # beyond MAX_SEEDS
    assert resolvable("greater", 1.0, 10, 0.05) == pytest.approx(0.996, abs=1e-3)  # just below 1 at 10 seeds


def test_power_is_a_probability_at_every_noncentrality():
    # The bisection of resolvable() walks noncentralities up to 1000 sqrt(m); some of them are NaN in
    # scipy.special.nctdtr, which is why power_greater keeps scipy.stats' noncentral t.
    for m in (2, 3, 11, 51):
        for level in (0.05, 0.05 / 3):
            power = power_greater(np.geomspace(1e-3, 1000 * np.sqrt(m), 400), 1.0, np.array(m), level)
            assert np.all((power >= 0) & (power <= 1)) and np.all(np.diff(power) >= -1e-12)


def test_the_chi_square_density_in_closed_form_is_scipys():
    from ablate.stats.power import _chi2_pdf

    for df in (1, 2, 3, 9, 50):
        v = np.geomspace(1e-4, 200, 50)
        assert [_chi2_pdf(x, df) for x in v] == pytest.approx(stats.chi2.pdf(v, df), rel=1e-12, abs=1e-300)


def test_equality_power_is_tosts():
    # theta 0, sd 1, m 10, margin 0.8: TOST holds when |d| < 0.8 - t.95(9) s / sqrt(10); the integral over s.
    exact = claim_power("equal", 0.0, 1.0, 10, 0.05, 0.8)
    rng = np.random.default_rng(0)
    d = rng.normal(0.0, 1.0, (200000, 10))
    half = 0.8 - stats.t.ppf(0.95, 9) * d.std(axis=1, ddof=1) / np.sqrt(10)
    assert exact == pytest.approx(np.mean(np.abs(d.mean(axis=1)) < half), abs=0.004)
    assert resolvable("equal", 1.0, 10, 0.05) == pytest.approx(1.005, abs=0.01)


def test_the_upper_bound_of_the_sd_covers_80_percent():
    # sqrt((n - 1) / chi2.ppf(0.2, n - 1)): 2.117 times the sample sd at n = 3.
    assert sd_upper(1.0, 3) == pytest.approx(2.117, abs=1e-3)
    rng = np.random.default_rng(1)
    s = rng.normal(0.0, 1.0, (20000, 4)).std(axis=1, ddof=1)
    covered = np.mean([sd_upper(x, 4) >= 1.0 for x in s])
    assert covered == pytest.approx(0.8, abs=0.01)


NOISY = {"none": [70.0, 71.2, 69.6], "noape": [62.0, 63.5, 61.7], "noape_product_ctx_k": [70.9, 69.5, 71.9],
         "product_ctx": [70.7, 69.9, 71.6]}


def test_every_claim_of_a_report_carries_its_power(tmp_path, capsys):
    write_runs(tmp_path, "table4", NOISY)
    text = report(tmp_path, "paper/table4", capsys=capsys)
    finding = next(x for x in text.splitlines() if x.startswith("- Finding 6"))
    assert "**not resolved at this scale**: needs about " in finding and "seeds per row (every open claim" in finding
    lines = text.splitlines()
    held = lines.index(next(x for x in lines if x.startswith("  - none > noape:")))
    power = lines[held + 1]
    assert power.startswith("    - power (80%, level 0.0071; sd of the per-seed differences ")  # 0.05 / 7 claims
    assert "planned at its 80% upper bound" in power and "with 3 seeds per row it holds for differences of" in power
    assert "the paper's +2.02 needs about" in power  # 2.3 x our 70.27 / the paper's 79.9
    assert "observed" not in text  # no observed power
    assert "Finding 7 (RPE on Q or K helps more than on V; Q+K+V is best.): **not resolved at this scale**: " \
           "needs two seeds per row common to its rows, not all with the same difference, before its spread is " \
           "known" in text
    doc = json.loads(report(tmp_path, "paper/table4", "json", capsys))
    claim = doc[0]["findings"][0]["claims"][0]
    assert claim["power"]["seeds_per_row"] == 3 and claim["power"]["level"] == pytest.approx(0.05 / 7)
    assert claim["power"]["paper_effect"] == pytest.approx(2.3 * np.mean(NOISY["none"]) / 79.9)
    assert claim["power"]["sd_upper"] == pytest.approx(sd_upper(claim["power"]["sd"], 3))
    assert doc[0]["findings"][0]["seeds_needed"] > 3
    assert "it holds for differences of" in report(tmp_path, "paper/table4", "latex", capsys)
    assert "needs about" in report(tmp_path, "paper/table4", "html", capsys)


def test_a_findings_power_is_the_product_of_its_claims(tmp_path, capsys):
    from ablate.results.paper.report import layouts

    write_runs(tmp_path, "table4", NOISY)
    finding = layouts(tmp_path, ["table4"])[0].findings[0]
    claims = finding.open_claims()
    assert len(claims) >= 2

    def together(m: int) -> float:
        return float(np.prod([c.power.holds(c.claim.expect, 0.5 * 70.27 / 79.9, m) for c in claims]))

    assert finding.needed == fewest(together) and finding.needed >= max(c.power.n_paper for c in claims)
    assert finding.needed < MAX_SEEDS


def test_a_resolved_finding_says_with_how_many_seeds(tmp_path, capsys):
    write_runs(tmp_path, "table1", {"none": [70.0, 70.2, 69.8], "euc_ctx": [72.0, 72.1, 71.9],
                                    "euc_bias": [70.0, 70.3, 69.8], "quant_ctx": [73.0, 73.2, 72.9],
                                    "quant_bias": [70.5, 70.4, 70.6], "cross_ctx": [73.0, 73.1, 72.9],
                                    "cross_bias": [70.1, 70.0, 70.2], "product_ctx": [74.0, 73.9, 74.2],
                                    "product_bias": [71.0, 71.1, 70.8]})
    text = report(tmp_path, capsys=capsys)
    assert "Finding 2 (Contextual > bias, for every method.): **holds**: resolved with 3 seeds per row" in text
    assert f"more than {MAX_SEEDS:,}" not in text.split("Finding 2")[1].split("\n")[0]

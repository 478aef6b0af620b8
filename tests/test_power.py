"""Power of the findings' claims: a hand-worked case, agreement with simulated Welch verdicts, the reports."""
import json

import numpy as np
import pytest
from test_paper_layouts import report, write_runs

from ablate.results.paper.power import MAX_SEEDS, Spread, claim_power, p_resolved, resolvable, seeds_needed
from ablate.results.paper.stats import NOT_RESOLVED, verdict, welch


def test_hand_worked_one_standard_deviation_needs_17_seeds():
    # s = 1 on both sides, theta = 1: SE = sqrt(2/m), df = 2m - 2 (see the module docstring):
    # m = 16: t.sf(2.042 - 2.828; 30) = 0.781; m = 17: t.sf(2.037 - 2.915; 32) = 0.807.
    unit = Spread(1.0, 1.0, 1, 1)
    assert p_resolved(1.0, np.array([16, 17]), unit, "greater", 0.0) == pytest.approx([0.781, 0.807], abs=1e-3)
    assert seeds_needed(1.0, unit, "greater", 0.0) == 17
    assert resolvable(17, unit, "greater") == pytest.approx(0.991, abs=1e-3)  # just below 1 at 17 seeds
    # Equality within one standard deviation when the truth is 0: m = 17: SE 0.343, df 32, resolved when
    # |d| < 1 - 1.694 SE = 0.419 or |d| > 2.037 SE = 0.699: 1 - 2 (t.cdf(2.037) - t.cdf(1.222)) = 0.82.
    assert seeds_needed(0.0, unit, "equal", 1.0) == 17
    assert seeds_needed(0.0, unit, "greater", 0.0) is None  # no difference never resolves a ">" claim
    assert seeds_needed(0.01, unit, "greater", 0.0) is None  # beyond MAX_SEEDS


def _simulated(theta, sd_a, sd_b, k_a, k_b, m, expect, margin, rng, reps=1500) -> float:
    """The share of resolved verdicts of the report's own test on normal samples."""
    resolved = 0
    for _ in range(reps):
        a, b = rng.normal(theta, sd_a, k_a * m), rng.normal(0.0, sd_b, k_b * m)
        resolved += verdict(welch(list(a), list(b)), expect, margin) != NOT_RESOLVED
    return resolved / reps


@pytest.mark.parametrize("theta, sd_a, sd_b, k_a, k_b, expect, margin", [
    (0.6, 0.5, 1.2, 2, 2, "greater", 0.0),  # pooled sides, unequal spreads
    (0.2, 0.5, 0.8, 1, 1, "equal", 0.6),  # equal within the margin
    (1.5, 1.0, 1.0, 1, 1, "equal", 0.5)])  # an "equal" claim that resolves as reversed
def test_seeds_needed_agree_with_simulated_verdicts(theta, sd_a, sd_b, k_a, k_b, expect, margin):
    rng = np.random.default_rng(0)
    n = seeds_needed(theta, Spread(sd_a ** 2, sd_b ** 2, k_a, k_b), expect, margin)
    assert 4 < n < 40
    assert _simulated(theta, sd_a, sd_b, k_a, k_b, n, expect, margin, rng) >= 0.77  # 80% within 3 s.e.
    assert _simulated(theta, sd_a, sd_b, k_a, k_b, n - 1, expect, margin, rng) <= 0.83


def test_the_smallest_resolvable_difference_has_80_percent():
    rng = np.random.default_rng(1)
    spread = Spread(0.8 ** 2, 0.6 ** 2, 1, 1)
    theta = resolvable(5, spread, "greater")
    assert _simulated(theta, 0.8, 0.6, 1, 1, 5, "greater", 0.0, rng) == pytest.approx(0.8, abs=0.04)


def test_claim_power_from_values():
    p = claim_power([70.0, 71.0, 72.0], [69.0, 70.0, 71.5], 1, 1, 3, "greater", 0.44, 0.9)
    assert (p.n, p.paper, p.observed) == (3, 0.9, pytest.approx(5 / 6))
    assert p.n_paper == seeds_needed(0.9, Spread(1.0, 19 / 12, 1, 1), "greater", 0.44)
    assert p.needed == min(p.n_paper, p.n_observed) and p.to_reproduce == p.n_paper
    assert claim_power([70.0], [69.0], 1, 1, 1, "greater", 0.44, 0.9) is None
    no_paper = claim_power([70.0, 71.0], [60.0, 61.0], 1, 1, 2, "greater", 0.44, None)
    assert no_paper.n_paper is None and no_paper.to_reproduce == no_paper.n_observed
    assert claim_power([1.0, 2.0], [1.0, 2.0], 1, 1, 2, "equal", 0.5, None).paper == 0.0


NOISY = {"none": [70.0, 71.2, 69.6], "noape": [62.0, 63.5, 61.7], "noape_product_ctx_k": [70.9, 69.5, 71.9],
         "product_ctx": [70.5, 71.9, 70.1]}


def test_every_finding_of_a_report_carries_its_power(tmp_path, capsys):
    write_runs(tmp_path, "table4", NOISY)
    text = report(tmp_path, "paper/table4", capsys=capsys)
    finding = next(x for x in text.splitlines() if x.startswith("- Finding 6"))
    assert "**not resolved at this scale**: needs about " in finding and finding.endswith(" seeds per row")
    lines = text.splitlines()
    held = lines.index(next(x for x in lines if x.startswith("  - none > noape:")))
    assert lines[held + 1].startswith("    - power: with 3 seeds per row it resolves differences of ±")
    assert "the paper's +2.02 needs about" in lines[held + 1]  # 2.3 x our 70.27 / the paper's 79.9
    assert "Finding 7 (RPE on Q or K helps more than on V; Q+K+V is best.): **not resolved at this scale**: " \
           "needs two seeds per row common to its rows before its spread is known" in text
    doc = json.loads(report(tmp_path, "paper/table4", "json", capsys))
    claim = doc[0]["findings"][0]["claims"][0]
    assert claim["verdict"] == "holds" and claim["power"]["seeds_per_row"] == 3
    assert claim["power"]["paper_effect"] == pytest.approx(2.3 * np.mean(NOISY["none"]) / 79.9)
    assert doc[0]["findings"][0]["power"].startswith("needs about ")
    assert "resolves differences of" in report(tmp_path, "paper/table4", "latex", capsys)
    assert "needs about" in report(tmp_path, "paper/table4", "html", capsys)


def test_a_resolved_finding_says_with_how_many_seeds(tmp_path, capsys):
    write_runs(tmp_path, "table1", {"none": [70.0, 70.2, 69.8], "euc_ctx": [72.0, 72.1, 71.9],
                                    "euc_bias": [70.0, 70.3, 69.8], "quant_ctx": [73.0, 73.2, 72.9],
                                    "quant_bias": [70.5, 70.4, 70.6], "cross_ctx": [73.0, 73.1, 72.9],
                                    "cross_bias": [70.1, 70.0, 70.2], "product_ctx": [74.0, 73.9, 74.2],
                                    "product_bias": [71.0, 71.1, 70.8]})
    text = report(tmp_path, capsys=capsys)
    assert "Finding 2 (Contextual > bias, for every method.): **holds**: resolved with 3 seeds per row" in text
    assert f"more than {MAX_SEEDS:,}" not in text.split("Finding 2")[1].split("\n")[0]

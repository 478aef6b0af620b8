"""The statistics of findings: row intervals, paired and Welch differences, TOST, verdicts, corrections."""
import numpy as np
import pytest
from scipy import stats

from ablate.stats.claims import HOLDS, MIXED, NOT_RESOLVED, REVERSED, claim_test, overall, verdicts
from ablate.stats.compare import (Difference, contrast, p_equal, p_outside, p_zero, paired, paired_difference, welch,
                                  welch_difference)
from ablate.stats.multiplicity import adjust, check_correction
from ablate.stats.sample import sd_interval, summarize
from ablate.stats.sequential import Design


def test_row_summaries_show_the_95_percent_interval_of_the_mean():
    s = summarize([70.0, 71.0, 72.0, float("nan")])
    assert (s.n, s.mean, s.sd) == (3, 71.0, 1.0)
    assert (s.low, s.high) == (pytest.approx(71 - 4.303 / np.sqrt(3), abs=1e-3),
                               pytest.approx(71 + 4.303 / np.sqrt(3), abs=1e-3))  # t(0.975, 2) = 4.303
    one = summarize([3.0])
    assert (one.n, one.mean, one.sd, one.low) == (1, 3.0, None, None) and summarize([]).mean is None


def test_the_interval_of_an_sd_is_chi_squares_and_covers_95_percent():
    # 4 values: chi2(3) quantiles 0.216 and 9.348, so sigma lies in [0.567, 3.728] times the sample sd.
    assert sd_interval(1.0, 4) == (pytest.approx(0.5665, abs=1e-4), pytest.approx(3.7285, abs=1e-4))
    s = np.random.default_rng(2).normal(0.0, 2.0, (20000, 6)).std(axis=1, ddof=1)
    low, high = zip(*(sd_interval(x, 6) for x in s))
    assert np.mean((np.array(low) <= 2.0) & (np.array(high) >= 2.0)) == pytest.approx(0.95, abs=0.005)


def test_paired_and_welch_agree_with_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 0.5, 6), rng.normal(0.0, 1.5, 6)
    d = paired_difference(a[None], b[None])
    ref = stats.ttest_rel(a, b)
    assert (d.diff, d.p, d.df, d.n, d.paired) == (pytest.approx(np.mean(a - b)), pytest.approx(ref.pvalue), 5, 6, True)
    assert d.interval() == pytest.approx(tuple(ref.confidence_interval(0.95)))
    w = welch_difference([a], [b[:4]])
    ref = stats.ttest_ind(a, b[:4], equal_var=False)
    assert (w.p, w.paired) == (pytest.approx(ref.pvalue), False)
    assert w.interval() == pytest.approx(tuple(ref.confidence_interval(0.95)))


def test_pooled_sides_are_a_contrast_of_row_means_per_seed():
    # Two rows a side: a row offset of 5 points is not noise, and the seed effect cancels.
    seed_effect = np.array([0.0, 2.0, -1.0, 1.5])
    a = np.array([70.0, 75.0])[:, None] + seed_effect + np.array([[0.1, -0.1, 0.0, 0.05], [0.0, 0.1, -0.1, 0.0]])
    b = np.array([69.0, 74.0])[:, None] + seed_effect
    d = paired_difference(a, b)
    assert d.diff == pytest.approx(1.00625) and d.se < 0.05 and d.r > 0.99
    diff, se, _ = paired(contrast(a, b))
    assert (diff, se) == (pytest.approx(d.diff), pytest.approx(d.se))
    unpaired_diff, unpaired_se, _ = welch(list(a), list(b))
    assert unpaired_diff == pytest.approx(d.diff) and unpaired_se > 10 * d.se  # the seed effect stays in


def _claim(a, b, expect, margin=0.5):
    return claim_test([paired_difference(np.atleast_2d(a), np.atleast_2d(b))], Design((len(a),)), expect, margin)


def test_claims_resolve_by_their_tests():
    def verdict(a, b, expect, margin=0.5):
        return verdicts([_claim(a, b, expect, margin)], "none")[1][0]

    assert verdict([2.0, 2.1, 1.9], [1.0, 1.05, 0.95], "greater") == HOLDS
    assert verdict([1.0, 1.05, 0.95], [2.0, 2.1, 1.9], "greater") == REVERSED
    assert verdict([1.0, 3.0, 2.0], [1.5, 2.5, 1.0], "greater") == NOT_RESOLVED
    assert verdict([1.0, 1.01, 0.99], [1.0, 1.02, 0.98], "equal") == HOLDS
    assert verdict([2.0, 2.1, 1.9], [1.0, 1.05, 0.95], "equal") == REVERSED  # the interval lies beyond +-0.5
    # Table 3's case: +1.09 with a 95% interval [+0.30, +1.87] that excludes 0 but overlaps the margin +-0.46:
    # inconclusive, not reversed.
    t = _claim(np.array([1.09, 1.09, 1.09]) + [0.0, 0.32, -0.32], [0.0, 0.0, 0.0], "equal", 0.46)
    low, high = t.difference.interval()
    assert low > 0 and low < 0.46 and verdicts([t], "none")[1] == [NOT_RESOLVED]


def test_tost_holds_exactly_when_the_90_percent_interval_lies_inside_the_margin():
    rng = np.random.default_rng(1)
    for _ in range(200):
        a, b = rng.normal(0, 1, 5), rng.normal(rng.uniform(-1, 1), 1, 5)
        t = _claim(a, b, "equal", 0.8)
        low, high = t.difference.interval(0.90)
        inside = -0.8 < low and high < 0.8
        assert (verdicts([t], "none")[1][0] == HOLDS) == inside
        assert (t.low, t.high) == (pytest.approx(low), pytest.approx(high))


def test_holm_and_benjamini_hochberg_adjusted_p():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1, then running maximum.
    assert adjust(p, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: sorted times 4/1, 4/2, 4/3, 4/4, then running minimum from the top.
    assert adjust(p, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert adjust(np.array([0.2, np.nan]), "holm") == pytest.approx([0.4, 1.0])  # no test counts as p = 1
    assert adjust(p, "none") == pytest.approx(p)
    with pytest.raises(ValueError, match="--correction bonferroni: expected one of holm, bh, none"):
        check_correction("bonferroni")


def test_a_family_resolves_fewer_claims_than_its_members_alone():
    claims = [_claim([1.0, 0.3, 0.9, 0.6], [0.0, 0.0, 0.0, 0.0], "greater"),  # p = 0.021
              _claim([1.0, 3.0, 2.0, 2.6], [1.5, 2.5, 1.0, 1.4], "greater"), None]
    raw, _ = verdicts(claims, "none")
    adjusted, found = verdicts(claims, "holm")
    assert raw[0] < 0.05 < adjusted[0] and found == [NOT_RESOLVED] * 3 and adjusted[2] is None
    assert verdicts(claims, "none")[1][0] == HOLDS


def test_findings():
    assert overall([HOLDS, HOLDS]) == HOLDS and overall([HOLDS, NOT_RESOLVED]) == NOT_RESOLVED
    assert overall([REVERSED, NOT_RESOLVED]) == REVERSED and overall([HOLDS, REVERSED]) == MIXED


def test_a_plain_report_does_not_load_scipy_stats(tmp_path):
    import subprocess
    import sys

    from test_records import make_record, with_changes

    for seed, top1 in enumerate((80.0, 82.0)):
        make_record(tmp_path, with_changes(seed=seed), top1)
    code = ("import sys; from typer.testing import CliRunner; from ablate.cli import app; "
            f"r = CliRunner().invoke(app, ['report', '--results-dir', {str(tmp_path)!r}]); "
            "assert r.exit_code == 0, r.output; assert '[' in r.output; "
            "assert 'scipy.stats' not in sys.modules, 'scipy.stats loaded'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def test_no_spread_over_the_seeds_is_no_test_not_a_certainty():
    # Scores are discrete, so two seeds can give the same difference: a zero standard error is no estimate.
    tied = paired_difference(np.array([[70.4, 71.4]]), np.array([[70.0, 71.0]]))
    assert tied.diff == pytest.approx(0.4) and tied.n == 2 and not tied.testable
    constant = welch_difference([np.array([70.4, 70.4])], [np.array([70.0, 70.0, 70.0])])
    assert constant.diff == pytest.approx(0.4) and not constant.testable
    assert paired_difference(np.array([[70.5, 71.3]]), np.array([[70.0, 71.0]])).testable
    zero, df = np.array([0.0, 0.0]), np.array([1.0, 1.0])
    assert list(p_zero(np.array([0.4, 0.0]), zero, df)) == [1.0, 1.0]  # no evidence of a difference
    assert list(p_equal(np.array([0.4, 0.0]), zero, df, 0.5)) == [0.5, 0.5]  # nor of equality
    assert list(p_outside(np.array([0.9, 0.0]), zero, df, 0.5)) == [1.0, 1.0]


def test_a_look_without_a_spread_is_no_evidence_at_that_look():
    # Tied at the first look (3 seeds, the same +2 each), clear at the second: the claim rests on the second look.
    a = np.array([[72.0, 73.0, 74.0, 74.9, 72.2, 73.1]])
    b = np.array([[70.0, 71.0, 72.0, 72.0, 71.0, 70.0]])
    design = Design((3, 6))
    looks = [paired_difference(a[:, :n], b[:, :n]) for n in design.looks]
    assert [d.testable for d in looks] == [False, True]
    test = claim_test(looks, design, "greater", 0.0)
    unclear = Difference(2.0, 1e9, 2.0, 3, True)  # a first look whose own p is 1
    assert test.p == pytest.approx(claim_test([unclear, looks[1]], design, "greater", 0.0).p) and test.look == 1
    assert test.p < 0.05 and test.holds_if_rejected

"""Simulated studies through the report's own tests: error rates under the null stay at alpha, power is sensible.

Each rate is asserted with its Monte Carlo error: at most alpha + 3 sqrt(alpha (1 - alpha) / N).
"""
import numpy as np
import pytest

from ablate.results.paper.reference import load_reference
from ablate.stats.claims import ALPHA, HOLDS, NOT_RESOLVED
from ablate.stats.power import claim_power
from ablate.stats.sequential import Design
from ablate.stats.simulate import (ICC, SD, TABLE4_CLAIMS, TABLE4_ROWS, draw, false_findings, power,
                                   shortcut_type_one, verdicts)

N = 4000
BOUND = ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / N)


def test_the_simulated_claims_are_table4s():
    reference = load_reference("table4")
    assert TABLE4_ROWS == tuple(row.key for row in reference.rows)
    assert TABLE4_CLAIMS == tuple((tuple(TABLE4_ROWS.index(k) for k in c.a), tuple(TABLE4_ROWS.index(k) for k in c.b),
                                   c.expect) for f in reference.findings for c in f.claims)


def test_a_claim_looked_at_3_6_and_12_seeds_resolves_falsely_at_most_alpha_of_the_time():
    x = draw(np.random.default_rng(0), N, (0.0, 0.0), 12)
    found = verdicts(x, [((0,), (1,), "greater")], (3, 6, 12))
    assert np.mean(found != NOT_RESOLVED) <= BOUND


@pytest.mark.parametrize("looks", [(3,), (3, 6, 12)])
def test_a_null_table4_has_a_false_finding_in_at_most_alpha_of_tables(looks):
    x = draw(np.random.default_rng(1), N, [0.0] * len(TABLE4_ROWS), looks[-1])
    corrected = false_findings(verdicts(x, TABLE4_CLAIMS, looks, "holm"), TABLE4_CLAIMS).any(axis=-1)
    assert corrected.mean() <= BOUND
    uncorrected = false_findings(verdicts(x, TABLE4_CLAIMS, looks, "none"), TABLE4_CLAIMS).any(axis=-1)
    assert uncorrected.mean() > 0.15  # what the correction is for


def test_power_is_sensible_and_pairing_helps():
    rng = np.random.default_rng(2)
    found, used = power(rng, N, 2.0, (3, 6, 12), unpaired=False)
    assert found > 0.95 and used < 11  # a 2 sd difference is found, a third of the time by the second look
    paired, _ = power(rng, N, 0.5, (12,), unpaired=False)
    unpaired, _ = power(rng, N, 0.5, (12,), unpaired=True)
    assert paired > unpaired + 0.05  # the seed effect (40% of the variance) cancels in the pairs


@pytest.mark.parametrize("expect, theta, m, margin", [("greater", 0.7, 8, 0.0), ("greater", 0.3, 20, 0.0),
                                                     ("equal", 0.0, 10, 0.8), ("equal", 0.2, 16, 0.9)])
def test_exact_power_agrees_with_simulated_verdicts(expect, theta, m, margin):
    sd = SD * np.sqrt(2 * (1 - ICC))  # the sd of a per-seed difference of two rows
    x = draw(np.random.default_rng(3), N, (theta, 0.0), m)
    found = verdicts(x, [((0,), (1,), expect)], (m,), "none", margin)
    simulated = np.mean(found == HOLDS)
    exact = claim_power(expect, theta, sd, m, ALPHA, margin)
    assert simulated == pytest.approx(exact, abs=3 * np.sqrt(exact * (1 - exact) / N) + 1e-3)


def test_normal_theory_levels_applied_to_t_are_liberal_which_is_why_the_design_sums_its_levels():
    # Closely spaced looks at 2-3 degrees of freedom: the usual shortcut resolves about 5.5% of null claims.
    n = 40000
    rate = shortcut_type_one(np.random.default_rng(4), n, (3, 4), Design((3, 4)).nominal(ALPHA))
    assert rate > ALPHA + 2 * np.sqrt(ALPHA * (1 - ALPHA) / n)
    x = draw(np.random.default_rng(4), n, (0.0, 0.0), 4)
    assert np.mean(verdicts(x, [((0,), (1,), "greater")], (3, 4)) != NOT_RESOLVED) <= \
        ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / n)

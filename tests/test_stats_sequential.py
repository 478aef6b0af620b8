"""Group-sequential boundaries against published numbers; sequential p-values against their exact inverse."""
import numpy as np
import pytest
from scipy.optimize import brentq

from ablate.stats.compare import p_zero, paired
from ablate.stats.sequential import Design, boundaries, crossing_chances, spent

THIRDS = (1 / 3, 2 / 3, 1.0)


def test_lan_demets_obrien_fleming_boundaries_match_the_published_ones():
    # Two-sided 5%, three equally spaced looks (gsDesign's sfLDOF, East): 3.710, 2.511, 1.993.
    assert boundaries(THIRDS, 0.05) == pytest.approx([3.710, 2.511, 1.993], abs=1e-3)
    # Their crossing chances are what the spending function spends at each look.
    c = boundaries((0.25, 0.5, 1.0), 0.05)
    assert crossing_chances((0.25, 0.5, 1.0), c) == pytest.approx(np.diff(spent(0.05, np.array([0.25, 0.5, 1.0])),
                                                                          prepend=0.0), abs=1e-9)


def test_the_recursive_integration_reproduces_classical_obrien_fleming_and_pocock():
    # Jennison & Turnbull (2000), Tables 2.1 and 2.3, K = 3, two-sided 5%: O'Brien-Fleming 3.471, 2.454, 2.004
    # (c sqrt(K / k)); Pocock 2.289 at every look.
    t = np.array(THIRDS)
    obf = brentq(lambda c: crossing_chances(THIRDS, c / np.sqrt(t)).sum() - 0.05, 1.0, 5.0)
    assert obf / np.sqrt(t) == pytest.approx([3.471, 2.454, 2.004], abs=1e-3)
    pocock = brentq(lambda c: crossing_chances(THIRDS, np.full(3, c)).sum() - 0.05, 1.0, 5.0)
    assert pocock == pytest.approx(2.289, abs=1e-3)


def test_a_design_runs_at_the_levels_that_sum_to_alpha():
    design = Design((3, 6, 12))
    levels = design.levels(0.05)
    assert levels.sum() == pytest.approx(0.05) and levels[-1] > 0.046 and levels[0] < 1e-4
    assert design.nominal(0.05).sum() > 0.05  # the normal-theory design counts on the looks' dependence
    assert Design((9,)).levels(0.05) == pytest.approx([0.05])
    assert (design.look_of(2), design.look_of(3), design.look_of(7), design.look_of(40)) == (None, 0, 1, 2)


def test_sequential_p_values_invert_the_levels_and_never_rise():
    design = Design((3, 6, 9))
    for p, look in ((1e-4, 1), (0.003, 1), (0.02, 2), (0.04, 2)):
        exact = brentq(lambda a: design.levels(a)[look] - p, 1e-6, 0.9, xtol=1e-14)
        raw = np.ones(look + 1)
        raw[look] = p
        assert design.p_value(raw) == pytest.approx(exact, rel=1e-5)
    rng = np.random.default_rng(0)
    c = rng.normal(0.2, 1.0, (5000, 9))
    raw = np.stack([p_zero(*paired(c[:, :n])) for n in design.looks], axis=-1)
    seq = [design.p_value(raw[:, :k + 1]) for k in range(3)]
    assert np.all(seq[1] <= seq[0] + 1e-15) and np.all(seq[2] <= seq[1] + 1e-15)
    for alpha in (0.05, 0.05 / 7, 0.001):  # p <= alpha exactly when a look crossed the level-alpha design
        assert np.array_equal(seq[2] <= alpha, (raw <= design.levels(alpha)).any(axis=-1))
    assert Design((5,)).p_value(np.array([0.03])) == pytest.approx(0.03)  # one look: the t-test's own p

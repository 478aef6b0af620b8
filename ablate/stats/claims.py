"""A claim tested: "a > b" or "a = b within a margin", over the looks of a design, then corrected with its family.

A ">" claim resolves when the test of no difference rejects: it holds if a is ahead, and is reversed if
b is. An "=" claim holds when TOST rejects (the 90% interval lies inside +-margin) and is reversed when
the difference is shown to lie outside the margin (the 95% interval entirely outside it); an interval
that excludes 0 but overlaps the margin is neither. Each test's p is sequential over the design's looks
(ablate.stats.sequential); the claim's p, the smaller of its tests', is what the family's correction
adjusts, and the claim resolves the way its smaller test points when the adjusted p is at most alpha.
The intervals shown are repeated confidence intervals: at the design's nominal level for the look, so
one look gives the ordinary 95% (">") or 90% ("=") interval.
"""
from dataclasses import dataclass

import numpy as np

from ablate.stats.compare import Difference, p_equal, p_outside, p_zero
from ablate.stats.multiplicity import adjust
from ablate.stats.sample import t_quantile
from ablate.stats.sequential import Design

ALPHA = 0.05
HOLDS = "holds"
REVERSED = "reversed"
MIXED = "mixed"
NOT_RESOLVED = "not resolved at this scale"


def claim_p(diff: np.ndarray, se: np.ndarray, df: np.ndarray, design: Design, expect: str,
            margin: float) -> tuple[np.ndarray, np.ndarray]:
    """The claim's sequential p and whether a rejection says it holds; inputs (..., looks so far)."""
    if expect == "greater":
        each = design.by_look(p_zero(diff, se, df))
        first = np.argmin(each, axis=-1)[..., None]  # the look that decided gives the direction
        return each.min(axis=-1), np.take_along_axis(diff, first, axis=-1)[..., 0] > 0
    one_sided = p_equal(diff, se, df, margin)
    equal = design.p_value(np.minimum(1.0, 2 * one_sided)) / 2  # one-sided tests: the two-sided design at 2 alpha
    equal = np.where(equal >= 0.5, np.maximum(equal, one_sided[..., -1]), equal)  # no evidence: the look's own p
    outside = design.p_value(p_outside(diff, se, df, margin))
    return np.minimum(equal, outside), equal <= outside


def decide(p_adjusted: np.ndarray, holds_if_rejected: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """Verdicts from adjusted p-values: holds, reversed or not resolved."""
    return np.where(np.asarray(p_adjusted) <= alpha, np.where(holds_if_rejected, HOLDS, REVERSED), NOT_RESOLVED)


def overall(verdicts: list[str]) -> str:
    """A finding's verdict from its claims': holds only if all hold; reversed if some are and none holds."""
    if verdicts and all(v == HOLDS for v in verdicts):
        return HOLDS
    if REVERSED in verdicts:
        return MIXED if HOLDS in verdicts else REVERSED
    return NOT_RESOLVED


@dataclass(frozen=True)
class ClaimTest:
    """One claim tested at the last look its seeds reach: the difference there, its interval, the sequential p."""

    expect: str
    margin: float
    difference: Difference  # at the look tested
    design: Design
    look: int  # 0-based index of the look tested
    low: float
    high: float
    coverage: float  # the interval's nominal coverage at this look (0.95 or 0.90 at a single look)
    p: float
    holds_if_rejected: bool


def _interval(d: Difference, design: Design, look: int, alpha: float) -> tuple[float, float, float]:
    level = design.levels(alpha)[look]
    half = float(t_quantile(1 - level / 2, d.df)) * d.se
    return d.diff - half, d.diff + half, 1 - level


def claim_test(looks: list[Difference], design: Design, expect: str, margin: float,
               alpha: float = ALPHA) -> ClaimTest:
    """A claim from its difference at each look so far; the last, the look tested, must be testable (an earlier
    look without a spread is no evidence at that look)."""
    diff = np.array([d.diff for d in looks], dtype=float)
    se = np.array([d.se if d.testable else 0.0 for d in looks], dtype=float)
    df = np.array([d.df if d.testable else max(d.n - 1, 1) for d in looks], dtype=float)
    p, holds = claim_p(diff, se, df, design, expect, margin)
    k = len(looks) - 1
    low, high, coverage = _interval(looks[-1], design, k, alpha if expect == "greater" else 2 * alpha)
    return ClaimTest(expect, margin, looks[-1], design, k, low, high, coverage, float(p), bool(holds))


def verdicts(tests: list[ClaimTest | None], correction: str,
             alpha: float = ALPHA) -> tuple[list[float | None], list[str]]:
    """The family's adjusted p-values (None where a claim has no test) and verdicts."""
    p = np.array([1.0 if t is None else t.p for t in tests])
    adjusted = adjust(p, correction)
    out = decide(adjusted, np.array([t is not None and t.holds_if_rejected for t in tests]), alpha)
    return [None if t is None else float(a) for t, a in zip(tests, adjusted)], [str(v) for v in out]

"""Uncertainty over seeds: mean +- std (n) per row, Welch's t-test and interval for a difference of rows.

A verdict needs at least two seeds on each side: with one seed the spread is unknown, so nothing is
resolved however large the difference looks.
"""
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

HOLDS = "holds"
REVERSED = "reversed"
MIXED = "mixed"
NOT_RESOLVED = "not resolved at this scale"


@dataclass(frozen=True)
class Summary:
    """Mean, sample std (None below two seeds) and number of seeds of one row's metric."""

    n: int
    mean: float | None
    std: float | None


@dataclass(frozen=True)
class Difference:
    """mean(a) - mean(b) with Welch's standard error, 95% and 90% intervals and two-sided p (None if undefined)."""

    diff: float
    se: float | None
    low: float | None
    high: float | None
    low90: float | None
    high90: float | None
    p: float | None
    n_a: int
    n_b: int


def summarize(values: list[float]) -> Summary:
    """The row's summary over its seeds (NaN values are not results and are dropped)."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if len(x) == 0:
        return Summary(0, None, None)
    return Summary(len(x), float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else None)


def _interval(diff: float, se: float, df: float, level: float) -> tuple[float, float]:
    if se == 0:
        return diff, diff
    half = float(stats.t.ppf(0.5 + level / 2, df)) * se
    return diff - half, diff + half


def welch(a: list[float], b: list[float]) -> Difference | None:
    """Welch's comparison of two samples; None if either is empty; no interval below two values a side."""
    sa, sb = summarize(a), summarize(b)
    if sa.n == 0 or sb.n == 0:
        return None
    diff = sa.mean - sb.mean
    if sa.std is None or sb.std is None:
        return Difference(diff, None, None, None, None, None, None, sa.n, sb.n)
    va, vb = sa.std ** 2 / sa.n, sb.std ** 2 / sb.n
    se = math.sqrt(va + vb)
    if se == 0:
        return Difference(diff, 0.0, diff, diff, diff, diff, 1.0 if diff == 0 else 0.0, sa.n, sb.n)
    df = (va + vb) ** 2 / (va ** 2 / (sa.n - 1) + vb ** 2 / (sb.n - 1))
    p = float(2 * stats.t.sf(abs(diff) / se, df))
    return Difference(diff, se, *_interval(diff, se, df, 0.95), *_interval(diff, se, df, 0.90), p, sa.n, sb.n)


def verdict(d: Difference | None, expect: str, margin: float) -> str:
    """greater: holds if the 95% interval is above 0, reversed if below; equal: holds if the 90% interval
    lies within +-margin (two one-sided tests), reversed if the 95% interval excludes 0."""
    if d is None or d.low is None:
        return NOT_RESOLVED
    if expect == "greater":
        return HOLDS if d.low > 0 else REVERSED if d.high < 0 else NOT_RESOLVED
    if -margin < d.low90 and d.high90 < margin:
        return HOLDS
    return REVERSED if d.low > 0 or d.high < 0 else NOT_RESOLVED


def overall(verdicts: list[str]) -> str:
    """A finding's verdict from its claims': holds only if all hold; reversed if some are and none holds."""
    if verdicts and all(v == HOLDS for v in verdicts):
        return HOLDS
    if REVERSED in verdicts:
        return MIXED if HOLDS in verdicts else REVERSED
    return NOT_RESOLVED

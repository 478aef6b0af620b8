"""How many seeds a claim needs: the paired t's power, planned with an upper confidence bound of the spread.

A claim's contrast over seeds (ablate.stats.compare) has some sd sigma; with m seeds per row its estimate
has standard error sigma / sqrt(m) on m - 1 degrees of freedom. The sd measured on a few seeds is a poor
stand-in for sigma (from 3 seeds its 80% interval runs from 0.6 to 2.1 times the estimate), so planning
takes the one-sided 80% upper confidence bound, s sqrt((n - 1) / chi2_{0.2, n-1}), and only claims a
number of seeds when the spread is at most that.

- ">" holds when the two-sided paired t at the planning level rejects in a's favour: exactly
  P = 1 - F'(t_{1 - level/2}) for the noncentral t F' with m - 1 df and noncentrality theta sqrt(m) / sigma.
- "=" holds when TOST rejects: -M + t_{1-level} s / sqrt(m) < d < M - t_{1-level} s / sqrt(m), exact
  as an integral over the chi-square distribution of s (Owen 1965), at theta = 0 (what the paper claims).

The planning level is the one a claim must reach when no other claim of its family resolves (alpha / k
under Holm or Benjamini-Hochberg; multiplicity.planning_level), at a single look: an O'Brien-Fleming-type
design needs a few percent more seeds at its last look. A finding holds only if all its claims do: its
power is the product of its open claims' powers, and it needs the fewest seeds per row with which that
product reaches 80%. There is no "observed power": the power at the difference measured is a function of
its p and says nothing more (Hoenig & Heisey 2001).
"""
import math
from collections.abc import Callable

import numpy as np

from ablate.stats.sample import t_quantile

POWER = 0.8
BOUND = 0.8  # one-sided confidence of the sd's upper bound
MAX_SEEDS = 1000


def sd_upper(sd: float, n: int, confidence: float = BOUND) -> float:
    """The one-sided upper confidence bound of sigma from a sample sd of n values (chi-square)."""
    from scipy.special import chdtri

    return sd * math.sqrt((n - 1) / chdtri(n - 1, confidence))


def power_greater(theta: float, sd: float, m: np.ndarray, level: float) -> np.ndarray:
    """The chance a ">" claim holds with m seeds per row if the true difference is theta (noncentral t)."""
    from scipy.stats import nct  # not scipy.special's nctdtr: it returns NaN at some large noncentralities

    m = np.asarray(m, dtype=float)
    if sd == 0:
        return np.where(m >= 2, float(theta > 0), 0.0)
    df = m - 1
    return nct.sf(t_quantile(1 - level / 2, df), df, theta * np.sqrt(m) / sd)


def _chi2_pdf(v: float, df: int) -> float:
    """The chi-square density, in closed form: quad calls it thousands of times per claim, and scipy.stats' chi2.pdf
    costs 40 us a call."""
    if v <= 0:
        return 0.0
    half = df / 2
    return math.exp((half - 1) * math.log(v) - v / 2 - half * math.log(2) - math.lgamma(half))


def power_equal(theta: float, sd: float, m: int, level: float, margin: float) -> float:
    """The chance an "=" claim holds (TOST within +-margin) with m seeds per row if the true difference is theta."""
    from scipy.integrate import quad
    from scipy.special import chdtri, ndtr

    if sd == 0:
        return float(abs(theta) < margin)
    df, se = m - 1, sd / math.sqrt(m)
    t = float(t_quantile(1 - level, df))
    top = min(df * (margin / (t * se)) ** 2, chdtri(df, 1e-14))  # beyond the first the TOST band is empty

    def band(v: float) -> float:
        half = margin - t * se * math.sqrt(v / df)
        return (ndtr((half - theta) / se) - ndtr((-half - theta) / se)) * _chi2_pdf(v, df)

    return float(quad(band, 0, top, limit=200)[0])


def claim_power(expect: str, theta: float, sd: float, m: int, level: float, margin: float) -> float:
    """The chance the claim holds with m seeds per row if the truth is theta."""
    if m < 2:
        return 0.0
    if expect == "equal":
        return power_equal(theta, sd, m, level, margin)
    return float(power_greater(theta, sd, np.array(m), level))


def fewest(power: Callable[[int], float], target: float = POWER) -> int | None:
    """The fewest seeds per row (2 to MAX_SEEDS) at which an increasing power(m) reaches target; None beyond."""
    if power(MAX_SEEDS) < target:
        return None
    low, high = 1, MAX_SEEDS  # power(low) < target <= power(high)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if power(mid) >= target else (mid, high)
    return high


def resolvable(expect: str, sd: float, n: int, level: float) -> float:
    """At n seeds per row: the smallest difference a ">" claim holds for with 80%, or the smallest margin an "="
    claim holds within with 80% if the truth is 0."""
    from scipy.optimize import brentq

    if sd == 0:
        return 0.0
    if expect == "equal":
        return float(brentq(lambda mg: power_equal(0.0, sd, n, level, mg) - POWER, 1e-9 * sd, 1000 * sd))
    return float(brentq(lambda th: float(power_greater(th, sd, np.array(n), level)) - POWER, 0.0, 1000 * sd))

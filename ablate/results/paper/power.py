"""How many seeds a claim needs: the power of the Welch comparison behind each finding (stats.verdict).

A claim compares rows a against rows b, each side pooling k rows, on the n seeds its rows have in
common. Planning assumes the spread stays what those seeds show: each side's sample variance s² over
its k·n values (pooled as the test pools them), so with m seeds per row

    SE(m) = sqrt(s_a² / (k_a·m) + s_b² / (k_b·m)),   on Welch's degrees of freedom at m.

The measured difference is modelled as d = θ + SE(m)·T, T ~ Student t, for a true difference θ: the
usual shifted-t approximation, which treats SE(m) as known. A claim resolves (its verdict is anything
but "not resolved") when:

- greater: the 95% interval excludes 0:  |d| > t.975·SE;
- equal: the 90% interval lies within ±M (|d| < M − t.95·SE), or the 95% interval excludes 0.

P(resolved | θ, m) is 1 minus the chance that d lands in the band between those bounds. The seeds
needed for an effect θ are the smallest m with P ≥ POWER (80%), searched up to MAX_SEEDS. At the
present n, the smallest resolvable difference is the θ with P = 80% (greater), and for an equal claim
the smallest margin within which equality shows with 80% if the true difference is 0, t.95·SE + t.90·SE.

Worked case (tests/test_power.py): one row a side, s = 1 on both, θ = 1: SE(m) = sqrt(2/m), df = 2m − 2;
m = 16: t.975(30) = 2.042, 1/SE = 2.828, P = t.sf(2.042 − 2.828; 30) = 0.78; m = 17: t.975(32) = 2.037,
1/SE = 2.915, P = 0.81, so 17 seeds, the textbook two-sample answer for a one-standard-deviation effect.

The effects planned for: the paper's, at our level (greater: the paper's difference of the two sides'
means, times the factor that scales the equal margin, our baseline over the paper's at most 1; equal: 0,
what the paper claims), and the observed difference.
"""
import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

POWER = 0.8
MAX_SEEDS = 1000


@dataclass(frozen=True)
class Spread:
    """A claim's two sides: sample variance over their pooled values and the rows each pools."""

    var_a: float
    var_b: float
    k_a: int
    k_b: int

    def se_df(self, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Welch's standard error and degrees of freedom with m seeds per row."""
        va, vb = self.var_a / (self.k_a * m), self.var_b / (self.k_b * m)
        df = (va + vb) ** 2 / (va ** 2 / (self.k_a * m - 1) + vb ** 2 / (self.k_b * m - 1))
        return np.sqrt(va + vb), df


def p_resolved(theta: float, m: np.ndarray, spread: Spread, expect: str, margin: float) -> np.ndarray:
    """The chance that a claim resolves with m seeds per row if the true difference is theta."""
    m = np.asarray(m, dtype=float)
    if spread.var_a + spread.var_b == 0:  # no spread: every measurement is the truth
        return np.full(m.shape, 1.0 if expect == "equal" or theta != 0 else 0.0)
    se, df = spread.se_df(m)
    high = stats.t.ppf(0.975, df) * se  # |d| above: the 95% interval excludes 0
    low = np.maximum(0.0, margin - stats.t.ppf(0.95, df) * se) if expect == "equal" else np.zeros_like(se)
    band = (stats.t.cdf((high - theta) / se, df) - stats.t.cdf((low - theta) / se, df)
            + stats.t.cdf((-low - theta) / se, df) - stats.t.cdf((-high - theta) / se, df))
    return np.where(low >= high, 1.0, 1.0 - band)


def seeds_needed(theta: float, spread: Spread, expect: str, margin: float) -> int | None:
    """The fewest seeds per row (at least 2) resolving the claim with 80% if the truth is theta (None: more than
    MAX_SEEDS)."""
    m = np.arange(2, MAX_SEEDS + 1)
    enough = np.flatnonzero(p_resolved(theta, m, spread, expect, margin) >= POWER)
    return int(m[enough[0]]) if len(enough) else None


def resolvable(n: int, spread: Spread, expect: str) -> float:
    """At n seeds per row: the smallest difference resolved with 80% (greater), or the smallest margin
    equality would show within with 80% if the true difference were 0 (equal)."""
    se, df = (float(x) for x in spread.se_df(np.array(float(n))))
    if se == 0:
        return 0.0
    if expect == "equal":
        return float((stats.t.ppf(0.95, df) + stats.t.ppf(0.5 + POWER / 2, df)) * se)
    return float(optimize.brentq(lambda t: p_resolved(t, np.array(n), spread, expect, 0.0) - POWER, 0.0, 100 * se))


@dataclass(frozen=True)
class Power:
    """What a claim's seeds can resolve, and the seeds per row it would take."""

    n: int  # seeds per row now (common to the claim's rows)
    resolvable: float  # see resolvable()
    paper: float | None  # the paper's effect at our level; None where the paper prints no number
    n_paper: int | None  # seeds per row resolving it with 80%; None beyond MAX_SEEDS or without a paper effect
    observed: float
    n_observed: int | None  # the same if the true difference were the observed one

    @property
    def to_reproduce(self) -> int | None:
        """Seeds per row for the paper's effect (the observed one where the paper prints no number)."""
        return self.n_observed if self.paper is None else self.n_paper

    @property
    def needed(self) -> int | None:
        """The fewest seeds per row either effect could resolve with (the planning estimate); None beyond MAX_SEEDS."""
        found = [n for n in (self.n_paper, self.n_observed) if n is not None]
        return min(found) if found else None


def claim_power(a: list[float], b: list[float], k_a: int, k_b: int, n: int, expect: str, margin: float,
                paper: float | None) -> Power | None:
    """The power of a claim from its sides' values on its n common seeds; None below two seeds (no spread)."""
    if n < 2 or len(a) < 2 or len(b) < 2:
        return None
    spread = Spread(float(np.var(a, ddof=1)), float(np.var(b, ddof=1)), k_a, k_b)
    observed = float(np.mean(a) - np.mean(b))
    target = 0.0 if expect == "equal" else paper
    return Power(n, resolvable(n, spread, expect), target,
                 None if target is None or (math.isclose(target, 0) and expect != "equal")
                 else seeds_needed(target, spread, expect, margin),
                 observed, seeds_needed(observed, spread, expect, margin))

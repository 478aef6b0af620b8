"""Differences between rows over seeds.

Rows that share seeds are compared seed by seed: each common seed gives one contrast, the mean of side
a's rows minus the mean of side b's rows at that seed, and the paired t on those contrasts has n - 1
degrees of freedom. A seed's effect (its initialisation, data order) moves every row it trains, so it
cancels in the contrast; with several rows a side this is the contrast of row means in the mixed model
with row fixed and seed random. Rows with no seed in common are compared by Welch's contrast of their
means (Satterthwaite's degrees of freedom). The p-values are those of the t-tests; functions on arrays
work on every leading axis at once (the simulations use them as the report does).
"""
from dataclasses import dataclass

import numpy as np

from ablate.stats.sample import t_quantile


@dataclass(frozen=True)
class Difference:
    """mean(a) - mean(b): estimate, standard error and degrees of freedom (None without a spread: one seed, or no
    variation over the seeds), seeds, test."""

    diff: float
    se: float | None
    df: float | None
    n: int  # paired: seeds in common; Welch: the fewest seeds of any row
    paired: bool
    r: float | None = None  # paired: correlation over seeds of the two sides' means (the seed effect)

    @property
    def testable(self) -> bool:
        """Whether there is a spread to test with."""
        return self.se is not None

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """The two-sided interval at level (a testable difference only)."""
        half = float(t_quantile(0.5 + level / 2, self.df)) * self.se
        return self.diff - half, self.diff + half

    @property
    def p(self) -> float:
        """Two-sided p of no difference (a testable difference only)."""
        return float(p_zero(self.diff, self.se, self.df))


def _t_sf(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    from scipy.special import stdtr

    return stdtr(df, -np.asarray(t, dtype=float))


def _ratio(x: np.ndarray, se: np.ndarray) -> np.ndarray:
    """x / se, and 0 where there is no spread: no evidence either way (p 1, a one-sided p 0.5).

    Contrasts equal at every seed estimate their noise as zero, which is no estimate: the t statistic is
    undefined there. Scores are discrete (a test set of 5,000 images moves in steps of 0.02 points), so two
    seeds tie often enough; reading a tie as certainty would let two seeds prove any difference."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se > 0, x / np.where(se > 0, se, 1), 0.0)


def p_zero(diff: np.ndarray, se: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Two-sided p of no difference."""
    return np.minimum(1.0, 2 * _t_sf(np.abs(_ratio(diff, se)), df))


def p_equal(diff: np.ndarray, se: np.ndarray, df: np.ndarray, margin: float) -> np.ndarray:
    """TOST (Schuirmann 1987): the larger one-sided p of -margin < difference < margin."""
    return _t_sf(_ratio(margin - np.abs(diff), se), df)


def p_outside(diff: np.ndarray, se: np.ndarray, df: np.ndarray, margin: float) -> np.ndarray:
    """Two-sided p of a difference inside +-margin: small when the interval lies entirely outside it."""
    return np.minimum(1.0, 2 * _t_sf(_ratio(np.abs(diff) - margin, se), df))


def contrast(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per seed, the mean of a's rows minus the mean of b's: a is (..., rows, seeds), b likewise."""
    return np.asarray(a, dtype=float).mean(axis=-2) - np.asarray(b, dtype=float).mean(axis=-2)


def paired(c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paired t's estimate, standard error and df from per-seed contrasts (last axis: seeds, at least 2)."""
    c = np.asarray(c, dtype=float)
    n = c.shape[-1]
    return c.mean(axis=-1), c.std(axis=-1, ddof=1) / np.sqrt(n), np.full(c.shape[:-1], n - 1.0)


def welch(a: list[np.ndarray], b: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Welch's contrast of row means, estimate, standard error and Satterthwaite df: a and b are lists of rows,
    each (..., seeds of that row, at least 2)."""
    parts = [(np.asarray(x, dtype=float), 1 / len(a)) for x in a] + [(np.asarray(x, dtype=float), -1 / len(b))
                                                                   for x in b]
    diff = sum(w * x.mean(axis=-1) for x, w in parts)
    terms = [w ** 2 * x.var(axis=-1, ddof=1) / x.shape[-1] for x, w in parts]
    var = sum(terms)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = var ** 2 / sum(v ** 2 / (x.shape[-1] - 1) for v, (x, _) in zip(terms, parts))
    return diff, np.sqrt(var), np.where(var > 0, df, min(x.shape[-1] for x, _ in parts) - 1.0)


def paired_difference(a: np.ndarray, b: np.ndarray) -> Difference:
    """The paired difference of a's rows and b's (each rows x common seeds)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    c = contrast(a, b)
    if len(c) < 2:
        return Difference(float(c.mean()), None, None, len(c), True)
    diff, se, df = paired(c)
    side_a, side_b = a.mean(axis=0), b.mean(axis=0)
    spread = side_a.std() * side_b.std()
    r = float(np.mean((side_a - side_a.mean()) * (side_b - side_b.mean())) / spread) if spread > 0 else None
    if se == 0:  # the same contrast at every seed: no spread to test with (_ratio)
        return Difference(float(diff), None, None, len(c), True, r)
    return Difference(float(diff), float(se), float(df), len(c), True, r)


def welch_difference(a: list[np.ndarray], b: list[np.ndarray]) -> Difference:
    """Welch's difference of a's rows and b's (each row its own seeds); no spread below two seeds in a row."""
    n = min(len(x) for x in (*a, *b))
    if n < 2:
        diff = np.mean([np.mean(x) for x in a]) - np.mean([np.mean(x) for x in b])
        return Difference(float(diff), None, None, n, False)
    diff, se, df = welch(a, b)
    if se == 0:  # every row the same at each of its seeds: no spread to test with
        return Difference(float(diff), None, None, n, False)
    return Difference(float(diff), float(se), float(df), n, False)

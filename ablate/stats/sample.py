"""One row over its seeds: mean, standard deviation and the 95% interval of the mean (Student t, n - 1 df); the
interval of a standard deviation (chi-square, n - 1 df)."""
import math
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95


@dataclass(frozen=True)
class Summary:
    """A row's metric over its seeds; sd, low and high are None below two seeds (no spread to go by)."""

    n: int
    mean: float | None
    sd: float | None
    low: float | None
    high: float | None


def t_quantile(q: np.ndarray | float, df: np.ndarray | float) -> np.ndarray:
    """Student t's q-quantile with df degrees of freedom."""
    from scipy.special import stdtrit

    return stdtrit(df, q)


def mean_interval(mean: np.ndarray, sd: np.ndarray, n: np.ndarray,
                  level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """The two-sided interval of the mean, mean -+ t(n - 1) sd / sqrt(n); NaN below two values."""
    mean, sd, n = (np.asarray(x, dtype=float) for x in (mean, sd, n))
    ok = n >= 2
    half = np.where(ok, t_quantile(0.5 + level / 2, np.where(ok, n - 1, 1)) * sd / np.sqrt(np.where(ok, n, 1)),
                    np.nan)
    return mean - half, mean + half


def sd_interval(sd: float, n: int, level: float = LEVEL) -> tuple[float, float]:
    """The two-sided interval of sigma from a sample sd of n normal values: sd sqrt((n - 1) / chi2 quantiles)."""
    from scipy.special import chdtri

    tail = (1 - level) / 2
    return sd * math.sqrt((n - 1) / chdtri(n - 1, tail)), sd * math.sqrt((n - 1) / chdtri(n - 1, 1 - tail))


def summarize(values: list[float]) -> Summary:
    """The row's summary (NaN and None are not results and are dropped)."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if len(x) == 0:
        return Summary(0, None, None, None, None)
    if len(x) == 1:
        return Summary(1, float(x[0]), None, None, None)
    sd = float(x.std(ddof=1))
    low, high = mean_interval(x.mean(), sd, len(x))
    return Summary(len(x), float(x.mean()), sd, float(low), float(high))

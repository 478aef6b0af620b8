"""Group-sequential looks at a claim: Lan-DeMets O'Brien-Fleming-type alpha spending and sequential p-values.

A design declares its looks in advance, n_1 < ... < n_K seeds (the last is the most the study will
take), with information fraction t_k = n_k / n_K. A two-sided test spends alpha / 2 on each side with
the O'Brien-Fleming-type function of Lan & DeMets (1983), as gsDesign and East do:

    alpha_side(t) = 2 - 2 Phi(z_{1 - alpha/4} / sqrt(t)),  so  alpha(t) = 2 alpha_side(t), alpha(1) = alpha:

little at the early looks, nearly all of it at the last (three equally spaced looks at 5%: boundaries
3.71, 2.51, 1.99 on |Z|). The boundary c_k makes the chance of crossing first at look k, when there is
no difference, alpha(t_k) - alpha(t_{k-1}). Z_k is the canonical joint normal (Jennison & Turnbull 2000,
ch. 3): S_k = Z_k sqrt(t_k) has independent normal increments of variance t_k - t_{k-1}. The crossing
chances come from recursive numerical integration of the density of S_k on the region not crossed yet
(Armitage, McPherson & Rowe 1969; J&T ch. 19), Simpson's rule on a grid.

The claims' statistics are paired t with n_k - 1 degrees of freedom, not normal. The usual way across
(J&T ch. 3.8) rejects when the t-test's two-sided p is at most the boundary's nominal level
2 (1 - Phi(c_k)); at 2-11 degrees of freedom that is slightly liberal, because t statistics at
different looks depend on each other less than the canonical normal ones: 5.1% instead of 5% over
looks at 3, 6 and 12 seeds, 5.5% at 3 and 4 (400,000 simulated claims each, `python -m
ablate.stats.simulate`). So a design of level
alpha uses the boundaries of the normal-theory design whose nominal levels sum to alpha: by
Bonferroni's inequality no more than alpha of true-null claims then resolve over all the looks,
whatever the dependence, and as an O'Brien-Fleming-type design spends almost nothing early, the last
look keeps most of alpha (0.047 of 0.05 at 3, 6, 12 seeds).

The sequential p-value of a claim is the smallest alpha at which the design would have rejected at some
look so far (J&T ch. 9, repeated p-values): it never rises from one look to the next, it is at most
alpha exactly when the level-alpha design has rejected, and so it composes with Holm's and
Benjamini-Hochberg's corrections, which compare it with smaller levels. A single look (a fixed design)
gives back the t-test's own p.
"""
from dataclasses import dataclass
from functools import cache

import numpy as np

GRID = 201  # Simpson points per look: crossing chances within 1e-7 of a 1,601-point grid's
ALPHAS = np.geomspace(1e-12, 0.99, 161)  # overall levels at which nominal levels are tabulated, to invert them


def spent(alpha: float, t: np.ndarray) -> np.ndarray:
    """Two-sided alpha spent by information fraction t: alpha / 2 a side, O'Brien-Fleming-type."""
    from scipy.special import ndtr, ndtri

    return 4 * ndtr(ndtri(alpha / 4) / np.sqrt(t))


class _Recursion:
    """The density of S_k, times Simpson weights, on the region no look has crossed yet."""

    def __init__(self, t: float, b: float):
        self.t = t
        self.x, w = _simpson(b)
        self.mass = np.exp(-self.x ** 2 / (2 * t)) / np.sqrt(2 * np.pi * t) * w

    def crossing(self, t: float, b: float) -> float:
        """The chance of not having crossed so far and crossing |S| >= b at the look at fraction t."""
        from scipy.special import ndtr

        step = np.sqrt(t - self.t)
        return float(self.mass @ (ndtr((-b - self.x) / step) + ndtr((self.x - b) / step)))

    def advance(self, t: float, b: float) -> None:
        """Move to the look at fraction t, keeping the paths that stay within |S| < b."""
        step = np.sqrt(t - self.t)
        x, w = _simpson(b)
        kernel = np.exp(-((x[:, None] - self.x[None, :]) / step) ** 2 / 2) / (step * np.sqrt(2 * np.pi))
        self.t, self.x, self.mass = t, x, (kernel @ self.mass) * w


def _simpson(b: float) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(-b, b, GRID)
    w = np.full(GRID, 2.0)
    w[1::2] = 4.0
    w[0] = w[-1] = 1.0
    return x, w * 2 * b / (3 * (GRID - 1))


def crossing_chances(fractions: tuple[float, ...], c: np.ndarray) -> np.ndarray:
    """The chance of crossing first at each look with boundaries c on |Z| when there is no difference."""
    from scipy.special import ndtr

    t = np.asarray(fractions, dtype=float)
    out = [2 * ndtr(-c[0])]
    state = _Recursion(t[0], c[0] * np.sqrt(t[0]))
    for k in range(1, len(t)):
        b = c[k] * np.sqrt(t[k])
        out.append(state.crossing(t[k], b))
        state.advance(t[k], b)
    return np.array(out)


def boundaries(fractions: tuple[float, ...], alpha: float) -> np.ndarray:
    """The boundary c_k on |Z_k| at each look (information fractions increasing, the last 1)."""
    from scipy.optimize import brentq
    from scipy.special import ndtri

    t = np.asarray(fractions, dtype=float)
    to_spend = np.diff(spent(alpha, t), prepend=0.0)
    c = np.empty(len(t))
    c[0] = -ndtri(to_spend[0] / 2)
    state = _Recursion(t[0], c[0] * np.sqrt(t[0]))
    for k in range(1, len(t)):
        if state.crossing(t[k], 0.0) <= to_spend[k]:  # spending more than is left: reject whatever comes
            c[k] = 0.0
        else:
            b = brentq(lambda b: state.crossing(t[k], b) - to_spend[k], 0.0, 40 * np.sqrt(t[k]), xtol=1e-10)
            c[k] = b / np.sqrt(t[k])
        state.advance(t[k], c[k] * np.sqrt(t[k]))
    return c


@dataclass(frozen=True)
class Design:
    """Looks declared in advance: the seeds (common to a claim's rows) at each look, the last the most."""

    looks: tuple[int, ...]

    @property
    def fractions(self) -> tuple[float, ...]:
        """Information fraction of each look: its seeds over the last look's."""
        return tuple(n / self.looks[-1] for n in self.looks)

    def nominal(self, level: float) -> np.ndarray:
        """The two-sided p-level of each look's boundary in the normal-theory design of overall level `level`."""
        from scipy.special import ndtr

        return 2 * ndtr(-boundaries(self.fractions, level))

    def levels(self, alpha: float) -> np.ndarray:
        """The p-level each look rejects at: the normal-theory design whose levels sum to alpha."""
        return _levels(self.looks, alpha).copy()

    def look_of(self, n: int) -> int | None:
        """The index of the last look that n seeds reach (None below the first)."""
        reached = [k for k, m in enumerate(self.looks) if m <= n]
        return reached[-1] if reached else None

    def by_look(self, p: np.ndarray) -> np.ndarray:
        """Per look, the smallest alpha at which that look's two-sided p rejects (last axis: looks 1..k)."""
        p = np.asarray(p, dtype=float)
        if len(self.looks) == 1:
            return p.copy()
        inverses, total = _splines(self.looks)
        logs = np.log(np.clip(p, 1e-300, 1.0))
        # below the smallest tabulated level a p counts as that level: it resolves at any alpha above 1e-12
        return np.stack([np.exp(np.minimum(total(inverses[j](np.maximum(logs[..., j], inverses[j].x[0]))), 0.0))
                         for j in range(p.shape[-1])], axis=-1)

    def p_value(self, p: np.ndarray) -> np.ndarray:
        """Sequential p-values from the t-tests' two-sided p at the looks so far (last axis: looks 1..k)."""
        return self.by_look(p).min(axis=-1)


@cache
def _levels(looks: tuple[int, ...], alpha: float) -> np.ndarray:
    """Design.levels, computed once per design and alpha."""
    from scipy.optimize import brentq

    design = Design(looks)
    if len(looks) == 1:
        return np.array([alpha])
    level = brentq(lambda a: design.nominal(a).sum() - alpha, alpha * 1e-3, alpha, xtol=alpha * 1e-10)
    return design.nominal(level)


@cache
def _splines(looks: tuple[int, ...]) -> tuple[list, object]:
    """Cubic splines through levels tabulated over ALPHAS (once per design; within 1e-6 of exact where p < 0.2):
    per look, log p-level -> log design level; and log design level -> log of the sum of its levels."""
    from scipy.interpolate import CubicSpline

    design = Design(looks)
    levels = np.array([design.nominal(a) for a in ALPHAS])  # (alphas, looks), increasing down the columns
    logs = np.log(ALPHAS)
    return ([CubicSpline(np.log(levels[:, j]), logs) for j in range(len(looks))],
            CubicSpline(logs, np.log(levels.sum(axis=1))))

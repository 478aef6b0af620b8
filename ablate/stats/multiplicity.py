"""Correcting a family of claims together: Holm (1979), Benjamini-Hochberg (1995), or none.

Holm's step-down controls the family-wise error (the chance of any false finding) at alpha under any
dependence, and rejects whatever Bonferroni does and more; Benjamini-Hochberg's step-up controls the
false discovery rate (the expected share of false findings among those made), under independence or
positive dependence. A claim with no test yet counts in the family with p = 1, so the family does not
grow as seeds arrive. Adjusted p-values: reject a claim when its adjusted p is at most alpha.
"""
import numpy as np

CORRECTIONS = {"holm": "Holm (family-wise error)", "bh": "Benjamini-Hochberg (false discovery rate)",
               "none": "no correction"}


def check_correction(name: str) -> str:
    """The correction's name (ValueError naming the choices for an unknown one)."""
    if name not in CORRECTIONS:
        raise ValueError(f"--correction {name}: expected one of {', '.join(CORRECTIONS)}")
    return name


def adjust(p: np.ndarray, method: str) -> np.ndarray:
    """Adjusted p-values along the last axis (NaN counts as 1)."""
    p = np.nan_to_num(np.asarray(p, dtype=float), nan=1.0)
    m = p.shape[-1]
    if method == "none" or m == 0:
        return p
    order = np.argsort(p, axis=-1)
    ranked = np.take_along_axis(p, order, axis=-1)
    if method == "holm":
        adjusted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * ranked), axis=-1)
    else:
        scaled = ranked * m / np.arange(1, m + 1)
        adjusted = np.minimum(1.0, np.flip(np.minimum.accumulate(np.flip(scaled, -1), axis=-1), -1))
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return out


def planning_level(alpha: float, method: str, family: int) -> float:
    """The level a claim must reach when no other claim of the family resolves: alpha / family, or alpha
    without a correction (what seeds-needed estimates plan for)."""
    return alpha if method == "none" else alpha / max(1, family)

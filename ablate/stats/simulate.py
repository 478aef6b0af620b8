"""Simulated error rates and power of the findings' statistics: `python -m ablate.stats.simulate [--studies N]`.

Every function draws studies with numpy and runs them through the report's own tests (compare.py,
claims.py, multiplicity.py, sequential.py), vectorised over the studies, so a million claims take
seconds. A study is rows x seeds of top-1 with a seed effect: x[row, seed] = mean[row] + u[seed] + e,
total sd and intraclass correlation as in the shipped Table 4 proxy runs (1.64 points, 0.40).

Printed: the per-claim type-I error of a fixed design and of the --until-resolved design (looks 3, 6, 12
declared in advance), with the normal-theory nominal levels applied to t statistics beside it for
comparison; the family-wise false-finding rate of Table 4's seven claims when every row comes from one
distribution, with and without Holm's correction; and the power at a 0.5 sd and a 1 sd difference,
unpaired (Welch) against paired by seed, fixed against sequential.
"""
import argparse
from collections.abc import Sequence

import numpy as np

from ablate.stats.claims import ALPHA, NOT_RESOLVED, REVERSED, claim_p, decide
from ablate.stats.compare import contrast, p_zero, paired, welch
from ablate.stats.multiplicity import adjust
from ablate.stats.sequential import Design

SD = 1.64  # total sd of one run's top-1 on the shipped Table 4 proxy rows (points)
ICC = 0.40  # the share of it that is the seed's, common to every row
MARGIN = 0.45  # Table 4's "equal" margin at proxy level (points)
# Table 4's claims (ablate/results/paper/reference/table4.yaml; tests/test_stats_simulation.py keeps them equal):
# row indices in the table's order 1-12 (0-based), side a, side b, expectation.
TABLE4_ROWS = ("none", "noape", "noape_product_ctx_q", "noape_product_ctx_k", "noape_product_ctx_v",
               "noape_product_ctx_qk", "noape_product_ctx_qkv", "product_ctx_q", "product_ctx", "product_ctx_v",
               "product_ctx_qk", "product_ctx_qkv")
TABLE4_CLAIMS = (((0,), (1,), "greater"), ((3,), (0,), "greater"), ((8,), (3,), "equal"),
                 ((2, 7), (4, 9), "greater"), ((3, 8), (4, 9), "greater"), ((6,), (5,), "greater"),
                 ((11,), (10,), "greater"))


def draw(rng: np.random.Generator, studies: int, means: Sequence[float], seeds: int, sd: float = SD,
         icc: float = ICC) -> np.ndarray:
    """Studies x rows x seeds of runs: each row's mean, plus a seed effect shared by the rows, plus noise."""
    seed_effect = rng.normal(0.0, sd * np.sqrt(icc), (studies, 1, seeds))
    noise = rng.normal(0.0, sd * np.sqrt(1 - icc), (studies, len(means), seeds))
    return np.asarray(means, dtype=float)[None, :, None] + seed_effect + noise


def _looks(x: np.ndarray, a: tuple[int, ...], b: tuple[int, ...], looks: tuple[int, ...],
           unpaired: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimate, standard error and df of a claim at each look: paired t, or Welch ignoring the seeds."""
    out = []
    for n in looks:
        if unpaired:
            out.append(welch([x[:, r, :n] for r in a], [x[:, r, :n] for r in b]))
        else:
            out.append(paired(contrast(x[:, list(a), :n], x[:, list(b), :n])))
    return tuple(np.stack([o[i] for o in out], axis=-1) for i in range(3))


def verdicts(x: np.ndarray, claims: Sequence[tuple], looks: tuple[int, ...], correction: str = "holm",
             margin: float = MARGIN, unpaired: bool = False) -> np.ndarray:
    """Each study's verdict on each claim (studies x claims), tested at every look and corrected together."""
    design = Design(looks)
    p, holds = zip(*(claim_p(*_looks(x, a, b, looks, unpaired), design, expect, margin) for a, b, expect in claims))
    return decide(adjust(np.stack(p, axis=-1), correction), np.stack(holds, axis=-1))


def false_findings(found: np.ndarray, claims: Sequence[tuple]) -> np.ndarray:
    """Where a verdict is false when no row differs: any resolved ">" claim, an "=" claim reversed."""
    expects = np.array([expect for _, _, expect in claims])
    return np.where(expects == "greater", found != NOT_RESOLVED, found == REVERSED)


def shortcut_type_one(rng: np.random.Generator, studies: int, looks: tuple[int, ...], levels: np.ndarray) -> float:
    """The type-I error of rejecting when a look's paired-t p is at most that look's level (a shortcut, not
    the design): each look at 5%, as the loop did before, or the normal-theory nominal levels applied to t."""
    x = draw(rng, studies, (0.0, 0.0), looks[-1])
    diff, se, df = _looks(x, (0,), (1,), looks, False)
    return float((p_zero(diff, se, df) <= levels).any(axis=-1).mean())


def power(rng: np.random.Generator, studies: int, effect_sd: float, looks: tuple[int, ...],
          unpaired: bool) -> tuple[float, float]:
    """For one ">" claim, row a ahead by effect_sd total sds: the chance it holds, and the mean seeds per row
    a sequential design takes (it stops at the first look that resolves)."""
    x = draw(rng, studies, (effect_sd * SD, 0.0), looks[-1])
    design = Design(looks)
    diff, se, df = _looks(x, (0,), (1,), looks, unpaired)
    found = np.zeros(studies, dtype=bool)
    stopped = np.full(studies, looks[-1])
    for k in range(len(looks)):
        p, holds = claim_p(diff[:, :k + 1], se[:, :k + 1], df[:, :k + 1], design, "greater", 0.0)
        now = (p <= ALPHA) & ~found
        stopped = np.where(now, looks[k], stopped)
        found |= p <= ALPHA
    holds_at_end = claim_p(diff, se, df, design, "greater", 0.0)
    return float(np.mean(found & holds_at_end[1])), float(stopped.mean())


def _rate(x: float, n: int) -> str:
    return f"{x:.2%} ± {np.sqrt(x * (1 - x) / n):.2%}"


def main(studies: int, seed: int) -> None:
    """Print the error rates and power tables."""
    rng = np.random.default_rng(seed)
    sequential, fixed = (3, 6, 12), (12,)
    print(f"{studies:,} simulated studies each; runs: total sd {SD} points, seed share {ICC:.0%}; alpha {ALPHA}; "
          "rates ± one Monte Carlo standard error.\n")
    print("Per-claim type-I error (one '>' claim, no true difference):")
    for name, looks in (("fixed, 3 seeds", (3,)), ("fixed, 12 seeds", fixed), ("looks 3, 6, 12", sequential),
                        ("looks 3, 6, 9", (3, 6, 9)), ("looks 3, 6, 12, 24", (3, 6, 12, 24))):
        x = draw(rng, studies, (0.0, 0.0), looks[-1])
        rate = float((verdicts(x, [((0,), (1,), "greater")], looks) != NOT_RESOLVED).mean())
        print(f"  {name:22s} {_rate(rate, studies)}")
    for looks in (sequential, (3, 6, 12, 24)):
        rate = shortcut_type_one(rng, studies, looks, np.full(len(looks), ALPHA))
        print(f"  (each look at 5%, looks {', '.join(map(str, looks))}: {_rate(rate, studies)}; the rule before)")
    for looks in (sequential, (3, 6, 9), (3, 4)):
        rate = shortcut_type_one(rng, studies, looks, Design(looks).nominal(ALPHA))
        print(f"  (normal-theory levels applied to t, looks {', '.join(map(str, looks))}: {_rate(rate, studies)}; "
              "not used)")
    print("\nTable 4, every row from one distribution: share of tables with at least one false finding "
          f"({len(TABLE4_CLAIMS)} claims):")
    for name, looks in (("3 seeds", (3,)), ("9 seeds", (9,)), ("looks 3, 6, 12", sequential)):
        x = draw(rng, studies, [0.0] * len(TABLE4_ROWS), looks[-1])
        rates = [float(false_findings(verdicts(x, TABLE4_CLAIMS, looks, c), TABLE4_CLAIMS).any(axis=-1).mean())
                 for c in ("holm", "bh", "none")]
        line = [f"{c}: {_rate(r, studies)}" for c, r in zip(("holm", "bh", "none"), rates)]
        print(f"  {name:15s} " + "; ".join(line))
    print("\nPower: P(a > b holds), one row a side, a ahead by 0.5 or 1 total sd (mean seeds per row used):")
    print("  effect  test      fixed, 12 seeds     looks 3, 6, 12")
    for effect in (0.5, 1.0):
        for unpaired in (True, False):
            cells = []
            for looks in (fixed, sequential):
                p, used = power(rng, studies, effect, looks, unpaired)
                cells.append(f"{p:6.1%} ({used:4.1f})")
            print(f"  {effect:4.1f} sd  {'Welch ' if unpaired else 'paired'}    {cells[0]:18s}  {cells[1]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Simulated type-I error and power of the findings' statistics.")
    parser.add_argument("--studies", type=int, default=20000, help="simulated studies per line (default 20,000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.studies, args.seed)

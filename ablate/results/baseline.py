"""`ablate report --baseline KEY=VALUE`: every other row's difference to its baseline row, on the seeds both have.

The baseline rows are those whose factor KEY has VALUE (repeat --baseline to name one row by several
keys). Each other row is compared with the baseline row that has its values of every other factor, or
with the only baseline row when there is one: with pe.name=none on a study of pe.name x pe.absolute,
each encoding against no encoding at the same absolute embedding. The difference is paired by seed
(ablate.stats.compare: the seed's effect cancels) with its 95% interval and two-sided p; Welch where
the rows share no seed. Each metric's comparisons are one family, corrected together (Holm by default).
"""
import numpy as np
import pandas as pd

from ablate.results.where import matches  # one rule for KEY=VALUE, as --where reads it
from ablate.stats.compare import Difference, paired_difference, welch_difference
from ablate.stats.multiplicity import CORRECTIONS, adjust

COLUMNS = ("diff", "diff_low", "diff_high", "diff_n", "diff_test", "p", "p_adjusted")  # per metric: <metric>_<column>


def _label(table: pd.DataFrame, factors: list[str], i: int) -> str:
    return ", ".join("-" if pd.isna(table.loc[i, f]) else str(table.loc[i, f]) for f in factors)


def baseline_rows(table: pd.DataFrame, factors: list[str], conditions: list[str]) -> pd.Series:
    """Which rows are baseline rows (ValueError naming a bad condition, an unknown key or a value no row has)."""
    chosen = pd.Series(True, index=table.index)
    for condition in conditions:
        key, sep, value = condition.partition("=")
        if not sep or not key:
            raise ValueError(f"--baseline {condition}: expected KEY=VALUE, e.g. --baseline rpe.method=none")
        if key not in factors:
            raise ValueError(f"--baseline {condition}: {key} is not a column of the table; its columns: "
                             f"{', '.join(factors) or 'none'} (--by chooses them)")
        hits = matches(table[key], value)
        if not hits.any():
            values = sorted({"null" if pd.isna(v) else str(v) for v in table[key]})
            raise ValueError(f"--baseline {condition}: no row has it; {key} is {', '.join(values)}")
        chosen &= hits
    if not chosen.any():
        raise ValueError(f"--baseline {' '.join(conditions)}: no row has all of these values")
    if chosen.all():
        raise ValueError(f"--baseline {' '.join(conditions)}: every row has it, so there is nothing to compare")
    return chosen


def partners(table: pd.DataFrame, factors: list[str], keys: list[str], base: pd.Series) -> list[int | None]:
    """Per row, the baseline row it is compared with: the one with its other factors, or the only one."""
    others = [f for f in factors if f not in keys]
    text = table[others].map(lambda v: "-" if pd.isna(v) else str(v))
    bases = list(table.index[base])
    out: list[int | None] = []
    for i in table.index:
        same = [b for b in bases if (text.loc[b] == text.loc[i]).all()]
        out.append(None if base[i] else same[0] if same else bases[0] if len(bases) == 1 else None)
    return out


def _per_seed(runs: pd.DataFrame, metric: str) -> dict[int, dict[int, float]]:
    """Per setting, each seed's value of metric (the mean, should a seed have several runs), grouped once."""
    values = pd.to_numeric(runs[metric], errors="coerce")
    kept = values.notna()
    means = values[kept].groupby([runs.loc[kept, "setting"], runs.loc[kept, "seed"].astype(int)]).mean()
    out: dict[int, dict[int, float]] = {}
    for (setting, seed), value in means.items():
        out.setdefault(setting, {})[seed] = value
    return out


def difference(a: dict[int, float], b: dict[int, float]) -> Difference | None:
    """a - b paired on their common seeds, Welch if they share none; None if either has no value."""
    common = sorted(set(a) & set(b))
    if common:
        return paired_difference(np.array([[a[s] for s in common]]), np.array([[b[s] for s in common]]))
    if not a or not b:
        return None
    return welch_difference([np.array(list(a.values()))], [np.array(list(b.values()))])


def compare_to_baseline(table: pd.DataFrame, runs: pd.DataFrame, factors: list[str], metrics: tuple[str, ...],
                        conditions: list[str], correction: str) -> tuple[pd.DataFrame, list[str]]:
    """The table with each row's difference to its baseline row per metric, and the lines that say how."""
    base = baseline_rows(table, factors, conditions)
    keys = [c.partition("=")[0] for c in conditions]
    vs = partners(table, factors, keys, base)
    table = table.copy()
    table["baseline"] = base.to_numpy()
    table["vs"] = [None if v is None else _label(table, factors, v) for v in vs]
    completed = runs[runs["status"] == "completed"]
    for m in metrics:
        rows, seeds = [], _per_seed(completed, m)
        for i, v in zip(table.index, vs):
            d = None if v is None else difference(seeds.get(i, {}), seeds.get(v, {}))
            low, high = d.interval() if d is not None and d.testable else (np.nan, np.nan)
            rows.append((np.nan if d is None else d.diff, low, high, np.nan if d is None else d.n,
                         None if d is None else "paired" if d.paired else "Welch",
                         d.p if d is not None and d.testable else np.nan))
        for name, values in zip(COLUMNS[:-1], zip(*rows)):
            table[f"{m}_{name}"] = list(values)
        compared = table[f"{m}_diff"].notna() & ~table["baseline"]
        p = table.loc[compared, f"{m}_p"].to_numpy(dtype=float)
        table[f"{m}_p_adjusted"] = np.nan
        table.loc[compared, f"{m}_p_adjusted"] = adjust(p, correction)
    family = int((~base).sum())
    missing = [i for i, v in zip(table.index, vs) if v is None and not base[i]]
    which = "the only one" if base.sum() == 1 else "per row, the one with its other factors"
    legend = [f"Δ: each row minus its baseline row ({' '.join(conditions)}: {which}), "
              "paired on the seeds both have: mean [95% interval, t with seeds - 1 df], two-sided p "
              "(Welch where they share no seed); "
              + (f"adj.: {CORRECTIONS[correction]}, over each metric's {family} comparisons."
                 if correction != "none" else "no correction for the number of comparisons.")]
    if missing:
        legend.append(f"{len(missing)} rows have no baseline row with their other factors: no Δ "
                      "(--baseline with more keys names one baseline row)")
    if any((table[f"{m}_p"].isna() & (table[f"{m}_diff_n"] >= 2) & ~base).any() for m in metrics):
        legend.append("no test over two or more seeds: the same difference at every seed, so no spread to test "
                      "with (a tie, not a certainty; more seeds tell)")
    return table, legend

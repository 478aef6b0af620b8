"""Print the intervals results/pe_zoo/README.md quotes, from the records of the fair pe_zoo study.

Every setting ran seeds 0-4 (the same data order and crops per seed), so differences are paired by seed: the
per-seed difference, its mean, and the 95% t interval (df = seeds - 1). A setting's own value is its mean with
the 95% t interval of the mean. The intervals are per claim, not adjusted for the number of claims; the
statistics package under way (paired tests, Holm) is to replace this script and re-render them.

    python results/pe_zoo/findings.py > results/pe_zoo/report/findings.md
"""
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from ablate.results.report import load_records

RUNS = Path(__file__).resolve().parent / "runs"
ENCODINGS = {("learned", "none", "none"): "learned APE", ("none", "none", "none"): "no PE",
             ("none", "none", "product"): "iRPE-K", ("none", "bias_table", "none"): "bias table",
             ("none", "alibi", "none"): "ALiBi", ("none", "rope_axial", "none"): "RoPE-Axial",
             ("none", "rope_mixed", "none"): "RoPE-Mixed", ("none", "peg", "none"): "PEG"}
READERS = ("bias table", "RoPE-Axial", "RoPE-Mixed")  # tested with both position readings
TESTS = {"28 (trained)": "top1", "upsample 44": "top1@44", "upsample 56": "top1@56",
         "canvas 44": "top1@44/canvas", "canvas 56": "top1@56/canvas"}


def interval(values: np.ndarray, sign: str = "+") -> str:
    """mean [low, high]: the 95% t interval of the mean (of per-seed differences, for a paired contrast, signed)."""
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return "n < 2"
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    mean = values.mean()
    return f"{mean:{sign}.1f} [{mean - half:{sign}.1f}, {mean + half:{sign}.1f}]"


def table(frame) -> dict[tuple[str, str], dict[int, dict[str, float]]]:
    """(encoding, train.crop) -> seed -> metric -> value, over completed runs."""
    out: dict = {}
    for _, run in frame[frame["status"] == "completed"].iterrows():
        key = (ENCODINGS[(run["pe.absolute"], run["pe.name"], run["rpe.method"])], run["train.crop"])
        out.setdefault(key, {})[int(run["seed"])] = run.to_dict()
    return out


def values(runs: dict, seeds: list[int], metric: str) -> np.ndarray:
    """The metric of each seed, NaN where missing."""
    return np.array([runs.get(s, {}).get(metric, np.nan) for s in seeds], dtype=float)


def paired(a: dict, b: dict, metric_a: str, metric_b: str | None = None) -> str:
    """a's metric minus b's, per shared seed."""
    seeds = sorted(set(a) & set(b))
    return interval(values(a, seeds, metric_a) - values(b, seeds, metric_b or metric_a))


def main() -> None:
    """The settings' values, then the contrasts, as markdown."""
    runs = table(load_records(RUNS, "pe_zoo"))
    out = sys.stdout
    out.write("## Top-1 (%) per setting: mean [95% t interval], 5 seeds\n\n")
    out.write("| encoding | train.crop | positions | " + " | ".join(TESTS) + " |\n")
    out.write("|---|---|---|" + "---|" * len(TESTS) + "\n")
    for crop in ("none", "rrc"):
        for name in ENCODINGS.values():
            mine = runs.get((name, crop), {})
            seeds = sorted(mine)
            for positions in (("extrapolate", "interpolate") if name in READERS else ("-",)):
                suffix = "/interpolate" if positions == "interpolate" else ""
                cells = [interval(values(mine, seeds, metric + (suffix if "@" in metric else "")), sign="")
                         for metric in TESTS.values()]
                out.write(f"| {name} | {crop} | {positions} | " + " | ".join(cells) + " |\n")
    out.write("\n## Paired differences (percentage points): mean [95% paired t interval] over the shared seeds\n\n")
    out.write("| contrast | train.crop | " + " | ".join(TESTS) + " |\n|---|---|" + "---|" * len(TESTS) + "\n")
    for crop in ("none", "rrc"):
        for base in ("learned APE", "no PE"):
            for name in ENCODINGS.values():
                if name == base:
                    continue
                for positions in (("extrapolate", "interpolate") if name in READERS else ("-",)):
                    suffix = "/interpolate" if positions == "interpolate" else ""
                    cells = [paired(runs.get((name, crop), {}), runs.get((base, crop), {}),
                                    m + (suffix if "@" in m else ""), m) for m in TESTS.values()]
                    label = f"{name}{', interpolated' if suffix else ''} - {base}"
                    out.write(f"| {label} | {crop} | " + " | ".join(cells) + " |\n")
        for name in READERS:
            cells = [paired(runs.get((name, crop), {}), runs.get((name, crop), {}), m + "/interpolate", m)
                     if "@" in m else "-" for m in TESTS.values()]
            out.write(f"| {name}: interpolated - extrapolated | {crop} | " + " | ".join(cells) + " |\n")
    for name in ENCODINGS.values():
        for positions in (("extrapolate", "interpolate") if name in READERS else ("-",)):
            suffix = "/interpolate" if positions == "interpolate" else ""
            cells = [paired(runs.get((name, "rrc"), {}), runs.get((name, "none"), {}),
                            m + (suffix if "@" in m else "")) for m in TESTS.values()]
            out.write(f"| {name}{', interpolated' if suffix else ''}: rrc - none | | " + " | ".join(cells) + " |\n")


if __name__ == "__main__":
    main()

"""The contrasts results/pe_zoo/README.md states that `ablate report --baseline` cannot make (a setting's test
column against another column: positions read two ways, a test size against APE's), from the fair study's
records, through ablate.stats as the report computes its own: each a paired difference over the seeds both
sides have (the same seed gives the same initialisation, data order and crops), its 95% t interval, two-sided p,
and Holm's adjustment over all the contrasts listed here together.

    python results/pe_zoo/findings.py [RUNS_DIR] > results/pe_zoo/report/findings.md
"""
import sys
from pathlib import Path

import numpy as np

from ablate.results.report import load_records
from ablate.stats.compare import paired_difference
from ablate.stats.multiplicity import adjust

RUNS = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "runs"
SETTINGS = {("learned", "none", "none"): "APE", ("none", "none", "none"): "no PE", ("none", "none", "product"): "iRPE-K",
            ("none", "bias_table", "none"): "bias table", ("none", "alibi", "none"): "ALiBi",
            ("none", "rope_axial", "none"): "RoPE-Axial", ("none", "rope_mixed", "none"): "RoPE-Mixed",
            ("none", "peg", "none"): "PEG"}
# (label, (setting, train.crop, metric) minus (setting, train.crop, metric))
CONTRASTS = [
    *[(f"{name}, positions interpolated - APE, upsample 56 px, train.crop={crop}",
       (name, crop, "top1@56/interpolate"), ("APE", crop, "top1@56"))
      for name in ("RoPE-Axial", "RoPE-Mixed", "bias table") for crop in ("none", "rrc")],
    *[(f"{name}: interpolated - extrapolated, upsample 56 px, train.crop={crop}",
       (name, crop, "top1@56/interpolate"), (name, crop, "top1@56"))
      for name in ("RoPE-Axial", "RoPE-Mixed", "bias table") for crop in ("none", "rrc")],
    *[(f"{name}: interpolated - extrapolated, canvas 56 px, train.crop={crop}",
       (name, crop, "top1@56/canvas/interpolate"), (name, crop, "top1@56/canvas"))
      for name in ("RoPE-Axial", "RoPE-Mixed") for crop in ("none", "rrc")],
    *[(f"{name}: train.crop=rrc - none, upsample 56 px (extrapolated)", (name, "rrc", "top1@56"),
       (name, "none", "top1@56")) for name in ("RoPE-Axial", "RoPE-Mixed", "APE")],
    *[(f"APE: canvas - upsample, 56 px, train.crop={crop}", ("APE", crop, "top1@56/canvas"), ("APE", crop, "top1@56"))
      for crop in ("none", "rrc")],
]


def by_setting(frame) -> dict[tuple[str, str], dict[int, dict]]:
    """(setting, train.crop) -> seed -> the completed run's record row."""
    out: dict = {}
    for _, run in frame[frame["status"] == "completed"].iterrows():
        key = (SETTINGS[(run["pe.absolute"], run["pe.name"], run["rpe.method"])], run["train.crop"])
        out.setdefault(key, {})[int(run["seed"])] = run.to_dict()
    return out


def main() -> None:
    """Each contrast as a markdown row: difference [95% interval] (seeds), p, Holm-adjusted p."""
    runs = by_setting(load_records(RUNS, "pe_zoo"))
    rows = []
    for label, (a, crop_a, metric_a), (b, crop_b, metric_b) in CONTRASTS:
        left, right = runs.get((a, crop_a), {}), runs.get((b, crop_b), {})
        seeds = sorted(set(left) & set(right))
        d = paired_difference(np.array([[left[s][metric_a] for s in seeds]]),
                              np.array([[right[s][metric_b] for s in seeds]]))
        rows.append((label, d))
    adjusted = adjust(np.array([d.p if d.testable else np.nan for _, d in rows]), "holm")
    out = sys.stdout
    out.write("| contrast (top-1, percentage points) | difference [95% interval] | seeds | p | Holm-adjusted p |\n")
    out.write("|---|---|---|---|---|\n")
    for (label, d), adj in zip(rows, adjusted):
        low, high = d.interval() if d.testable else (np.nan, np.nan)
        out.write(f"| {label} | {d.diff:+.2f} [{low:+.2f}, {high:+.2f}] | {d.n} | {d.p:.2g} | {adj:.2g} |\n")
    out.write(f"\nPaired t over the seeds both sides have (t with seeds - 1 df); Holm over these {len(rows)} "
              "contrasts together.\n")


if __name__ == "__main__":
    main()

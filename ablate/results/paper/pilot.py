"""The scale pilot (issue 23): which CPU scale resolves the findings of Tables 1 and 4 for the least CPU time.

    python -m ablate.results.paper.pilot RESULTS_DIR PILOT_DIR     # prints the table, writes pilot.md, pilot.png

Each candidate scale trained the rows none and product_ctx (Table 4's #1 and #9) on several seeds
(results/paper/pilot.sh; runs in RESULTS_DIR/paper_<scale>/, CPU seconds of each sweep, its worker processes
included, in PILOT_DIR/cpu.log). Per scale: each row's sd over seeds and the sd of the per-seed difference
product_ctx - none, with 95% chi-square intervals; CPU minutes per run; and, planned as the reports plan
(ablate.stats.power), the seeds per row each finding of Tables 1 and 4 needs and the CPU hours that takes.

Planning, per claim: the one-sided 80% upper bound of the difference's sd; a side pooling k rows has the
per-seed contrast of row means, whose sd is the two-row difference's times sqrt((1/k_a + 1/k_b) / 2) if the
rows' per-seed deviations are independent with one spread; the level Holm leaves one claim of its table
(0.05 / claims); the paper's difference times the level factor (our no-RPE mean over the paper's, at most 1),
0 within the same factor's margin for an "=" claim. A finding needs the fewest seeds per row with which the
product of its claims' powers reaches 80% (one look; an O'Brien-Fleming-type design needs a few percent more
at its last). Rows cost what their training throughput on the shipped CPU-proxy runs says, relative to the
two pilot rows; a table's runs: each row at the most seeds any finding it is in needs, at least 3.
"""
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean, median

import numpy as np

from ablate.results.formats import write_output
from ablate.results.paper.layout import paper_effect
from ablate.results.paper.reference import load_reference
from ablate.results.paper.runs import load_scale, row_hashes
from ablate.results.report import load_records
from ablate.stats.claims import ALPHA
from ablate.stats.multiplicity import planning_level
from ablate.stats.power import MAX_SEEDS, POWER, claim_power, fewest, sd_upper
from ablate.stats.sample import sd_interval

TABLES = ("table4", "table1")
PAIR = ("none", "product_ctx")  # the pilot's rows: no RPE, and iRPE-K (contextual product on K)
FIRST_LOOK = 3  # seeds per row every row gets (the first look of --until-resolved)
BUDGET_HOURS = 12.0
_LOG = re.compile(r"^\S+ (?P<scale>\S+) runs=(?P<runs>\d+) user_s=(?P<user>[\d.]+) sys_s=(?P<sys>[\d.]+)")


@dataclass(frozen=True)
class Spread:
    """An sd over n seeds with its 95% chi-square interval."""

    sd: float
    n: int

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% interval of sigma."""
        return sd_interval(self.sd, self.n)

    def text(self) -> str:
        """sd [low, high]."""
        low, high = self.interval
        return f"{self.sd:.2f} [{low:.2f}, {high:.2f}]"


@dataclass(frozen=True)
class Candidate:
    """One pilot scale: its two rows' top-1 per seed, and its measured CPU cost."""

    scale: str
    setting: str
    top1: dict[str, dict[int, float]]  # row key -> seed -> top-1
    cpu_minutes: float | None  # per run, mean over its measured runs; None without a measurement
    measured_runs: int

    def seeds(self) -> list[int]:
        """The seeds both rows have."""
        return sorted(set(self.top1[PAIR[0]]) & set(self.top1[PAIR[1]]))

    def row_spread(self, key: str) -> Spread:
        """A row's sd over all its seeds."""
        values = list(self.top1[key].values())
        return Spread(float(np.std(values, ddof=1)), len(values))

    def difference(self) -> tuple[float, Spread]:
        """product_ctx - none per common seed: mean and spread."""
        d = [self.top1[PAIR[1]][s] - self.top1[PAIR[0]][s] for s in self.seeds()]
        return fmean(d), Spread(float(np.std(d, ddof=1)), len(d))


@dataclass(frozen=True)
class Plan:
    """A finding planned at a scale: seeds per row, its rows, CPU hours."""

    table: str
    number: int
    seeds: int | None  # None: more than MAX_SEEDS
    rows: tuple[str, ...]
    hours: float | None


def cpu_seconds(log: Path) -> dict[str, tuple[float, int]]:
    """Scale -> (CPU seconds, runs completed) summed over the sweeps in the pilot's log."""
    out: dict[str, tuple[float, int]] = {}
    for line in log.read_text().splitlines() if log.is_file() else []:
        m = _LOG.match(line)
        if m and int(m["runs"]) > 0:
            seconds, runs = out.get(m["scale"], (0.0, 0))
            out[m["scale"]] = (seconds + float(m["user"]) + float(m["sys"]), runs + int(m["runs"]))
    return out


def _setting(frame) -> str:
    limit = frame["data.train_limit"].dropna()
    images = f"{int(limit.iloc[0]) // 1000}k" if len(limit) else "60k"
    subset = ", seeded" if len(limit) and "data.subset" in frame and (frame["data.subset"] == "seed").any() else ""
    return f"{images}{subset} x {int(frame['train.epochs'].iloc[0])} ep, batch {int(frame['train.batch_size'].iloc[0])}"


def load_candidate(results: Path, scale: str, cpu: dict[str, tuple[float, int]]) -> Candidate:
    """A pilot scale's runs of the two rows (records in results/paper_<scale>/)."""
    frame = load_records(results, f"paper_{scale}")
    frame = frame[frame["status"] == "completed"]
    rows = {PAIR[0]: frame[frame["rpe.method"] == "none"],
            PAIR[1]: frame[(frame["rpe.method"] == "product") & (frame["rpe.mode"] == "contextual")
                           & (frame["rpe.rpe_on"] == "k")]}
    top1 = {k: {int(s): float(v) for s, v in zip(r["seed"], r["top1"])} for k, r in rows.items()}
    seconds, runs = cpu.get(scale, (0.0, 0))
    return Candidate(scale, _setting(frame), top1, seconds / runs / 60 if runs else None, runs)


def row_costs(results: Path) -> dict[str, float]:
    """Each Table 1 and 4 row's CPU per run relative to the mean of the pilot's two rows, from the training
    throughput of the shipped CPU-proxy runs (the same model and batch)."""
    frame = load_scale(results, "proxy")
    per_image = {}
    for table in TABLES:
        for key, group in row_hashes(table, "proxy").items():
            speeds = frame.loc[frame["group_hash"] == group, "throughput"].dropna()
            if len(speeds):
                per_image[key] = median(1 / speeds)
    unit = fmean(per_image[k] for k in PAIR)
    return {k: v / unit for k, v in per_image.items()}


def _claim_sd(sd: float, a: int, b: int) -> float:
    return sd * math.sqrt((1 / a + 1 / b) / 2)


def plan(candidate: Candidate, costs: dict[str, float]) -> list[Plan]:
    """Every finding of Tables 4 and 1 at this scale: the seeds per row it needs, and its CPU hours."""
    mean_none, (_, spread) = fmean(candidate.top1[PAIR[0]].values()), candidate.difference()
    upper = sd_upper(spread.sd, spread.n)
    out = []
    for table in TABLES:
        reference = load_reference(table)
        factor = min(1.0, mean_none / reference.row(reference.baseline).paper[reference.delta])
        margin = reference.margin * factor
        level = planning_level(ALPHA, "holm", sum(len(f.claims) for f in reference.findings))
        for finding in reference.findings:
            claims = [(c.expect, 0.0 if c.expect == "equal" else paper_effect(reference, c) * factor,
                       _claim_sd(upper, len(c.a), len(c.b))) for c in finding.claims]
            seeds = fewest(lambda m: float(np.prod([claim_power(e, theta, sd, m, level, margin)
                                                    for e, theta, sd in claims])))
            rows = tuple(dict.fromkeys(k for c in finding.claims for k in (*c.a, *c.b)))
            hours = (None if seeds is None or candidate.cpu_minutes is None
                     else seeds * sum(costs[k] for k in rows) * candidate.cpu_minutes / 60)
            out.append(Plan(table, finding.number, seeds, rows, hours))
    return out


def both_tables_hours(candidate: Candidate, plans: list[Plan], costs: dict[str, float]) -> float | None:
    """CPU hours for Tables 1 and 4 together: each row at the most seeds any of its findings needs (at least 3)."""
    if candidate.cpu_minutes is None or any(p.seeds is None for p in plans):
        return None
    seeds = {row.key: FIRST_LOOK for t in TABLES for row in load_reference(t).rows}
    for p in plans:
        for k in p.rows:
            seeds[k] = max(seeds[k], p.seeds)
    return sum(n * costs[k] for k, n in seeds.items()) * candidate.cpu_minutes / 60


def _seeds(p: Plan) -> str:
    return f"> {MAX_SEEDS:,}" if p.seeds is None else str(p.seeds)


def _hours(h: float | None) -> str:
    return "-" if h is None else f"{h:.1f}"


def to_markdown(candidates: list[Candidate], costs: dict[str, float]) -> str:
    """The pilot table: spreads with intervals, cost per run, seeds per finding, CPU hours for both tables."""
    plans = {c.scale: plan(c, costs) for c in candidates}
    findings = [f"T{p.table[-1]} #{p.number}" for p in plans[candidates[0].scale]]
    head = ["scale", "setting", "seeds", "top-1 none", "top-1 iRPE-K", "sd none [95%]", "sd iRPE-K [95%]",
            "sd of the per-seed difference [95%]", "CPU min a run",
            *(f"{f}: seeds (CPU h)" for f in findings), "Tables 1 + 4, CPU h"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in candidates:
        _, diff = c.difference()
        cells = [f"`{c.scale}`", c.setting, str(len(c.seeds())),
                 *(f"{fmean(c.top1[k].values()):.2f}" for k in PAIR),
                 *(c.row_spread(k).text() for k in PAIR), diff.text(),
                 "-" if c.cpu_minutes is None else f"{c.cpu_minutes:.1f} ({c.measured_runs} runs)",
                 *(f"{_seeds(p)} ({_hours(p.hours)})" for p in plans[c.scale]),
                 _hours(both_tables_hours(c, plans[c.scale], costs))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_png(candidates: list[Candidate], costs: dict[str, float]) -> bytes:
    """Two panels against CPU minutes a run: the per-seed difference's sd (95% interval), and the CPU hours
    Tables 1 and 4 need (planned with its 80% upper bound) beside the budget."""
    import io

    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [c for c in candidates if c.cpu_minutes is not None]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    for i, c in enumerate(shown):
        colour = f"C{i}"  # one colour per scale in both panels
        _, spread = c.difference()
        low, high = spread.interval
        left.errorbar(c.cpu_minutes, spread.sd, yerr=[[spread.sd - low], [high - spread.sd]], fmt="o", capsize=4,
                      color=colour)
        left.annotate(f" {c.scale} ({spread.n})", (c.cpu_minutes, spread.sd), fontsize=8)
        hours = both_tables_hours(c, plan(c, costs), costs)
        if hours is not None:
            right.plot(c.cpu_minutes, hours, "o", color=colour)
            right.annotate(f" {c.scale}", (c.cpu_minutes, hours), fontsize=8)
    right.axhline(BUDGET_HOURS, color="gray", linestyle="--", label=f"{BUDGET_HOURS:.0f} CPU hours")
    for ax in (left, right):
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())  # plain numbers, not powers of ten
        ax.yaxis.set_minor_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_xlabel("CPU minutes a run (one thread, shared 2-core machine)")
    left.set_ylabel("sd of top-1, iRPE-K - none per seed (points)")
    left.set_title("spread (95% chi-square interval; seeds)", fontsize=10)
    right.set_ylabel("CPU hours")
    right.set_title(f"Tables 1 + 4, every finding at {POWER:.0%} power\n(planned at the sd's 80% upper bound)",
                    fontsize=10)
    right.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def candidates_of(results: Path, pilot: Path) -> list[Candidate]:
    """The pilot's scales in the order of the log, each with at least two common seeds."""
    cpu = cpu_seconds(pilot / "cpu.log")
    found = [load_candidate(results, s, cpu) for s in cpu]
    return sorted((c for c in found if len(c.seeds()) >= 2),
                  key=lambda c: math.inf if c.cpu_minutes is None else c.cpu_minutes)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m ablate.results.paper.pilot RESULTS_DIR PILOT_DIR")
    results_dir, pilot_dir = Path(sys.argv[1]), Path(sys.argv[2])
    found, row_cost = candidates_of(results_dir, pilot_dir), row_costs(results_dir)
    table = to_markdown(found, row_cost)
    write_output(pilot_dir / "pilot.md", table)
    write_output(pilot_dir / "pilot.png", to_png(found, row_cost))
    print(table)

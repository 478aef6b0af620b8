"""A paper table laid out as the paper prints it, with our numbers beside the paper's.

Per row: the paper's label columns; per metric our mean with its 95% interval (n seeds) and the paper's
number; on the table's delta metric, our difference to the row's baseline with its 95% interval (paired
on the seeds both rows have) beside the paper's. The findings' claims are tested by ablate.stats on the
seeds all their rows have, so a row missing a seed does not borrow the other rows' seed effects; the
table's claims are one family, corrected together; a table gathered by --until-resolved is tested at
the looks it declared (design.py). Rows without runs stay blank.
"""
from dataclasses import dataclass
from statistics import fmean

import numpy as np

from ablate.results.paper.reference import Claim, Reference, Row, metric_styles
from ablate.stats.claims import ALPHA, NOT_RESOLVED, ClaimTest, claim_test, overall, verdicts
from ablate.stats.compare import Difference, contrast, paired_difference, welch_difference
from ablate.stats.multiplicity import planning_level
from ablate.stats.power import claim_power, fewest, resolvable, sd_upper
from ablate.stats.sample import Summary, summarize
from ablate.stats.sequential import Design

BLANK = ""
NA = "n/a"
# Why a claim has no test.
NO_SEEDS = "fewer than two seeds common to the rows"
BEFORE_LOOK = "before the first look"
NO_SPREAD = "the same difference at every common seed, no spread"


@dataclass(frozen=True)
class ClaimPower:
    """What a claim's seeds can resolve, planned with the upper bound of its spread, and the seeds it would take."""

    n: int  # seeds per row it was tested with
    sd: float  # of its per-seed contrasts
    sd_upper: float  # the one-sided 80% upper confidence bound planned with
    level: float  # the level the correction leaves one claim
    resolvable: float  # at n: the smallest difference (">") or margin ("=") resolved with 80%
    paper: float | None  # the paper's effect at our level (0 for "="); None where the paper prints no number
    n_paper: int | None  # seeds per row for which it holds with 80%; None beyond MAX_SEEDS or without an effect

    def holds(self, expect: str, margin: float, m: int) -> float:
        """The chance the claim holds with m seeds per row if the paper's effect is the truth."""
        return claim_power(expect, self.paper, self.sd_upper, m, self.level, margin)


@dataclass(frozen=True)
class ClaimResult:
    """One claim tested: what it compares, the test and its family-adjusted verdict, the unpaired view, power."""

    claim: Claim
    text: str
    common: int  # seeds all its rows have
    difference: Difference | None  # on every common seed (Welch where there is none); None without runs
    test: ClaimTest | None  # None: no test, for the reason in `untested`
    p_adjusted: float | None
    verdict: str
    unpaired: tuple[ClaimTest, float, str] | None  # Welch on the same seeds, adjusted p, verdict; paired tests only
    r: float | None  # the sides' correlation over seeds (paired only)
    power: ClaimPower | None  # None without a paired test
    untested: str = ""  # NO_SEEDS, BEFORE_LOOK or NO_SPREAD where there is no test

    @property
    def paired_and_unpaired_differ(self) -> bool:
        """Whether ignoring the pairing would give another verdict."""
        return self.unpaired is not None and self.unpaired[2] != self.verdict


@dataclass(frozen=True)
class FindingResult:
    """One finding: its claims' results, the overall verdict, and the seeds its open claims need."""

    number: int
    text: str
    claims: tuple[ClaimResult, ...]
    verdict: str
    needed: int | None  # seeds per row with which all open claims hold with 80%; None: more than MAX_SEEDS
    plan: str  # why there is no estimate, if there is none ("" otherwise)

    @property
    def resolved(self) -> bool:
        """Whether the verdict is settled (holds, reversed or mixed)."""
        return self.verdict != NOT_RESOLVED

    def open_claims(self) -> tuple[ClaimResult, ...]:
        """The claims not resolved yet."""
        return tuple(c for c in self.claims if c.verdict == NOT_RESOLVED)

    @property
    def seeds(self) -> int:
        """Seeds per row the finding was tested with (the most any claim had)."""
        return max((c.test.difference.n if c.test else 0) for c in self.claims)


@dataclass(frozen=True)
class Line:
    """One row with numbers: our summaries per metric and the difference to its baseline row."""

    row: Row
    ours: dict[str, Summary]  # in shown units
    delta: Difference | None
    paper_delta: str


@dataclass(frozen=True)
class Layout:
    """One table at one scale, ready to render."""

    reference: Reference
    scale: str
    setting: str  # ours, from the records; empty when no row has runs
    lines: tuple[Line, ...]
    findings: tuple[FindingResult, ...]
    margin: float  # the "equal" margin the findings were tested with, in points of the delta metric
    correction: str = "holm"
    looks: tuple[int, ...] | None = None  # the declared looks; None: one look at the seeds there are
    std: bool = False  # show each row's sd too

    @property
    def family(self) -> int:
        """The claims corrected together."""
        return sum(len(f.claims) for f in self.findings)

    def header(self) -> list[str]:
        """Column titles: labels, then ours/paper per metric, then the two deltas."""
        styles, delta = metric_styles(), metric_styles()[self.reference.delta].label
        cols = list(self.reference.columns)
        for m in self.reference.metrics:
            cols += [f"{styles[m].label} ours", f"{styles[m].label} paper"]
        return cols + [f"Δ{delta} ours", f"Δ{delta} paper"]

    def cells(self) -> list[list[str]]:
        """Every row as display strings, blank where there is nothing to show."""
        styles = metric_styles()
        out = []
        for line in self.lines:
            cells = [line.row.labels[c] for c in self.reference.columns]
            for m in self.reference.metrics:
                cells += [format_summary(line.ours[m], styles[m].digits, styles[m].spread, self.std),
                          format_paper(line.row, m)]
            cells += [format_delta(line), "-" if line.row.vs is None else line.paper_delta]
            out.append(cells)
        return out


def _signed(x: float, digits: int = 2) -> str:
    """A signed number; one that rounds to zero prints as +0.00, never -0.00."""
    return f"{round(x, digits) + 0.0:+.{digits}f}"


def format_summary(s: Summary, digits: int, spread: bool = True, std: bool = False) -> str:
    """mean [95% interval] (n), the sd after n where asked; one seed: mean (1); blank for none."""
    if s.n == 0:
        return BLANK
    if not spread:
        return f"{s.mean:.{digits}f}"
    if s.low is None:
        return f"{s.mean:.{digits}f} ({s.n})"
    sd = f", sd {s.sd:.{digits}f}" if std else ""
    return f"{s.mean:.{digits}f} [{s.low:.{digits}f}, {s.high:.{digits}f}] ({s.n}{sd})"


def format_paper(row: Row, metric: str) -> str:
    """The paper's number as printed (with its std where it printed one)."""
    if metric not in row.paper:
        return BLANK
    value = str(row.paper[metric])
    return f"{value} ± {row.paper_std[metric]}" if metric in row.paper_std else value


def format_delta(line: Line) -> str:
    """Our difference to the baseline row with its 95% interval and seeds (one seed: no interval)."""
    if line.row.vs is None:
        return "-"
    d = line.delta
    if d is None:
        return BLANK
    if not d.testable:
        return f"{_signed(d.diff)} ({d.n})"
    low, high = d.interval()
    return f"{_signed(d.diff)} [{_signed(low)}, {_signed(high)}] ({d.n})"


def _decimals(value: float | int) -> int:
    text = str(value)
    return len(text.split(".")[1]) if "." in text else 0


def paper_delta(reference: Reference, row: Row) -> str:
    """The paper's difference to the row's baseline, at the printed precision; blank if either is missing."""
    metric = reference.delta
    if row.vs is None:
        return "-"
    a, b = row.paper.get(metric), reference.row(row.vs).paper.get(metric)
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return BLANK
    return f"{a - b:+.{max(_decimals(a), _decimals(b))}f}"


def _common_seeds(shown: dict, keys: tuple[str, ...], metric: str) -> list[int]:
    """The seeds every one of the rows has, in order: comparing rows on other seeds would mix in seed effects."""
    return sorted(set.intersection(*(set(shown[k][metric]) for k in keys)))


def _matrix(shown: dict, keys: tuple[str, ...], metric: str, seeds: list[int]) -> np.ndarray:
    return np.array([[shown[k][metric][s] for s in seeds] for k in keys], dtype=float).reshape(len(keys), len(seeds))


def compare(shown: dict, a: tuple[str, ...], b: tuple[str, ...], metric: str) -> Difference | None:
    """Rows a against rows b: paired on the seeds they all have; Welch where they share none; None without runs."""
    seeds = _common_seeds(shown, (*a, *b), metric)
    if seeds:
        return paired_difference(_matrix(shown, a, metric, seeds), _matrix(shown, b, metric, seeds))
    rows = [np.array(list(shown[k][metric].values()), dtype=float) for k in (*a, *b)]
    if any(len(x) == 0 for x in rows):
        return None
    return welch_difference(rows[:len(a)], rows[len(a):])


def _claim_text(a: tuple[str, ...], b: tuple[str, ...], expect: str) -> str:
    def name(keys: tuple[str, ...]) -> str:
        return keys[0] if len(keys) == 1 else f"pooled({', '.join(keys)})"
    return f"{name(a)} {'>' if expect == 'greater' else '='} {name(b)}"


def level_factor(reference: Reference, shown: dict) -> float:
    """From the paper's level to ours: our baseline's mean over the paper's (at most 1), so the "equal" margin
    0.5 of DETR's 39.5 AP stays about 1% of a proxy's AP. 1 while the baseline has no runs."""
    ours = list(shown.get(reference.baseline, {}).get(reference.delta, {}).values())
    paper = reference.row(reference.baseline).paper.get(reference.delta)
    if not ours or not isinstance(paper, (int, float)) or paper <= 0:
        return 1.0
    return min(1.0, max(0.0, fmean(ours)) / paper)


def paper_effect(reference: Reference, claim: Claim) -> float | None:
    """The paper's difference of the claim's two sides (means of their rows); None where a number is missing."""
    sides = []
    for keys in (claim.a, claim.b):
        values = [reference.row(k).paper.get(reference.delta) for k in keys]
        if not all(isinstance(v, (int, float)) for v in values):
            return None
        sides.append(fmean(values))
    return sides[0] - sides[1]


@dataclass(frozen=True)
class _Tested:
    """A claim's tests before the family's correction."""

    common: int
    paired: ClaimTest | None
    unpaired: ClaimTest | None
    r: float | None
    power: ClaimPower | None
    untested: str = ""  # why there is no paired test, when there is none


def _test(shown: dict, claim: Claim, metric: str, margin: float, design: Design | None, level: float,
          effect: float | None) -> _Tested:
    """A claim on its rows' common seeds (at the design's looks), Welch on the same seeds, and its power."""
    seeds = _common_seeds(shown, (*claim.a, *claim.b), metric)
    if not seeds:
        d = compare(shown, claim.a, claim.b, metric)
        welch = claim_test([d], Design((d.n,)), claim.expect, margin) if d is not None and d.testable else None
        return _Tested(0, welch, None, None, None, NO_SEEDS if welch is None else "")
    a, b = _matrix(shown, claim.a, metric, seeds), _matrix(shown, claim.b, metric, seeds)
    design = design or Design((len(seeds),))
    last = design.look_of(len(seeds))
    if len(seeds) < 2:
        return _Tested(len(seeds), None, None, None, None, NO_SEEDS)
    if last is None:
        return _Tested(len(seeds), None, None, None, None, BEFORE_LOOK)
    reached = design.looks[:last + 1]
    pairs = [paired_difference(a[:, :n], b[:, :n]) for n in reached]
    if not pairs[-1].testable:  # nothing to test with, nor a spread to plan seeds from
        return _Tested(len(seeds), None, None, pairs[-1].r, None, NO_SPREAD)
    welch = [welch_difference(list(a[:, :n]), list(b[:, :n])) for n in reached]
    n = reached[-1]
    sd = float(np.std(contrast(a[:, :n], b[:, :n]), ddof=1))
    upper = sd_upper(sd, n)
    target = 0.0 if claim.expect == "equal" else effect
    power = ClaimPower(n, sd, upper, level, resolvable(claim.expect, upper, n, level), target,
                       None if target is None else fewest(lambda m: claim_power(claim.expect, target, upper, m,
                                                                                level, margin)))
    return _Tested(len(seeds), claim_test(pairs, design, claim.expect, margin),
                   claim_test(welch, design, claim.expect, margin), pairs[-1].r, power)


def _finding_plan(claims: tuple[ClaimResult, ...], margin: float) -> tuple[int | None, str]:
    """The seeds per row with which every open claim holds with 80% (the product of their powers)."""
    open_claims = [c for c in claims if c.verdict == NOT_RESOLVED]
    if any(c.power is None for c in open_claims):
        return None, ("needs two seeds per row common to its rows, not all with the same difference, before its "
                      "spread is known")
    if any(c.power.paper is None for c in open_claims):
        return None, "the paper prints no difference to plan for"
    needed = fewest(lambda m: float(np.prod([c.power.holds(c.claim.expect, margin, m) for c in open_claims])))
    return needed, ""


def build_layout(reference: Reference, scale: str, values: dict[str, dict[str, dict[int, float]]],
                 setting: str, looks: tuple[int, ...] | None = None, correction: str = "holm",
                 std: bool = False) -> Layout:
    """The layout of one table from each row's values per seed (in the record's units), its claims tested at
    the declared looks (None: one look) and corrected together."""
    styles = metric_styles()
    shown = {k: {m: {s: x * styles[m].factor for s, x in v[m].items()} for m in v} for k, v in values.items()}
    delta = reference.delta
    lines = tuple(Line(row, {m: summarize(list(shown[row.key][m].values())) for m in reference.metrics},
                       compare(shown, (row.key,), (row.vs,), delta) if row.vs else None,
                       paper_delta(reference, row))
                  for row in reference.rows)
    factor = level_factor(reference, shown)
    margin = reference.margin * factor
    claims = [c for f in reference.findings for c in f.claims]
    level = planning_level(ALPHA, correction, len(claims))
    design = Design(looks) if looks else None
    tested = [_test(shown, c, delta, margin, design, level,
                    None if paper_effect(reference, c) is None else paper_effect(reference, c) * factor)
              for c in claims]
    adjusted, decided = verdicts([t.paired for t in tested], correction)
    unpaired_adjusted, unpaired_decided = verdicts([t.unpaired for t in tested], correction)
    results = iter(ClaimResult(c, _claim_text(c.a, c.b, c.expect), t.common, compare(shown, c.a, c.b, delta),
                               t.paired, p, v,
                               None if t.unpaired is None else (t.unpaired, up, uv), t.r, t.power, t.untested)
                   for c, t, p, v, up, uv in zip(claims, tested, adjusted, decided, unpaired_adjusted,
                                                 unpaired_decided))
    findings = []
    for f in reference.findings:
        mine = tuple(next(results) for _ in f.claims)
        findings.append(FindingResult(f.number, f.text, mine, overall([c.verdict for c in mine]),
                                      *_finding_plan(mine, margin)))
    return Layout(reference, scale, setting, lines, tuple(findings), margin, correction, looks, std)


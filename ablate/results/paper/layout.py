"""A paper table laid out as the paper prints it, with our numbers beside the paper's.

Per row: the paper's label columns; per metric our mean +- std (n seeds) and the paper's number; on the
table's delta metric, our difference to the row's baseline (+- Welch standard error) beside the
paper's. Differences and findings compare rows on the seeds they all have, so a row that is missing
a seed does not borrow the other rows' seed effects. Rows without runs stay blank.
"""
from dataclasses import dataclass, replace
from statistics import fmean

from ablate.results.paper.power import Power, claim_power
from ablate.results.paper.reference import Claim, Reference, Row, metric_styles
from ablate.results.paper.stats import NOT_RESOLVED, Difference, Summary, overall, summarize, verdict, welch

BLANK = ""
NA = "n/a"


@dataclass(frozen=True)
class ClaimResult:
    """One claim tested: what it compares, the measured difference, its verdict and its power."""

    claim: Claim
    text: str
    difference: Difference | None
    verdict: str
    power: Power | None  # None below two common seeds


@dataclass(frozen=True)
class FindingResult:
    """One finding: its claims' results and the overall verdict."""

    number: int
    text: str
    claims: tuple[ClaimResult, ...]
    verdict: str

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
        return max((c.difference.n_a // len(c.claim.a) if c.difference else 0) for c in self.claims)


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
                cells += [format_summary(line.ours[m], styles[m].digits, styles[m].spread),
                          format_paper(line.row, m)]
            cells += [format_delta(line), "-" if line.row.vs is None else line.paper_delta]
            out.append(cells)
        return out


def format_summary(s: Summary, digits: int, spread: bool = True) -> str:
    """mean +- std (n); the std is n/a for one seed; blank for none."""
    if s.n == 0:
        return BLANK
    if not spread:
        return f"{s.mean:.{digits}f}"
    std = NA if s.std is None else f"{s.std:.{digits}f}"
    return f"{s.mean:.{digits}f} ± {std} ({s.n})"


def format_paper(row: Row, metric: str) -> str:
    """The paper's number as printed (with its std where it printed one)."""
    if metric not in row.paper:
        return BLANK
    value = str(row.paper[metric])
    return f"{value} ± {row.paper_std[metric]}" if metric in row.paper_std else value


def format_delta(line: Line) -> str:
    """Our difference to the baseline row, +- its standard error (n/a below two seeds a side)."""
    if line.row.vs is None:
        return "-"
    d = line.delta
    if d is None:
        return BLANK
    return f"{round(d.diff, 2) + 0.0:+.2f} ± {NA if d.se is None else f'{d.se:.2f}'}"


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


def _on_common_seeds(shown: dict, keys: tuple[str, ...], metric: str, seeds: set[int]) -> list[float]:
    return [shown[k][metric][s] for k in keys for s in sorted(seeds)]


def _common_seeds(shown: dict, keys: tuple[str, ...], metric: str) -> set[int]:
    """The seeds every one of the rows has: comparing rows on different seeds would mix in seed effects."""
    return set.intersection(*(set(shown[k][metric]) for k in keys))


def compare(shown: dict, a: tuple[str, ...], b: tuple[str, ...], metric: str) -> Difference | None:
    """Rows a against rows b (pooled) on the seeds they all have; no test below two such seeds."""
    seeds = _common_seeds(shown, (*a, *b), metric)
    d = welch(_on_common_seeds(shown, a, metric, seeds), _on_common_seeds(shown, b, metric, seeds))
    if d is not None and len(seeds) < 2:
        d = replace(d, se=None, low=None, high=None, low90=None, high90=None, p=None)
    return d


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


def check_claim(reference: Reference, shown: dict, claim: Claim, factor: float) -> ClaimResult:
    """One claim on the seeds its rows have in common: difference, verdict (margin scaled by factor), power."""
    delta, margin = reference.delta, reference.margin * factor
    d = compare(shown, claim.a, claim.b, delta)
    seeds = _common_seeds(shown, (*claim.a, *claim.b), delta)
    effect = paper_effect(reference, claim)
    power = claim_power(_on_common_seeds(shown, claim.a, delta, seeds), _on_common_seeds(shown, claim.b, delta, seeds),
                        len(claim.a), len(claim.b), len(seeds), claim.expect, margin,
                        None if effect is None else effect * factor)
    return ClaimResult(claim, _claim_text(claim.a, claim.b, claim.expect), d, verdict(d, claim.expect, margin), power)


def build_layout(reference: Reference, scale: str, values: dict[str, dict[str, dict[int, float]]],
                 setting: str) -> Layout:
    """The layout of one table from each row's values per seed (in the record's units)."""
    styles = metric_styles()
    shown = {k: {m: {s: x * styles[m].factor for s, x in v[m].items()} for m in v} for k, v in values.items()}
    delta = reference.delta
    lines = tuple(Line(row, {m: summarize(list(shown[row.key][m].values())) for m in reference.metrics},
                       compare(shown, (row.key,), (row.vs,), delta) if row.vs else None,
                       paper_delta(reference, row))
                  for row in reference.rows)
    factor, findings = level_factor(reference, shown), []
    for f in reference.findings:
        claims = tuple(check_claim(reference, shown, c, factor) for c in f.claims)
        findings.append(FindingResult(f.number, f.text, claims, overall([c.verdict for c in claims])))
    return Layout(reference, scale, setting, lines, tuple(findings), reference.margin * factor)

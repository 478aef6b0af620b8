"""Text exports of paper layouts: markdown, LaTeX (booktabs), CSV and JSON.

Markdown and LaTeX print what the paper prints (display strings) and how each verdict was reached; CSV
and JSON keep the numbers.
"""
import csv
import io
import json

from tabulate import tabulate

from ablate.results.paper.layout import BEFORE_LOOK, ClaimResult, FindingResult, Layout
from ablate.results.paper.reference import metric_styles
from ablate.stats.claims import ALPHA, ClaimTest
from ablate.stats.compare import Difference
from ablate.stats.multiplicity import CORRECTIONS
from ablate.stats.power import BOUND, MAX_SEEDS, POWER

SCALE_NAMES = {"proxy": "proxy scale", "gpu_proxy": "GPU proxy scale", "paper": "paper scale"}
ADJUSTED = {"holm": "Holm-adjusted p", "bh": "BH-adjusted p", "none": "uncorrected p"}


def _num(x: float, digits: int = 2) -> str:
    """A signed number; one that rounds to zero prints as +0.00, never -0.00."""
    return f"{round(x, digits) + 0.0:+.{digits}f}"


def _p(p: float) -> str:
    return f"{p:.2g}"


def _coverage(t: ClaimTest) -> str:
    """"95% CI" at a single look; the repeated interval's own coverage at a look of a sequential design."""
    if len(t.design.looks) == 1:
        return f"{t.coverage:.0%} CI"
    digits = next(d for d in range(1, 6) if round(100 * t.coverage, d) < 100)  # 95.3%, 99.99%, never 100%
    return f"{100 * t.coverage:.{digits}f}% repeated CI"


def _how(c: ClaimResult, t: ClaimTest) -> str:
    """The test and the seeds it used."""
    d = t.difference
    if not d.paired:
        return f"Welch: the rows share no seed, {d.n} or more each"
    looks = t.design.looks
    seeds = f"{d.n} seeds" if d.n == c.common else f"{d.n} of {c.common} common seeds"
    return f"paired t, {seeds}" + (f", look {t.look + 1} of {len(looks)}" if len(looks) > 1 else "")


def _which(t: ClaimTest) -> str:
    """The test whose p decides: no difference (">"), TOST or outside the margin ("=")."""
    if t.expect == "greater":
        return "p"
    return f"TOST within ±{t.margin:.2g}: p" if t.holds_if_rejected else f"outside ±{t.margin:.2g}: p"


def _tested(t: ClaimTest, p_adjusted: float, correction: str, verdict: str, how: str) -> str:
    p = f"{_which(t)} = {_p(t.p)}" + ("" if correction == "none" else f", {ADJUSTED[correction]} = {_p(p_adjusted)}")
    return (f"{_num(t.difference.diff)}, {_coverage(t)} [{_num(t.low)}, {_num(t.high)}] ({how}), {p} "
            f"→ {verdict}")


def describe(c: ClaimResult, correction: str) -> str:
    """A claim's difference, interval, test, raw and adjusted p, and verdict."""
    d: Difference | None = c.difference
    if d is None:
        return f"no runs on a seed common to the rows → {c.verdict}"
    if c.test is None:
        if c.untested == BEFORE_LOOK:  # a sequential design
            return f"{_num(d.diff)} on {c.common} common seeds, before the first look → {c.verdict}"
        return f"{_num(d.diff)} (n = {d.n}; {c.untested}: no test) → {c.verdict}"
    return _tested(c.test, c.p_adjusted, correction, c.verdict, _how(c, c.test))


def unpaired_note(c: ClaimResult, correction: str) -> str:
    """Why the verdict would differ without the pairing by seed (empty when it would not)."""
    if not c.paired_and_unpaired_differ:
        return ""
    test, p_adjusted, verdict = c.unpaired
    if c.r is not None and c.r > 0.1:
        why = (f"pairing by seed cancels the seed effect both sides share (their per-seed means correlate, "
               f"r = {c.r:+.2f}), so the paired interval is narrower")
    elif c.r is not None and c.r < -0.1:
        why = (f"the sides' per-seed means move in opposite directions (r = {c.r:+.2f}), so pairing adds their "
               "seed effects and widens the interval")
    else:
        why = ("the sides share little seed effect" + ("" if c.r is None else f" (r = {c.r:+.2f})")
               + ", and the paired test has fewer degrees of freedom (seeds - 1)")
    return "unpaired, ignoring the seeds: " + _tested(test, p_adjusted, correction, verdict, "Welch") + f": {why}"


def _about(n: int | None) -> str:
    return f"more than {MAX_SEEDS:,}" if n is None else f"about {n}"


def power_text(c: ClaimResult) -> str:
    """What the claim's seeds resolve and how many the paper's effect would take; empty without a spread."""
    p = c.power
    if p is None:
        return ""
    spread = f"sd of the per-seed differences {p.sd:.2f}, planned at its {BOUND:.0%} upper bound {p.sd_upper:.2f}"
    if c.claim.expect == "equal":
        now = f"with {p.n} seeds per row equality shows within ±{p.resolvable:.2f}"
        paper = f"the paper's equality needs {_about(p.n_paper)} seeds per row"
    else:
        now = f"with {p.n} seeds per row it holds for differences of {p.resolvable:.2f} or more"
        paper = ("the paper prints no difference" if p.paper is None
                 else f"the paper's {_num(p.paper)} needs {_about(p.n_paper)} seeds per row")
    return f"power ({POWER:.0%}, level {p.level:.2g}; {spread}): {now}; {paper}"


def finding_power(f: FindingResult) -> str:
    """Beside a finding's verdict: the seeds it was resolved with, or about how many it needs."""
    if f.resolved:
        return f"resolved with {f.seeds} seeds per row"
    if f.plan:
        return f.plan
    return f"needs {_about(f.needed)} seeds per row (every open claim holding, {POWER:.0%})"


def method_note(layout: Layout) -> str:
    """How the verdicts were reached: tests, margin, family and correction, design, power."""
    k, correction = layout.family, layout.correction
    family = (f"The table's {k} claims are one family, {CORRECTIONS[correction]}: a claim resolves when its "
              f"adjusted p is at most {ALPHA:g}." if correction != "none"
              else f"The table's {k} claims are not corrected for each other: each resolves at p ≤ {ALPHA:g}.")
    if layout.looks and len(layout.looks) > 1:
        design = (f" The seeds came by --until-resolved in looks declared in advance at "
                  f"{', '.join(map(str, layout.looks))} seeds per row: p-values are sequential (Lan-DeMets "
                  "O'Brien-Fleming-type alpha spending), intervals repeated confidence intervals.")
    else:
        design = " One look at the seeds there are (not gathered sequentially)."
    return (f"Tests: paired t on the seeds common to a claim's rows (per seed, the mean of each side's rows); "
            f"\">\" resolves when the test of no difference rejects (holds, or reversed); \"=\" holds by TOST, "
            f"the 90% interval within ±{layout.margin:.2g} points (the table's margin times our baseline over "
            f"the paper's, at most 1), and is reversed only when the difference lies outside it. {family}{design}"
            f" Power: the chance a claim holds with the paper's difference at our level (0 for \"=\"), exact "
            f"for the paired t, at the level the correction leaves one claim, with the sd at its "
            f"{BOUND:.0%} upper confidence bound; a finding needs every open claim, the product of their powers.")


def finding_lines(layout: Layout) -> list[str]:
    """One line per finding with its verdict and power, then per claim its test, power and any footnote."""
    lines = []
    for f in layout.findings:
        lines.append(f"- Finding {f.number} ({f.text}): **{f.verdict}**: {finding_power(f)}")
        for c in f.claims:
            lines.append(f"  - {c.text}: {describe(c, layout.correction)}")
            lines += [f"    - {text}" for text in (unpaired_note(c, layout.correction), power_text(c)) if text]
    if layout.findings:
        lines.append(f"  ({method_note(layout)})")
    return lines


def title(layout: Layout) -> str:
    """The table's title with the scale."""
    return f"{layout.reference.title} ({SCALE_NAMES[layout.scale]})"


def notes(layout: Layout) -> list[str]:
    """The paper's setting, ours, and how to read the numbers."""
    ours = layout.setting or "no runs yet"
    sd = ", and the sd of the seeds" if layout.std else ""
    return [f"Paper: {layout.reference.setting}", f"Ours: {ours}",
            f"Read: ours = mean [95% interval of the mean, t with n - 1 df] (n seeds{sd}); Δ = difference to the "
            "baseline row [95% interval: paired t on the seeds both rows have, Welch if they share none] (seeds)."]


def to_markdown(layouts: list[Layout]) -> str:
    """Every layout as a markdown section: title, notes, table, findings."""
    parts = []
    for layout in layouts:
        table = tabulate(layout.cells(), headers=layout.header(), tablefmt="pipe", disable_numparse=True)
        parts.append("\n".join([f"## {title(layout)}", "", *[f"{n}  " for n in notes(layout)], "", table, "",
                                *finding_lines(layout)]))
    return "\n\n".join(parts) + "\n"


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
          "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
          "±": r"$\pm$", "Δ": r"$\Delta$", "→": r"$\rightarrow$", ">": r"$>$", "<": r"$<$", "≤": r"$\leq$"}


def latex_escape(text: str) -> str:
    """Text safe inside a LaTeX table cell."""
    return "".join(_LATEX.get(ch, ch) for ch in text)


def to_latex(layouts: list[Layout]) -> str:
    """Every layout as a booktabs table (needs \\usepackage{booktabs}), findings as a list after it."""
    parts = []
    for layout in layouts:
        header = layout.header()
        lines = [r"\begin{table}[t]", r"\centering", r"\small",
                 rf"\caption{{{latex_escape(title(layout))}. {latex_escape(' '.join(notes(layout)))}}}",
                 rf"\begin{{tabular}}{{{'l' * len(layout.reference.columns)}{'r' * (len(header) - len(layout.reference.columns))}}}",
                 r"\toprule", " & ".join(latex_escape(h) for h in header) + r" \\", r"\midrule"]
        lines += [" & ".join(latex_escape(c) for c in row) + r" \\" for row in layout.cells()]
        lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
        if layout.findings:
            lines += [r"\begin{itemize}"]
            for f in layout.findings:
                verdict = rf"\textbf{{{latex_escape(f.verdict)}}}: {latex_escape(finding_power(f))}"
                lines.append(rf"\item Finding {f.number} ({latex_escape(f.text)}): {verdict}")
                for c in f.claims:
                    lines.append(rf"\\ {latex_escape(c.text)}: {latex_escape(describe(c, layout.correction))}")
                    lines += [rf"\\ \quad {latex_escape(text)}"
                              for text in (unpaired_note(c, layout.correction), power_text(c)) if text]
            lines += [r"\end{itemize}", latex_escape(method_note(layout))]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def records(layouts: list[Layout]) -> list[dict]:
    """One flat dict of numbers per row and scale (the CSV/JSON rows)."""
    out = []
    for layout in layouts:
        for line in layout.lines:
            rec = {"table": layout.reference.name, "scale": layout.scale, "row": line.row.key,
                   "run": line.row.runs.get(layout.scale, ""), **line.row.labels}
            for m in layout.reference.metrics:
                s = line.ours[m]
                rec.update({f"{m}_mean": s.mean, f"{m}_sd": s.sd, f"{m}_low": s.low, f"{m}_high": s.high,
                            f"{m}_n": s.n, f"{m}_paper": line.row.paper.get(m)})
            d = line.delta
            low, high = d.interval() if d is not None and d.testable else (None, None)
            rec.update({"vs": line.row.vs, "delta": d.diff if d else None, "delta_low": low, "delta_high": high,
                        "delta_n": d.n if d else None, "delta_paired": d.paired if d else None,
                        "delta_paper": None if line.paper_delta in ("", "-") else float(line.paper_delta)})
            out.append(rec)
    return out


def to_csv(layouts: list[Layout]) -> str:
    """The numbers of every row; one CSV block per table (their columns differ)."""
    blocks = []
    for layout in layouts:
        rows = records([layout])
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        blocks.append(buffer.getvalue())
    return "\n".join(blocks)


def claim_record(c: ClaimResult) -> dict:
    """A claim's numbers: estimate, test, interval, raw and adjusted p, verdict, unpaired view, power."""
    t, rec = c.test, {"claim": c.text, "expect": c.claim.expect, "verdict": c.verdict, "common_seeds": c.common}
    if c.difference is not None:
        rec["diff"] = c.difference.diff
    if t is not None:
        rec.update({"test": "paired t" if t.difference.paired else "Welch", "n": t.difference.n,
                    "df": t.difference.df, "tested_diff": t.difference.diff, "se": t.difference.se,
                    "look": t.look + 1, "looks": list(t.design.looks), "low": t.low, "high": t.high,
                    "coverage": t.coverage, "p": t.p, "p_adjusted": c.p_adjusted, "r": c.r,
                    "p_of": "no difference" if t.expect == "greater" else
                    "equivalence (TOST)" if t.holds_if_rejected else "outside the margin"})
    if c.unpaired is not None:
        test, p_adjusted, verdict = c.unpaired
        rec["unpaired"] = {"diff": test.difference.diff, "low": test.low, "high": test.high, "p": test.p,
                           "p_adjusted": p_adjusted, "verdict": verdict}
    p = c.power
    rec["power"] = None if p is None else {
        "seeds_per_row": p.n, "sd": p.sd, "sd_upper": p.sd_upper, "level": p.level, "resolvable": p.resolvable,
        "paper_effect": p.paper, "seeds_for_paper": p.n_paper}
    return rec


def to_json(layouts: list[Layout]) -> str:
    """Numbers and findings of every table, as one JSON document."""
    doc = []
    for layout in layouts:
        findings = [{"finding": f.number, "text": f.text, "verdict": f.verdict, "power": finding_power(f),
                     "seeds_needed": f.needed, "claims": [claim_record(c) for c in f.claims]}
                    for f in layout.findings]
        doc.append({"table": layout.reference.name, "title": layout.reference.title, "scale": layout.scale,
                    "setting": layout.setting, "metric_labels": {m: metric_styles()[m].label
                                                                 for m in layout.reference.metrics},
                    "rows": records([layout]), "findings": findings, "equal_margin": layout.margin,
                    "correction": layout.correction, "alpha": ALPHA,
                    "looks": list(layout.looks) if layout.looks else None})
    return json.dumps(doc, indent=1) + "\n"

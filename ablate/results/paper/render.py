"""Text exports of paper layouts: markdown, LaTeX (booktabs), CSV and JSON.

Markdown and LaTeX print what the paper prints (display strings); CSV and JSON keep the numbers.
"""
import csv
import io
import json

from tabulate import tabulate

from ablate.results.paper.layout import ClaimResult, FindingResult, Layout, NA
from ablate.results.paper.power import MAX_SEEDS, POWER
from ablate.results.paper.reference import metric_styles
from ablate.results.paper.stats import Difference

SCALE_NAMES = {"proxy": "proxy scale", "gpu_proxy": "GPU proxy scale", "paper": "paper scale"}


def _num(x: float | None, digits: int = 2) -> str:
    """A signed number; one that rounds to zero prints as +0.00, never -0.00."""
    return NA if x is None else f"{round(x, digits) + 0.0:+.{digits}f}"


def describe(d: Difference | None) -> str:
    """A difference with its 95% interval, Welch's p and the seeds per side."""
    if d is None:
        return "no runs on a seed common to the rows"
    if d.low is None:
        return f"{_num(d.diff)} (n = {d.n_a} vs {d.n_b}; fewer than two seeds common to the rows: no test)"
    return (f"{_num(d.diff)}, 95% CI [{_num(d.low)}, {_num(d.high)}], Welch p = {d.p:.3g}, "
            f"n = {d.n_a} vs {d.n_b}")


def margin_note(margin: float) -> str:
    """How the findings' verdicts were decided, with the "equal" margin the table was tested with, and
    how their power was planned."""
    return (f"\">\" holds when the 95% interval is above 0; \"=\" holds when the 90% interval lies within "
            f"±{margin:.2g} points (the table's margin times our baseline over the paper's, at most 1). "
            f"Power: the chance of a resolved verdict, {POWER:.0%}, from each side's spread over its seeds "
            "(Welch); the paper's difference is taken at our level (times the same factor), an \"=\" claim's as 0.")


def _about(n: int | None) -> str:
    return f"more than {MAX_SEEDS:,}" if n is None else f"about {n}"


def power_text(c: ClaimResult) -> str:
    """What the claim's seeds resolve and how many it would take; empty below two common seeds."""
    p = c.power
    if p is None:
        return ""
    if c.claim.expect == "equal":
        now = f"with {p.n} seeds per row equality shows within ±{p.resolvable:.2f} ({POWER:.0%} power)"
        paper = f"the paper's equality needs {_about(p.n_paper)} seeds per row"
    else:
        now = f"with {p.n} seeds per row it resolves differences of ±{p.resolvable:.2f} ({POWER:.0%} power)"
        paper = ("the paper prints no difference" if p.paper is None
                 else f"the paper's {_num(p.paper)} needs {_about(p.n_paper)} seeds per row")
    return f"power: {now}; {paper}, the observed {_num(p.observed)} {_about(p.n_observed)}"


def finding_power(f: FindingResult) -> str:
    """Beside a finding's verdict: the seeds it was resolved with, or about how many it needs."""
    if f.resolved:
        return f"resolved with {f.seeds} seeds per row"
    powers = [c.power for c in f.open_claims()]
    if any(p is None for p in powers):
        return "needs two seeds per row common to its rows before its spread is known"
    needs = [p.to_reproduce for p in powers]
    return f"needs {_about(None if None in needs else max(needs))} seeds per row"


def finding_lines(findings: tuple[FindingResult, ...], margin: float) -> list[str]:
    """One line per finding with its verdict and power, then one indented line per claim with its own."""
    lines = []
    for f in findings:
        lines.append(f"- Finding {f.number} ({f.text}): **{f.verdict}**: {finding_power(f)}")
        for c in f.claims:
            lines.append(f"  - {c.text}: {describe(c.difference)} → {c.verdict}")
            lines += [f"    - {power_text(c)}"] if c.power else []
    if findings:
        lines.append(f"  ({margin_note(margin)})")
    return lines


def title(layout: Layout) -> str:
    """The table's title with the scale."""
    return f"{layout.reference.title} ({SCALE_NAMES[layout.scale]})"


def notes(layout: Layout) -> list[str]:
    """The paper's setting, ours, and how to read the numbers."""
    ours = layout.setting or "no runs yet"
    return [f"Paper: {layout.reference.setting}", f"Ours: {ours}",
            "Read: ours = mean ± std (n seeds); Δ = difference to the baseline row ± Welch standard error."]


def to_markdown(layouts: list[Layout]) -> str:
    """Every layout as a markdown section: title, notes, table, findings."""
    parts = []
    for layout in layouts:
        table = tabulate(layout.cells(), headers=layout.header(), tablefmt="pipe", disable_numparse=True)
        parts.append("\n".join([f"## {title(layout)}", "", *[f"{n}  " for n in notes(layout)], "", table, "",
                                *finding_lines(layout.findings, layout.margin)]))
    return "\n\n".join(parts) + "\n"


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
          "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
          "±": r"$\pm$", "Δ": r"$\Delta$", "→": r"$\rightarrow$", ">": r"$>$", "<": r"$<$"}


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
                    lines.append(rf"\\ {latex_escape(c.text)}: {latex_escape(describe(c.difference))} "
                                 rf"{latex_escape('→')} {latex_escape(c.verdict)}")
                    lines += [rf"\\ \quad {latex_escape(power_text(c))}"] if c.power else []
            lines += [r"\end{itemize}", latex_escape(margin_note(layout.margin))]
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
                rec.update({f"{m}_mean": s.mean, f"{m}_std": s.std, f"{m}_n": s.n, f"{m}_paper": line.row.paper.get(m)})
            d = line.delta
            rec.update({"vs": line.row.vs, "delta": d.diff if d else None, "delta_se": d.se if d else None,
                        "delta_low": d.low if d else None, "delta_high": d.high if d else None,
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


def to_json(layouts: list[Layout]) -> str:
    """Numbers and findings of every table, as one JSON document."""
    doc = []
    for layout in layouts:
        findings = [{"finding": f.number, "text": f.text, "verdict": f.verdict, "power": finding_power(f),
                     "claims": [{"claim": c.text, "verdict": c.verdict,
                                 **({k: getattr(c.difference, k) for k in ("diff", "se", "low", "high", "p", "n_a",
                                                                             "n_b")} if c.difference else {}),
                                 "power": None if c.power is None else {
                                     "seeds_per_row": c.power.n, "resolvable": c.power.resolvable,
                                     "paper_effect": c.power.paper, "seeds_for_paper": c.power.n_paper,
                                     "observed": c.power.observed, "seeds_for_observed": c.power.n_observed}}
                                for c in f.claims]} for f in layout.findings]
        doc.append({"table": layout.reference.name, "title": layout.reference.title, "scale": layout.scale,
                    "setting": layout.setting, "metric_labels": {m: metric_styles()[m].label
                                                                 for m in layout.reference.metrics},
                    "rows": records([layout]), "findings": findings, "equal_margin": layout.margin})
    return json.dumps(doc, indent=1) + "\n"

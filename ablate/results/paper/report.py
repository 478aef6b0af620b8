"""`ablate report --experiment paper/<table>` (or `paper` for every table): the paper's layouts.

Shows each scale that has runs (the proxy scale, blank, when none has), each tested at the looks its
runs were declared with (design.py); writes to stdout or a file.
"""
import sys
from pathlib import Path

from ablate.results.formats import FORMATS, write_output
from ablate.results.paper.design import read_looks
from ablate.results.paper.layout import Layout, build_layout
from ablate.results.paper.reference import SCALES, TABLES, load_reference
from ablate.results.paper.runs import RECORD_NAMES, load_scale, row_values, setting_of
from ablate.stats.multiplicity import check_correction


def tables_of(experiment: str) -> list[str]:
    """The tables an experiment name asks for (ValueError for an unknown one)."""
    if experiment == "paper":
        return list(TABLES)
    table = experiment.removeprefix("paper/")
    if table not in TABLES:
        raise ValueError(f"unknown paper table --experiment {experiment}: expected paper or one of "
                         + ", ".join(f"paper/{t}" for t in TABLES))
    return [table]


def layouts(results: Path, tables: list[str], correction: str = "holm", std: bool = False) -> list[Layout]:
    """Each table at each scale that has runs of it (at proxy scale when no scale has), its claims corrected
    together with `correction` and tested at the looks its runs were declared with."""
    frames = {scale: load_scale(results, scale) for scale in SCALES}
    out = []
    for table in tables:
        reference = load_reference(table)
        per_scale = []
        for scale in SCALES:
            values = row_values(reference, scale, frames[scale])
            if any(v for row in values.values() for v in row.values()):
                per_scale.append(build_layout(reference, scale, values, setting_of(frames[scale], reference, scale),
                                              read_looks(results, RECORD_NAMES[scale], table), correction, std))
        out += per_scale or [build_layout(reference, "proxy", row_values(reference, "proxy", frames["proxy"].iloc[:0]),
                                          "", None, correction, std)]
    return out


def paper_report(experiment: str, fmt: str, results: Path, output: Path | None = None, correction: str = "holm",
                 std: bool = False, baseline: list[str] | None = None) -> None:
    """Render the paper layouts of an experiment in a format, to output or stdout (ValueError on bad input)."""
    spec = FORMATS[fmt]
    tables = tables_of(experiment)
    check_correction(correction)
    if baseline:
        raise ValueError(f"--baseline {baseline[0]}: a paper table compares each row with its own baseline row "
                         "already (its Δ column); --baseline is for a study's table")
    if spec.paper is None:
        raise ValueError(f"--format {fmt} is for a study's table, not the paper's layouts: "
                         f"use one of {', '.join(name for name, f in FORMATS.items() if f.paper)}")
    if spec.binary and output is None:
        raise ValueError(f"--format {fmt} writes a file, not text: give --output FILE{spec.suffix}")
    content = spec.renderer("paper")(layouts(results, tables, correction, std))
    if output is None:
        sys.stdout.write(content)
    else:
        write_output(output, content)

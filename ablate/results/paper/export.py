"""Render every paper table in every format into a folder, in one process:

    python -m ablate.results.paper.export RESULTS_DIR OUT_DIR

writes <table>.md, .tex, .csv, .json, .png per table, all.md, and index.html (every table and figure).
"""
import sys
from pathlib import Path

from ablate.results.paper.figure import to_png
from ablate.results.paper.html import to_html
from ablate.results.paper.reference import TABLES
from ablate.results.paper.render import to_csv, to_json, to_latex, to_markdown
from ablate.results.paper.report import layouts, write_file

HEADING = "Wu et al. (ICCV 2021), reproduced with ablate"


def export_all(results: Path, out: Path) -> list[Path]:
    """Write every export of every table into out; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    everything = []
    for table in TABLES:
        found = layouts(results, [table])
        everything += found
        for suffix, render in (("md", to_markdown), ("tex", to_latex), ("csv", to_csv), ("json", to_json)):
            written.append(out / f"{table}.{suffix}")
            write_file(written[-1], render(found))
        written.append(out / f"{table}.png")
        write_file(written[-1], to_png(found[0]))
    for name, content in (("all.md", to_markdown(everything)), ("index.html", to_html(everything, HEADING))):
        written.append(out / name)
        write_file(written[-1], content)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m ablate.results.paper.export RESULTS_DIR OUT_DIR")
    for path in export_all(Path(sys.argv[1]), Path(sys.argv[2])):
        print(path)

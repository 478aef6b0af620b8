"""Render every paper table in every format into a folder, in one process:

    python -m ablate.results.paper.export RESULTS_DIR OUT_DIR

writes <table>.md, .tex, .csv, .json, .png per table, all.md, and index.html (every table and figure).
"""
import sys
from pathlib import Path

from ablate.results.formats import FORMATS, write_output
from ablate.results.paper.html import to_html
from ablate.results.paper.reference import TABLES
from ablate.results.paper.render import to_markdown
from ablate.results.paper.report import layouts

# One file per table in each format that has one (the terminal table is markdown; html holds every table).
PER_TABLE = [name for name, spec in FORMATS.items() if spec.paper and name not in ("table", "html")]


def export_all(results: Path, out: Path) -> list[Path]:
    """Write every export of every table into out; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    everything = []
    for table in TABLES:
        found = layouts(results, [table])
        everything += found
        for name in PER_TABLE:
            written.append(out / f"{table}{FORMATS[name].suffix}")
            write_output(written[-1], FORMATS[name].renderer("paper")(found[:1] if FORMATS[name].binary else found))
    for name, content in (("all.md", to_markdown(everything)), ("index.html", to_html(everything))):
        written.append(out / name)
        write_output(written[-1], content)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m ablate.results.paper.export RESULTS_DIR OUT_DIR")
    for path in export_all(Path(sys.argv[1]), Path(sys.argv[2])):
        print(path)

"""Report formats: the one list of them, with each format's renderers.

A format renders a study's table (`study`: (ablate.results.report.Summary) -> text or bytes) and the
paper's layouts (`paper`: (layouts) -> text or bytes). Renderers are named as "module:function" and imported when used,
so the CLI's help and validation read this list without loading pandas or matplotlib. A new format is
its renderer functions plus one `FORMATS.register` line here.
"""
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from ablate.registry import Registry
from ablate.writable import unwritable


@dataclass(frozen=True)
class ReportFormat:
    """One output format of `ablate report`."""

    suffix: str  # file extension of its exports
    binary: bool  # bytes (images) rather than text
    study: str | None  # "module:function" rendering a study's summary, None if the format has none
    paper: str | None  # "module:function" rendering the paper's layouts
    description: str

    def renderer(self, kind: str) -> Callable:
        """The study or paper renderer (ValueError if this format has none for that kind)."""
        target = getattr(self, kind)
        if target is None:
            raise ValueError(f"no {kind} renderer")
        module, function = target.split(":")
        return getattr(import_module(module), function)


FORMATS: Registry[ReportFormat] = Registry("report format")
FORMATS.register("table", ReportFormat(".md", False, "ablate.results.report:to_markdown",
                                       "ablate.results.paper.render:to_markdown",
                                       "a table on the terminal (markdown into --output)"))
FORMATS.register("md", ReportFormat(".md", False, "ablate.results.report:to_markdown",
                                    "ablate.results.paper.render:to_markdown", "markdown"))
FORMATS.register("csv", ReportFormat(".csv", False, "ablate.results.report:to_csv",
                                     "ablate.results.paper.render:to_csv", "CSV with the numbers"))
FORMATS.register("latex", ReportFormat(".tex", False, "ablate.results.report:to_latex",
                                       "ablate.results.paper.render:to_latex", "LaTeX (booktabs)"))
FORMATS.register("json", ReportFormat(".json", False, "ablate.results.report:to_json",
                                      "ablate.results.paper.render:to_json", "JSON with the numbers"))
FORMATS.register("parquet", ReportFormat(".parquet", True, "ablate.results.report:to_parquet", None,
                                         "Parquet with the numbers (needs --output)"))
FORMATS.register("html", ReportFormat(".html", False, "ablate.results.study_html:to_html",
                                      "ablate.results.paper.html:to_html",
                                      "one self-contained page: table, figures, each setting's config and runs"))
FORMATS.register("png", ReportFormat(".png", True, "ablate.results.study_figure:to_png",
                                     "ablate.results.paper.figure:to_png_one",
                                     "a figure: metrics over seeds and training curves (needs --output)"))


def check_output(path: Path) -> None:
    """ValueError (one line) unless path can be written as a file: not a folder, in a folder that is or can be made."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"--output {path} is a folder: give a file name in it, e.g. {path / 'table.md'}")
    problem = unwritable(path.parent)
    if problem is not None:
        raise ValueError(f"--output {path}: its folder {path.parent.absolute()} {problem}")


def write_output(path: Path, content: str | bytes) -> None:
    """Write a report file whole or not at all (temporary file beside it, then rename), making its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(content.encode() if isinstance(content, str) else content)
    os.replace(tmp, path)

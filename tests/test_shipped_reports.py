"""The shipped records still load and report exactly as the shipped reports say: every paper table and the pe_zoo
studies (the fair one, and the first in results/pe_zoo/v1), rendered now from their runs, equal the committed text
files (bash results/*/render.sh regenerates them after a change that is meant to alter them)."""
from pathlib import Path

import pytest

from ablate.results.commands import report
from ablate.results.paper.reference import TABLES

RESULTS = Path(__file__).resolve().parents[1] / "results"
TEXT = ("md", "csv", "json")


@pytest.mark.parametrize("fmt", [*TEXT, "latex"])
def test_paper_tables_render_as_shipped(fmt, tmp_path):
    suffix = "tex" if fmt == "latex" else fmt
    for table in TABLES:
        out = tmp_path / f"{table}.{suffix}"
        report(RESULTS / "paper" / "runs", f"paper/{table}", fmt=fmt, output=out)
        assert out.read_text() == (RESULTS / "paper" / "report" / f"{table}.{suffix}").read_text(), table


@pytest.mark.parametrize("study", [RESULTS / "pe_zoo", RESULTS / "pe_zoo" / "v1"])
@pytest.mark.parametrize("fmt", TEXT)
def test_pe_zoo_renders_as_shipped(fmt, study, tmp_path):
    out = tmp_path / f"pe_zoo.{fmt}"
    baseline = ["pe.absolute=learned", "pe.name=none", "rpe.method=none"]  # as results/pe_zoo/render.sh
    report(study / "runs", "pe_zoo", fmt=fmt, output=out, baseline=baseline)
    assert out.read_text() == (study / "report" / f"pe_zoo.{fmt}").read_text()

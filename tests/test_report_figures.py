"""Pictures for every study: --format png (metrics over seeds, training curves) and html (table, figure, configs)."""
import base64
import io
import re

import matplotlib.image
from test_records import make_record, with_changes

from ablate.results.report import load_records, summarize
from ablate.results.rundir import RunDir, run_dirs
from ablate.results.study_figure import curves, epochs


def _study(results) -> None:
    """Two settings, two seeds each, with three epochs of metrics per run."""
    for mode, base in (("bias", 60.0), ("contextual", 70.0)):
        for seed in (0, 1):
            make_record(results, with_changes(rpe__mode=mode, seed=seed), base + seed)
    for run in run_dirs(results):
        record = run.record()
        final = record["metrics"]["top1"]
        for epoch in range(3):
            run.append_metrics({"epoch": epoch, "top1": final - 10 * (2 - epoch), "loss": 1.0 / (epoch + 1),
                                "train_loss": 1.2 / (epoch + 1)})


def test_curves_average_each_epoch_over_the_seeds(tmp_path):
    _study(tmp_path)
    summary = summarize(load_records(tmp_path), metrics=("top1",))
    contextual = summary.table.index[summary.table["rpe.mode"] == "contextual"][0]
    c = curves(epochs(summary), contextual, "top1")
    assert list(c.index) == [1, 2, 3] and list(c["mean"]) == [50.5, 60.5, 70.5] and list(c["n"]) == [2, 2, 2]


def test_png_of_any_study(cli, tmp_path):
    _study(tmp_path / "r")
    out = tmp_path / "study.png"
    result = cli("report", "--format", "png", "--output", str(out), results=tmp_path / "r")
    assert result.exit_code == 0, result.output
    image = matplotlib.image.imread(out)
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 600
    refused = cli("report", "--format", "png", results=tmp_path / "r")
    assert refused.exit_code == 2 and refused.stderr == "error: --format png writes a file, not text: give --output FILE.png\n"


def test_html_page_of_any_study(cli, tmp_path):
    _study(tmp_path / "r")
    out = tmp_path / "study.html"
    result = cli("report", "--format", "html", "--output", str(out), results=tmp_path / "r")
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<title>ablate: exp</title>" in page
    assert "<th class=\"l\">rpe.mode</th>" in page and "70.50 [64.15, 76.85]" in page and "60.50 [54.15, 66.85]" in page
    [png] = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert matplotlib.image.imread(io.BytesIO(base64.b64decode(png))).ndim == 3
    for run in run_dirs(tmp_path / "r"):
        assert run.name in page
    # Each setting's config once, as YAML without the seed; its runs listed under it.
    assert page.count("<details>") == 2 and page.count("mode: contextual") == 1 and "seed: " not in page
    assert "runtime.threads" not in page
    assert "http" not in page.replace("http-equiv", "")  # self-contained


def test_html_names_a_run_time_option_only_on_the_runs_that_differ(cli, tmp_path):
    for seed, threads in ((0, 2), (1, 2), (2, 8)):
        make_record(tmp_path / "r", with_changes(seed=seed, runtime__threads=threads), 70.0 + seed)
    out = tmp_path / "study.html"
    assert cli("report", "--format", "html", "--output", str(out), results=tmp_path / "r").exit_code == 0
    lines = re.findall(r"\w{12}  seed \d[^\n<]*", out.read_text())  # the runs' lines, in seed order
    assert [line.endswith("runtime.threads=8") for line in lines] == [False, False, True]
    assert [line.endswith("runtime.threads=2") for line in lines] == [True, True, False]


def test_figure_copes_with_a_setting_without_values_or_curves(cli, tmp_path):
    make_record(tmp_path / "r", with_changes(seed=0), 80.0)
    make_record(tmp_path / "r", with_changes(seed=0, rpe__mode="bias"), 0.0, status="diverged")
    result = cli("report", "--format", "png", "--output", str(tmp_path / "f.png"), results=tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "f.png").stat().st_size > 0 and not any(
        (run / RunDir.METRICS).exists() for run in run_dirs(tmp_path / "r"))


def test_parquet_keeps_the_numbers(cli, tmp_path):
    """A format added as one renderer and one registry line: the table as Parquet, for pandas."""
    import pandas as pd

    from test_records import make_record, with_changes

    for seed, top1 in enumerate((80.0, 82.0)):
        make_record(tmp_path / "r", with_changes(seed=seed), top1)
    out = tmp_path / "table.parquet"
    assert cli("report", "--format", "parquet", results=tmp_path / "r").exit_code == 2  # no --output
    result = cli("report", "--format", "parquet", "--output", str(out), results=tmp_path / "r")
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out)
    assert table["top1_mean"].tolist() == [81.0] and table["n"].tolist() == [2]
    paper = cli("report", "--experiment", "paper/table1", "--format", "parquet", "--output", str(out))
    assert paper.exit_code == 2 and "study's table" in paper.stderr


def test_the_figure_has_a_title_and_every_panel_its_title_and_axis_labels(tmp_path, monkeypatch):
    import ablate.results.study_figure as figure

    _study(tmp_path)
    summary = summarize(load_records(tmp_path), metrics=("top1",))
    summary.headline = "top1"
    drawn = []
    monkeypatch.setattr(figure.plt, "close", drawn.append)  # keep the figure to_png draws
    figure.to_png(summary)
    [fig] = drawn
    assert fig._suptitle.get_text() == "exp: 2 settings, 4 runs"
    titles = {ax.get_title(): (ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes}
    assert titles == {"top1 of each setting": ("top1 (mean, 95% interval over seeds; dots: seeds)", "rpe.mode"),
                      "top1 per epoch": ("epoch", "top1 (mean ± one sd over seeds)"),
                      "validation loss per epoch": ("epoch", "validation loss (mean ± one sd over seeds)")}

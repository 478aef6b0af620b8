"""A study as one self-contained HTML page: the table and its notes, the figure (PNG inlined as base64), and
every run's status, metrics and resolved config, for people who would rather look than read."""
import base64
from html import escape

import yaml

from ablate.results.report import Summary, readable
from ablate.results.rundir import RunDir
from ablate.results.study_figure import setting_labels, to_png

_STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}th,td{padding:3px 8px;text-align:right}
th{border-bottom:1px solid #444}thead tr{border-top:2px solid #444}tbody tr:last-child{border-bottom:2px solid #444}
td.l,th.l{text-align:left}.notes{color:#555;font-size:13px}img{max-width:100%}
details{font-size:13px;margin:.2em 0}pre{background:#f6f6f6;padding:.5em;font-size:12px}"""


def _table(summary: Summary) -> str:
    text = readable(summary)
    labels = set(summary.factors)
    head = "".join(f'<th class="{"l" if c in labels else ""}">{escape(str(c))}</th>' for c in text.columns)
    body = "".join("<tr>" + "".join(f'<td class="{"l" if c in labels else ""}">{escape(str(v))}</td>'
                                    for c, v in zip(text.columns, row)) + "</tr>"
                   for row in text.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _config(path: str) -> str:
    """The run's resolved config as YAML, from its record (config.yaml when the record cannot be read)."""
    run = RunDir(path)
    try:
        record = run.record()
    except ValueError:
        record = None
    if record is not None and isinstance(record.get("config"), dict):
        return yaml.safe_dump(record["config"], sort_keys=False)
    try:
        return (run / RunDir.CONFIG).read_text()
    except OSError:
        return "(no config)"


def _runs(summary: Summary) -> str:
    labels = setting_labels(summary)
    items = []
    for run in summary.runs.sort_values(["setting", "seed"]).to_dict("records"):
        values = "  ".join(f"{m} {run[m]:.2f}" for m in summary.metrics
                           if isinstance(run.get(m), (int, float)) and run[m] == run[m])  # NaN != NaN
        head = f"{run['run_id']} · {labels[run['setting']]} · seed {run['seed']} · {run['status']}  {values}"
        items.append(f"<details><summary>{escape(head)}</summary><pre>{escape(_config(run['path']))}</pre></details>")
    return "".join(items)


def to_html(summary: Summary) -> str:
    """The page, with no external resources."""
    experiments = ", ".join(sorted({str(e) for e in summary.runs["experiment"]}))
    heading = f"ablate: {experiments}"
    notes = "<br>".join(escape(n) for n in (*summary.legend, *summary.notes))
    png = base64.b64encode(to_png(summary)).decode()
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(heading)}</title>'
            f"<style>{_STYLE}</style></head><body><h1>{escape(heading)}</h1>"
            f"<p class=\"notes\">Each row averages the runs of one setting (configs equal but for the seed).</p>"
            f"{_table(summary)}<p class=\"notes\">{notes}</p>"
            f'<img alt="metrics and training curves" src="data:image/png;base64,{png}">'
            f"<h2>Runs</h2>{_runs(summary)}</body></html>\n")

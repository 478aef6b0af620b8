"""A study as one self-contained HTML page: the table and its notes, the figure (PNG inlined as base64), and
each setting's resolved config with its runs' status and metrics, for people who would rather look than read."""
import base64
from html import escape

import pandas as pd
import yaml

from ablate.results.report import NOT_FACTORS, Summary, readable
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


def _config(path: str) -> dict | str:
    """The run's resolved config, from its record (config.yaml's text when the record cannot be read)."""
    run = RunDir(path)
    try:
        record = run.record()
    except ValueError:
        record = None
    if record is not None and isinstance(record.get("config"), dict):
        return record["config"]
    try:
        return (run / RunDir.CONFIG).read_text()
    except OSError:
        return "(no config)"


def _own_values(runs: pd.DataFrame) -> list[str]:
    """Per run, the config values it does not share with every run of its setting, the seed aside: run-time options
    and paths, which are no part of a setting (key=value, space-separated; empty for most runs)."""
    keys = [c for c in runs.columns if ("." in c or c == "task") and c not in NOT_FACTORS]
    differ = runs.groupby("setting")[keys].nunique(dropna=False) > 1
    own = {setting: [k for k in keys if row[k]] for setting, row in differ.iterrows()}
    shown = sorted({k for ks in own.values() for k in ks})
    return [" ".join(f"{k}={run[k]}" for k in own[run["setting"]]) for run in runs[["setting", *shown]].to_dict("records")]


def _settings(summary: Summary) -> str:
    """Per setting, its config as YAML (its first run's, the seed left out) and its runs: status, metrics, and any
    run-time option of its own. One config per setting, not per run: the runs of a setting differ only in the seed
    and in such options, and 10,000 YAML dumps would take a minute and 12 MB."""
    labels = setting_labels(summary)
    runs = summary.runs.sort_values(["setting", "seed"])
    runs = runs[["setting", "path", "run_id", "seed", "status", *summary.metrics]].assign(own=_own_values(runs))
    items = []
    for setting, group in runs.groupby("setting", sort=True):
        config = _config(group["path"].iloc[0])
        if isinstance(config, dict):
            config = yaml.safe_dump({k: v for k, v in config.items() if k != "seed"}, sort_keys=False)
        lines = []
        for run in group.to_dict("records"):
            values = "  ".join(f"{m} {run[m]:.2f}" for m in summary.metrics
                               if isinstance(run.get(m), (int, float)) and run[m] == run[m])  # NaN != NaN
            lines.append(f"{run['run_id']}  seed {run['seed']}  {run['status']}  {values}  {run['own']}".rstrip())
        head = f"{labels[setting]} · {len(group)} run{'s' if len(group) > 1 else ''}"
        items.append(f"<details><summary>{escape(head)}</summary><pre>{escape(config)}</pre>"
                     f"<pre>{escape(chr(10).join(lines))}</pre></details>")
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
            f"<h2>Settings and their runs</h2>{_settings(summary)}</body></html>\n")

"""One self-contained HTML page: every table, its findings and its figure (PNG inlined as base64)."""
import base64
from html import escape

from ablate.results.paper.figure import to_png
from ablate.results.paper.layout import Layout
from ablate.results.paper.render import describe, finding_power, method_note, notes, power_text, title, unpaired_note

_STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}th,td{padding:3px 8px;text-align:right}
th{border-bottom:1px solid #444}thead tr{border-top:2px solid #444}tbody tr:last-child{border-bottom:2px solid #444}
td.l,th.l{text-align:left}.notes{color:#555;font-size:13px}li{font-size:13px}img{max-width:100%}"""


def _table(layout: Layout) -> str:
    labels = len(layout.reference.columns)
    head = "".join(f'<th class="{"l" if i < labels else ""}">{escape(h)}</th>'
                   for i, h in enumerate(layout.header()))
    body = "".join("<tr>" + "".join(f'<td class="{"l" if i < labels else ""}">{escape(c)}</td>'
                                    for i, c in enumerate(row)) + "</tr>" for row in layout.cells())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _findings(layout: Layout) -> str:
    items = []
    for f in layout.findings:
        claims = "".join(f"<li>{escape(c.text)}: {escape(describe(c, layout.correction))}"
                         + "".join(f'<br><span class="notes">{escape(text)}</span>'
                                   for text in (unpaired_note(c, layout.correction), power_text(c)) if text)
                         + "</li>" for c in f.claims)
        items.append(f"<li>Finding {f.number} ({escape(f.text)}): <b>{escape(f.verdict)}</b>: "
                     f"{escape(finding_power(f))}<ul>{claims}</ul></li>")
    note = f'<p class="notes">{escape(method_note(layout))}</p>'
    return f"<ul>{''.join(items)}</ul>{note}" if items else ""


HEADING = "Wu et al. (ICCV 2021), reproduced with ablate"


def to_html(layouts: list[Layout], heading: str = HEADING) -> str:
    """The page, with no external resources."""
    sections = []
    for layout in layouts:
        png = base64.b64encode(to_png(layout)).decode()
        lines = "<br>".join(escape(n) for n in notes(layout))
        sections.append(f'<section id="{layout.reference.name}-{layout.scale}"><h2>{escape(title(layout))}</h2>'
                        f'<p class="notes">{lines}</p>{_table(layout)}{_findings(layout)}'
                        f'<img alt="deltas of {escape(layout.reference.name)}" src="data:image/png;base64,{png}">'
                        "</section>")
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(heading)}</title>'
            f"<style>{_STYLE}</style></head><body><h1>{escape(heading)}</h1>{''.join(sections)}</body></html>\n")

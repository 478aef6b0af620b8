"""A PNG per table: our difference to the baseline row (95% interval, paired on the common seeds) beside the paper's
(a diamond)."""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the Agg backend)

from ablate.results.paper.layout import Layout  # noqa: E402
from ablate.results.paper.reference import metric_styles  # noqa: E402
from ablate.results.paper.render import title  # noqa: E402


def _label(layout: Layout, key: str) -> str:
    row = layout.reference.row(key)
    (_, head), *rest = row.labels.items()
    text = ", ".join([head] + [f"{c}: {v}" for c, v in rest if v and v != "-"])
    return f"{text} (vs {row.vs})" if row.vs != layout.reference.baseline else text


def to_png(layout: Layout) -> bytes:
    """Horizontal bars: our delta per non-baseline row with its 95% interval; the paper's delta as a diamond."""
    lines = [line for line in layout.lines if line.row.vs is not None]
    fig, ax = plt.subplots(figsize=(8.5, 1.2 + 0.42 * len(lines)), dpi=110)
    ys = list(range(len(lines)))[::-1]
    labelled = set()  # each legend entry once

    def label(name: str) -> str | None:
        first = name not in labelled
        labelled.add(name)
        return name if first else None

    for y, line in zip(ys, lines):
        d = line.delta
        if d is not None:
            low, high = d.interval() if d.testable else (d.diff, d.diff)
            ax.barh(y, d.diff, height=0.55, color="#4c72b0", xerr=[[d.diff - low], [high - d.diff]] if d.testable
                    else None, capsize=3, ecolor="#222222", label=label("ours (95% CI, paired over common seeds)"))
            if not d.testable:
                ax.text(d.diff, y, "  one seed", va="center", fontsize=7)
        if line.paper_delta not in ("", "-"):
            ax.plot(float(line.paper_delta), y, "D", color="#dd8452", label=label("paper"))
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(ys, [_label(layout, line.row.key) for line in lines], fontsize=8)
    metric = metric_styles()[layout.reference.delta].label
    ax.set_xlabel(f"Δ {metric} vs {layout.reference.baseline} (points)")
    ax.set_title(title(layout), fontsize=10)
    if not any(line.delta for line in lines):
        ax.text(0.5, 0.5, "no runs yet", transform=ax.transAxes, ha="center", color="gray")
    if labelled:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def to_png_one(layouts: list[Layout]) -> bytes:
    """The figure of a single table (a PNG holds one)."""
    if len(layouts) != 1:
        raise ValueError("--format png draws one table: use --experiment paper/<table> (html has every figure)")
    return to_png(layouts[0])

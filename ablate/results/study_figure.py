"""A study's figure: each setting's metrics (mean and 95% interval over seeds, the seeds as dots), with
--baseline each setting's difference to its baseline row (95% interval, paired by seed), and its training
curves (headline metric and loss per epoch, from each run's metrics.jsonl: mean over seeds with a band of
± one sd); when runs were also tested at other resolutions (eval.resolutions), the headline against the
test resolution: one panel per mode (ablate.protocol: upsample, canvas, crop), one line per setting and
positions reading (solid: extrapolate, dashed: interpolate), each with its band (± one sd)."""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the Agg backend)
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ablate.protocol import MODES, POSITIONS, parse  # noqa: E402
from ablate.results.report import Summary, at_resolutions, readable  # noqa: E402
from ablate.results.records import COMPLETED  # noqa: E402
from ablate.results.rundir import RunDir  # noqa: E402
from ablate.stats.claims import ALPHA  # noqa: E402

MAX_METRIC_PANELS = 3
CURVE_NAMES = {"loss": "validation loss", "train_loss": "training loss"}  # what metrics.jsonl's losses are
MODE_TITLES = {"upsample": "upsample: the image resized, the object grows with the grid",
               "canvas": "canvas: the trained-size image on a background field, the grid grows around it",
               "crop": "crop: a larger centre crop of the stored image"}
LINE_STYLES = {"extrapolate": "-", "interpolate": "--"}


def setting_labels(summary: Summary) -> list[str]:
    """One short label per row: its factor values, e.g. 'product, contextual' (or 'all runs')."""
    text = readable(summary)[summary.factors].astype(str)
    return [", ".join(row) for row in text.itertuples(index=False)] if summary.factors else ["all runs"]


def epochs(summary: Summary) -> pd.DataFrame:
    """Every epoch line of every run shown (each run's metrics.jsonl read once): its setting, the epoch (1-based)
    and the metrics the line holds."""
    rows = [{**line, "setting": setting, "epoch": line["epoch"] + 1}
            for setting, path in zip(summary.runs["setting"], summary.runs["path"]) for line in RunDir(path).metrics()]
    return pd.DataFrame(rows)


def curves(lines: pd.DataFrame, setting: int, metric: str) -> pd.DataFrame:
    """Per epoch: mean and std of metric over the setting's runs (epoch lines from `epochs`), and how many reached it."""
    if metric not in lines.columns:
        return pd.DataFrame(columns=["mean", "std", "n"])
    mine = lines.loc[lines["setting"] == setting, ["epoch", metric]]
    values = pd.to_numeric(mine[metric], errors="coerce")
    values = values[values.notna()]
    if values.empty:
        return pd.DataFrame(columns=["mean", "std", "n"])
    return values.groupby(mine.loc[values.index, "epoch"]).agg(["mean", "std", "count"]).rename(columns={"count": "n"})


def curve_metrics(summary: Summary, lines: pd.DataFrame) -> tuple[str, str]:
    """The two curves drawn: the headline metric, and the validation loss (the training loss without one)."""
    loss = "loss" if "loss" in lines.columns and lines["loss"].notna().any() else "train_loss"
    return summary.headline or summary.metrics[0], loss


def _points(ax, summary: Summary, metric: str, labels: list[str]) -> None:
    """Seeds as dots, the mean with its 95% interval as whiskers, one line per setting."""
    table = summary.table
    ys = list(range(len(table)))[::-1]
    completed = summary.runs[summary.runs["status"] == COMPLETED]
    for y, setting in zip(ys, range(len(table))):
        seeds = pd.to_numeric(completed.loc[completed["setting"] == setting, metric], errors="coerce").dropna()
        ax.plot(seeds, [y] * len(seeds), "o", color="#999999", markersize=3, zorder=2)
        mean, low, high = (table.loc[setting, f"{metric}_{c}"] for c in ("mean", "low", "high"))
        if pd.notna(mean):
            ax.errorbar(mean, y, xerr=None if pd.isna(low) else [[mean - low], [high - mean]], fmt="s",
                        color="#4c72b0", capsize=3, zorder=3)
        else:
            ax.text(0.02, y, "no value", va="center", fontsize=7, color="gray", transform=ax.get_yaxis_transform())
    ax.set_yticks(ys, labels, fontsize=8)
    if any(labels):  # the first panel names the settings for the row
        ax.set_ylabel(", ".join(summary.factors) or "setting", fontsize=8)
    ax.set_title(f"{metric} of each setting", fontsize=9)
    ax.set_xlabel(f"{metric} (mean, 95% interval over seeds; dots: seeds)", fontsize=8)
    ax.grid(axis="x", alpha=0.3)


def _differences(ax, summary: Summary, metric: str, labels: list[str]) -> None:
    """Each row's difference to its baseline row with its paired 95% interval; filled where the adjusted p <= 0.05."""
    table = summary.table
    ys = list(range(len(table)))[::-1]
    for y, i in zip(ys, table.index):
        d, low, high = (table.loc[i, f"{metric}_{c}"] for c in ("diff", "diff_low", "diff_high"))
        if table.loc[i, "baseline"]:
            ax.text(0.0, y, "baseline", va="center", ha="center", fontsize=7, color="gray")
        elif pd.notna(d):
            found = table.loc[i, f"{metric}_p_adjusted"] <= ALPHA
            ax.errorbar(d, y, xerr=None if pd.isna(low) else [[d - low], [high - d]], fmt="o", capsize=3,
                        color="#c44e52", markerfacecolor="#c44e52" if found else "white", zorder=3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_title(f"{metric}: each setting against the baseline", fontsize=9)
    ax.set_xlabel(f"Δ{metric} vs baseline (95% interval, paired by seed; filled: adjusted p ≤ {ALPHA:g})",
                  fontsize=8)
    ax.grid(axis="x", alpha=0.3)


def _curves(ax, lines: pd.DataFrame, metric: str, labels: list[str]) -> bool:
    """Each setting's curve with its band; whether any was drawn."""
    drawn = False
    for setting, label in enumerate(labels):
        c = curves(lines, setting, metric)
        if c.empty:
            continue
        line, = ax.plot(c.index, c["mean"], marker=".", label=label)
        spread = c["std"].fillna(0)
        ax.fill_between(c.index, c["mean"] - spread, c["mean"] + spread, color=line.get_color(), alpha=0.2)
        drawn = True
    ax.set_xlabel("epoch", fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    name = CURVE_NAMES.get(metric, metric)
    ax.set_title(f"{name} per epoch", fontsize=9)
    ax.set_ylabel(f"{name} (mean ± one sd over seeds)", fontsize=8)
    ax.grid(alpha=0.3)
    if not drawn:
        ax.text(0.5, 0.5, "no metrics.jsonl", transform=ax.transAxes, ha="center", color="gray")
    return drawn


def _training_side(summary: Summary) -> int | None:
    """The (longer) side the runs trained at, if they share one."""
    sizes = {str(v) for v in summary.runs.get("data.img_size", pd.Series(dtype=object)).dropna()}
    if len(sizes) != 1:
        return None
    sides = [int(x) for x in sizes.pop().strip("[]").split(",")]
    return max(sides)


def resolution_modes(summary: Summary) -> list[str]:
    """The modes the headline metric was tested in at other sizes, in ablate.protocol's order."""
    headline = summary.headline or summary.metrics[0]
    found = {parse(c).protocol.mode for c in at_resolutions(summary.metrics, headline)}
    return [m for m in MODES if m in found]


def _resolutions(ax, summary: Summary, labels: list[str], mode: str) -> None:
    """One mode's panel: per setting and positions reading, the headline at the training resolution and at each
    test size of that mode, mean with a band of ± one sd over seeds."""
    headline = summary.headline or summary.metrics[0]
    columns = [c for c in at_resolutions(summary.metrics, headline) if parse(c).protocol.mode == mode]
    train = _training_side(summary)
    table = summary.table
    colours = plt.get_cmap("tab20" if len(labels) > 10 else "tab10")
    ticks = {train} if train else set()
    for setting, label in enumerate(labels):
        named = False  # the setting's first line carries its label
        for positions in POSITIONS:
            mine = [c for c in columns if parse(c).protocol.positions == positions
                    and pd.notna(table.loc[setting, f"{c}_mean"])]
            if not mine:
                continue
            points = ([(train, headline)] if train else []) + [(max(parse(c).size), c) for c in mine]
            xs = [x for x, _ in points]
            means = [table.loc[setting, f"{c}_mean"] for _, c in points]
            spread = [0 if pd.isna(table.loc[setting, f"{c}_std"]) else table.loc[setting, f"{c}_std"]
                      for _, c in points]
            colour = colours(setting % colours.N)
            ax.plot(xs, means, LINE_STYLES[positions], marker="o", markersize=3, color=colour,
                    label=None if named else label)
            named = True
            ax.fill_between(xs, [m - s for m, s in zip(means, spread)], [m + s for m, s in zip(means, spread)],
                            color=colour, alpha=0.1)
            ticks.update(xs)
    ax.set_xticks(sorted(ticks))
    ax.set_title(f"{headline} at each test resolution, {MODE_TITLES[mode]}", fontsize=9)
    ax.set_xlabel("test resolution (px; the first is the training one)" if train else "test resolution (px)",
                  fontsize=8)
    ax.set_ylabel(f"{headline} (mean ± one sd over seeds)", fontsize=8)
    ax.grid(alpha=0.3)


def _legend(ax, summary: Summary) -> None:
    """The settings' colours, and the line styles of the positions readings when some were interpolated."""
    handles, names = ax.get_legend_handles_labels()
    headline = summary.headline or summary.metrics[0]
    if any(parse(c).protocol.positions != POSITIONS[0] for c in at_resolutions(summary.metrics, headline)):
        for positions, style in LINE_STYLES.items():
            handles.append(plt.Line2D([], [], linestyle=style, color="black"))
            names.append(f"positions: {positions}")
    ax.legend(handles, names, fontsize=7, title=", ".join(summary.factors), title_fontsize=7,
              loc="upper left", bbox_to_anchor=(1.01, 1.0))


def to_png(summary: Summary) -> bytes:
    """The figure: one panel per metric (up to three), with --baseline their differences below them, above
    the two training-curve panels, and the resolution panels below them (one per mode) when there are test
    resolutions."""
    headline = summary.headline or summary.metrics[0]
    tested = at_resolutions(summary.metrics, headline)
    modes = resolution_modes(summary)
    metrics = [m for m in summary.metrics if m not in tested][:MAX_METRIC_PANELS]
    compared = metrics if summary.compared else []
    labels = setting_labels(summary)
    height = 1.0 + 0.3 * len(labels)
    rows = [height] + ([height] if compared else []) + [3.2] + [max(4.0, 0.2 * len(labels) + 1.5)] * len(modes)
    fig = plt.figure(figsize=(13 if modes else 10, sum(rows) + 0.4), dpi=100)
    grid = fig.add_gridspec(len(rows), 2 * len(metrics), height_ratios=rows)
    for i, metric in enumerate(metrics):
        _points(fig.add_subplot(grid[0, 2 * i:2 * i + 2]), summary, metric, labels if i == 0 else [""] * len(labels))
    for i, metric in enumerate(compared):
        _differences(fig.add_subplot(grid[1, 2 * i:2 * i + 2]), summary, metric,
                     labels if i == 0 else [""] * len(labels))
    lines = epochs(summary)
    row = 2 if compared else 1
    for i, metric in enumerate(curve_metrics(summary, lines)):
        ax = fig.add_subplot(grid[row, i * len(metrics):(i + 1) * len(metrics)])
        if _curves(ax, lines, metric, labels) and i == 0 and len(labels) > 1:
            ax.legend(fontsize=7, title=", ".join(summary.factors), title_fontsize=7)
    for i, mode in enumerate(modes):
        ax = fig.add_subplot(grid[row + 1 + i, :])
        _resolutions(ax, summary, labels, mode)
        _legend(ax, summary)
    experiments = ", ".join(sorted({str(e) for e in summary.runs["experiment"]}))
    fig.suptitle(f"{experiments}: {len(summary.table)} setting{'s' if len(summary.table) > 1 else ''}, "
                 f"{len(summary.runs)} runs", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / fig.get_figheight()))  # room for the title above the panels
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()

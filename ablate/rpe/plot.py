"""Pictures of the buckets: which lookup-table entry each key reads, as terminal text or as a PNG.

A Q/K/V site of a config reads bucket bkt(i, j) of the offset pos(query i) - pos(key j) (Q reads the reversed
offset: the same map, transposed). Cross has two tables, rows and columns; every other method has one.
"""
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ablate.rpe.buckets import allocated_buckets, bucket_map
from ablate.rpe.config import RPEConfig

FIGURE_INCHES = (11.0, 4.8)  # per table row: the query panel and the full map side by side
DPI = 100


def site_tables(config: RPEConfig) -> tuple[str, ...]:
    """The site-level bucket methods of a config: two for cross, one otherwise."""
    return ("cross_rows", "cross_cols") if config.method == "cross" else (config.method,)


def query_buckets(config: RPEConfig, table: str, height: int, width: int, query: tuple[int, int]) -> list[list[int]]:
    """(H, W) bucket ids that each key position of the grid reads for one query position (row, col)."""
    row, col = query
    if not (0 <= row < height and 0 <= col < width):
        raise ValueError(f"query={query} is outside the {height}x{width} grid")
    ids = bucket_map(table, config.ratio, height, width, config.prefix, config.index)
    token = config.prefix + row * width + col
    keys = ids[token, config.prefix:].tolist()
    return [keys[r * width:(r + 1) * width] for r in range(height)]


def _title(config: RPEConfig, table: str, height: int, width: int) -> str:
    return f"{table} ratio={config.ratio:g} {config.index} on {height}x{width}"


def bucket_text(config: RPEConfig, height: int, width: int, query: tuple[int, int] | None = None) -> str:
    """The bucket id each key position reads for one query (default: the centre), [marked], as text."""
    query = query if query is not None else (height // 2, width // 2)
    blocks = []
    for table in site_tables(config):
        grid = query_buckets(config, table, height, width, query)
        cell = max(len(str(v)) for line in grid for v in line) + 3
        lines = [f"{_title(config, table, height, width)}, query {query}:"]
        for r, line in enumerate(grid):
            cells = [f"[{v}]" if (r, c) == tuple(query) else f"{v}" for c, v in enumerate(line)]
            lines.append("".join(text.rjust(cell) for text in cells))
        if config.prefix:
            lines.append(f"prefix tokens ({config.prefix}) read bucket {allocated_buckets(table, config.ratio, config.prefix) - 1}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def bucket_figure(config: RPEConfig, height: int, width: int, path: str | Path) -> Path:
    """A PNG with, per table, the centre query's buckets over the grid and the full (L, L) bucket map."""
    tables = site_tables(config)
    figure = Figure(figsize=(FIGURE_INCHES[0], FIGURE_INCHES[1] * len(tables)), dpi=DPI)
    FigureCanvasAgg(figure)
    query = (height // 2, width // 2)
    for row, table in enumerate(tables):
        grid = query_buckets(config, table, height, width, query)
        left = figure.add_subplot(len(tables), 2, 2 * row + 1)
        image = left.imshow(grid, cmap="viridis")
        if height * width <= 400:  # numbers stay legible up to about 20x20
            for r, line in enumerate(grid):
                for c, value in enumerate(line):
                    shade = "black" if image.norm(value) > 0.5 else "white"  # legible on viridis
                    left.text(c, r, str(value), ha="center", va="center", fontsize=8,
                              color="red" if (r, c) == query else shade, weight="bold" if (r, c) == query else None)
        left.set_title(f"{_title(config, table, height, width)}\nkeys read by query {query} (red)", fontsize=9)
        left.set_xlabel("key column")
        left.set_ylabel("key row")
        figure.colorbar(image, ax=left, label="bucket id", ticks=MaxNLocator(integer=True))
        right = figure.add_subplot(len(tables), 2, 2 * row + 2)
        ids = bucket_map(table, config.ratio, height, width, config.prefix, config.index)
        image = right.imshow(ids.numpy(), cmap="viridis", interpolation="nearest")
        right.set_title(f"full map: prefix {config.prefix} + {height}x{width} tokens", fontsize=9)
        right.set_xlabel("key token j")
        right.set_ylabel("query token i")
        figure.colorbar(image, ax=right, label="bucket id", ticks=MaxNLocator(integer=True))
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, format="png")
    return path

"""The paper's tables as data: rows, printed numbers and findings, read from reference/<table>.yaml.

Each row names the run config that reproduces it (conf/experiment/paper/row/<run>.yaml), either one
name for every scale of its table or one per scale; a scale without a name has no run for that row.
A table runs at every scale unless it lists its own (`scales:`; Table 6 has no GPU proxy).
"""
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import yaml

SCALES = ("proxy", "gpu_proxy", "paper")
TABLES = ("table1", "table2", "table3", "table4", "table5", "table6", "buckets", "rope_vit")
EXPECT = ("greater", "equal")
_ROW_KEYS = {"key", "run", "vs", "paper", "paper_std"}
_TABLE_KEYS = {"title", "setting", "columns", "metrics", "delta", "baseline", "margin", "scales", "rows", "findings",
               "record_metrics"}


@dataclass(frozen=True)
class MetricStyle:
    """How a record metric is shown: label, factor from the record's unit, decimals, whether it varies by seed."""

    label: str
    factor: float
    digits: int
    spread: bool


@dataclass(frozen=True)
class Row:
    """One printed row: its labels, the paper's numbers, its run config per scale, the row its delta is against."""

    key: str
    runs: dict[str, str]
    labels: dict[str, str]
    paper: dict[str, float | str]  # "?" where the source is illegible
    paper_std: dict[str, float]
    vs: str | None  # None for the baseline row itself


@dataclass(frozen=True)
class Claim:
    """One testable comparison: rows a against rows b on the table's delta metric."""

    a: tuple[str, ...]
    b: tuple[str, ...]
    expect: str  # greater: a > b;  equal: a = b within the table's margin


@dataclass(frozen=True)
class Finding:
    """One of the paper's one-line findings, as the claims this table can test."""

    number: int
    text: str
    claims: tuple[Claim, ...]


@dataclass(frozen=True)
class Reference:
    """A table of the paper: what it prints and what it claims."""

    name: str
    title: str
    setting: str
    columns: tuple[str, ...]
    metrics: tuple[str, ...]
    delta: str
    baseline: str
    margin: float  # equivalence margin of "equal" claims, in points of the delta metric at the paper's level
    rows: tuple[Row, ...]
    findings: tuple[Finding, ...]
    record_metrics: dict[str, dict[str, str]] = field(default_factory=dict)  # scale -> shown metric -> the record's metric, where they differ

    def row(self, key: str) -> Row:
        """The row called key."""
        return next(r for r in self.rows if r.key == key)

    def record_metric(self, scale: str, metric: str) -> str:
        """The record metric a shown metric reads at a scale (top1@384 is top1@48 for a proxy trained at 28 px)."""
        return self.record_metrics.get(scale, {}).get(metric, metric)


def _read(filename: str) -> dict:
    text = (resources.files("ablate.results.paper") / "reference" / filename).read_text()
    return yaml.safe_load(text)


@cache
def metric_styles() -> dict[str, MetricStyle]:
    """Every metric a paper table shows, by record name."""
    return {name: MetricStyle(s["label"], float(s["factor"]), int(s["digits"]), bool(s.get("spread", True)))
            for name, s in _read("metrics.yaml").items()}


def _row(table: str, raw: dict, columns: tuple[str, ...], baseline: str, scales: tuple[str, ...]) -> Row:
    unknown = set(raw) - _ROW_KEYS - set(columns)
    if unknown:
        raise ValueError(f"reference {table}: row {raw} has unknown keys {sorted(unknown)}")
    run = raw["run"]
    runs = {scale: run for scale in scales} if isinstance(run, str) else dict(run)
    key = raw.get("key", run if isinstance(run, str) else None)
    if key is None:
        raise ValueError(f"reference {table}: a row with per-scale runs needs a key: {raw}")
    vs = None if key == baseline else raw.get("vs", baseline)
    return Row(key, runs, {c: str(raw.get(c, "")) for c in columns}, dict(raw.get("paper", {})),
               dict(raw.get("paper_std", {})), vs)


@cache
def load_reference(table: str) -> Reference:
    """The reference of one table (ValueError naming the problem if the data is inconsistent)."""
    if table not in TABLES:
        raise ValueError(f"unknown paper table {table!r}: expected one of {', '.join(TABLES)}")
    raw = _read(f"{table}.yaml")
    unknown = set(raw) - _TABLE_KEYS
    if unknown:
        raise ValueError(f"reference {table}: unknown keys {sorted(unknown)}")
    columns = tuple(str(c) for c in raw["columns"])
    scales = tuple(raw.get("scales", SCALES))
    if set(scales) - set(SCALES):
        raise ValueError(f"reference {table}: unknown scales {sorted(set(scales) - set(SCALES))}")
    rows = tuple(_row(table, r, columns, raw["baseline"], scales) for r in raw["rows"])
    keys = [r.key for r in rows]
    findings = tuple(Finding(int(f["id"]), f["text"],
                             tuple(Claim(tuple(c["a"]), tuple(c["b"]), c["expect"]) for c in f["claims"]))
                     for f in raw.get("findings", []))
    referenced = [k for r in rows for k in ([r.vs] if r.vs else [])]
    referenced += [k for f in findings for c in f.claims for k in (*c.a, *c.b)]
    missing = sorted({k for k in referenced if k not in keys} | ({raw["baseline"]} - set(keys)))
    if missing or len(set(keys)) != len(keys):
        raise ValueError(f"reference {table}: rows {missing or keys} are unknown or repeated")
    styles = metric_styles()
    bad = [m for m in (*raw["metrics"], raw["delta"]) if m not in styles]
    bad += [c.expect for f in findings for c in f.claims if c.expect not in EXPECT]
    if bad:
        raise ValueError(f"reference {table}: unknown metrics or claims {bad}")
    return Reference(table, raw["title"], raw["setting"], columns, tuple(raw["metrics"]), raw["delta"],
                     raw["baseline"], float(raw.get("margin", 0.5)), rows, findings, raw.get("record_metrics", {}))

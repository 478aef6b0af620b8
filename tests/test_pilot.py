"""The scale pilot (ablate.results.paper.pilot): CPU log, planning, and the shipped table as committed."""
from pathlib import Path

import pytest

from ablate.results.paper.pilot import Candidate, both_tables_hours, candidates_of, cpu_seconds, plan, row_costs, \
    to_markdown
from ablate.results.paper.reference import load_reference

RESULTS = Path(__file__).resolve().parents[1] / "results" / "paper"
ROWS = {row.key for t in ("table1", "table4") for row in load_reference(t).rows}


def candidate(spread: float, minutes: float = 2.0) -> Candidate:
    seeds = range(6)
    top1 = {"none": {s: 80.0 + (-1) ** s * 0.3 for s in seeds},
            "product_ctx": {s: 80.8 + (-1) ** s * 0.3 + (spread if s % 3 == 0 else -spread / 2) for s in seeds}}
    return Candidate("test", "test", top1, minutes, 6)


def test_the_cpu_log_sums_seconds_and_runs_per_scale(tmp_path):
    log = tmp_path / "cpu.log"
    log.write_text("2026-01-01T00:00:00Z a runs=2 user_s=100.5 sys_s=9.5 wall_s=300 load=1,1,1\n"
                   "2026-01-01T01:00:00Z a runs=1 user_s=50 sys_s=0 wall_s=90 load=1,1,1\n"
                   "2026-01-01T02:00:00Z b runs=0 user_s=3 sys_s=0 wall_s=3 load=1,1,1\n")
    assert cpu_seconds(log) == {"a": (160.0, 3)}
    assert cpu_seconds(tmp_path / "missing.log") == {}


def test_a_smaller_spread_needs_fewer_seeds_and_the_tables_count_each_row_once():
    costs = dict.fromkeys(ROWS, 1.0)
    tight, loose = plan(candidate(0.05), costs), plan(candidate(0.4), costs)
    assert [p.number for p in tight] == [6, 7, 1, 2]
    assert all(t.seeds is not None and (l.seeds is None or l.seeds > t.seeds) for t, l in zip(tight, loose))
    # a finding's hours: its seeds x its rows x 2 minutes a run
    assert tight[0].hours == pytest.approx(tight[0].seeds * len(tight[0].rows) * 2 / 60)
    seeds = {k: 3 for k in ROWS}
    for p in tight:
        seeds.update({k: max(seeds[k], p.seeds) for k in p.rows})
    assert both_tables_hours(candidate(0.05), tight, costs) == pytest.approx(sum(seeds.values()) * 2 / 60)
    assert len(ROWS) == 19  # Tables 1 and 4 share none and product_ctx


def test_the_shipped_pilot_table_renders_as_committed():
    found = candidates_of(RESULTS / "runs", RESULTS / "pilot")
    assert to_markdown(found, row_costs(RESULTS / "runs")) == (RESULTS / "pilot" / "pilot.md").read_text()

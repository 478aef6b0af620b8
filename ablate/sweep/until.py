"""`ablate sweep experiment=paper/<table> --until-resolved [--max-seeds N]`: add seeds until the findings resolve.

Round 1 is the sweep as planned. After each round the table's findings are tested as the report tests
them (ablate.results.paper.layout), on the completed runs of this sweep's own row configs: the table's
rows with the command line's other overrides. A finding is open while its verdict is "not resolved";
each open claim wants the seeds per row that its power estimates (Power.needed: the fewest with which
the paper's effect or the observed one would resolve, 80%). A round brings an open claim's rows up the
ladder of 3, 6, 12, 24, ... seeds in common, one rung at a time (the spread is estimated again before
each larger step), stopping short at its estimate or at --max-seeds (seeds 0..N-1). Findings, and their
runs, go in the order of the fewest extra runs their estimates need. It stops when every finding is
resolved, when nothing is left to add below --max-seeds, or after a round in which a run failed.

Every run is an ordinary run of the sweep (the same identity, directory, skipping and resuming), so
after an interruption the same command reads what is on disk and continues from there: an interrupted
round's rows sit between two rungs, so the next round aims at the same rung again.

Adding seeds until a verdict appears tests the same comparison several times, so a claim with no true
difference comes out resolved more often than a single test's 5%: simulated with Welch's test on normal
samples (20,000 pairs), 3.6% at 3 seeds alone, 7.3% with looks at 3 and 6, 10.5% at 3, 6, 12, 13.7%
at 3, 6, 12, 24. A verdict reached late in the ladder deserves that caution.
"""
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ablate.config.compose import Composer, ConfigError
from ablate.results.paper.layout import FindingResult, Layout, build_layout
from ablate.results.paper.power import MAX_SEEDS
from ablate.results.paper.reference import SCALES, TABLES, Reference, load_reference
from ablate.results.paper.render import finding_power
from ablate.results.paper.runs import ROW, row_values
from ablate.results.records import COMPLETED, DIVERGED, FAILED, config_hashes
from ablate.results.report import load_records
from ablate.sweep.plan import Job, plan_runs

FIRST_RUNG = 3  # seeds per row of the ladder's first rung; each next rung doubles it


def next_rung(n: int) -> int:
    """The ladder's first rung above n seeds per row: 3, 6, 12, 24, ..."""
    rung = FIRST_RUNG
    while rung <= n:
        rung *= 2
    return rung


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


@dataclass(frozen=True)
class Study:
    """A paper table swept at one scale, with the command line's other overrides."""

    reference: Reference
    scale: str
    base: tuple[str, ...]  # the overrides, less the rows and the seeds (the loop chooses those)

    def rows(self) -> list:
        """The table's rows that have a run at this scale."""
        return [row for row in self.reference.rows if self.scale in row.runs]


def study_of(overrides: list[str]) -> Study:
    """The paper table an --until-resolved sweep is about (ConfigError, one line, for any other study)."""
    given = {_key(o): o.split("=", 1)[1] for o in overrides if "=" in o}
    experiment, scale = given.get("experiment", ""), given.get("scale", SCALES[0])
    table = experiment.removeprefix("paper/")
    if not experiment.startswith("paper/") or table not in TABLES or not load_reference(table).findings:
        tables = ", ".join(f"paper/{t}" for t in TABLES if load_reference(t).findings)
        raise ConfigError(f"--until-resolved needs a study with findings: experiment=one of {tables} "
                          f"(got {experiment or 'no experiment'})")
    if scale not in SCALES:
        raise ConfigError(f"--until-resolved tests one scale at a time: scale= one of {', '.join(SCALES)} "
                          f"(got {scale})")
    chosen_here = ("seed", ROW.lstrip("+"))
    study = Study(load_reference(table), scale, tuple(o for o in overrides if _key(o) not in chosen_here))
    if not study.rows():
        raise ConfigError(f"{experiment} has no rows at scale={scale}")
    return study


@dataclass(frozen=True)
class State:
    """What is on disk: the findings as tested now and each row's seeds."""

    layout: Layout
    completed: dict[str, set[int]]  # row key -> seeds with a result
    dead: dict[str, set[int]]  # row key -> seeds that diverged (final, never run again)


def read_state(study: Study, results: Path) -> State:
    """Test the findings on the completed runs of the study's row configs."""
    rows = study.rows()
    with Composer() as composer:
        configs = composer.configs([[*study.base, f"{ROW}={row.runs[study.scale]}", "seed=0"] for row in rows])
    hashes = {row.key: config_hashes(config)[1] for row, config in zip(rows, configs)}
    frame = load_records(results, configs[0]["name"])
    completed = {key: set() for key in hashes}
    dead = {key: set() for key in hashes}
    if not frame.empty:
        for key, group_hash in hashes.items():
            runs = frame[frame["group_hash"] == group_hash]
            for status, seeds in ((COMPLETED, completed), (DIVERGED, dead)):
                seeds[key].update(int(s) for s in runs[runs["status"] == status]["seed"])
        frame = frame[frame["status"] == COMPLETED]
    values = row_values(study.reference, study.scale, frame, hashes)
    return State(build_layout(study.reference, study.scale, values, ""), completed, dead)


@dataclass(frozen=True)
class Step:
    """One open finding's share of a round: its estimate and the seeds 0..T-1 it brings its rows to."""

    finding: FindingResult
    estimate: int | None  # seeds per row its open claims need; None: more than MAX_SEEDS
    extra: int  # runs still to do to reach the estimate
    targets: dict[str, int]  # row key -> T for this round


def plan_round(state: State, max_seeds: int) -> list[Step]:
    """The steps of the next round, fewest extra runs first (empty when every finding is resolved)."""
    steps = []
    for finding in state.layout.findings:
        if finding.resolved:
            continue
        wants: dict[str, int] = {}  # row -> seeds per row its claims need
        targets: dict[str, int] = {}
        for c in finding.open_claims():
            rows = (*c.claim.a, *c.claim.b)
            need = (c.power.needed or MAX_SEEDS + 1) if c.power else 2
            for row in rows:
                wants[row] = max(wants.get(row, 0), need)
            have = c.power.n if c.power else len(set.intersection(*(state.completed[r] for r in rows)))
            usable = [s for s in range(max_seeds) if not any(s in state.dead[r] for r in rows)]
            step = min(need, next_rung(have), len(usable))
            if step > have:
                for row in rows:
                    targets[row] = max(targets.get(row, 0), usable[step - 1] + 1)
        estimate = max(wants.values())
        extra = sum(max(0, want - len(state.completed[row])) for row, want in wants.items())
        steps.append(Step(finding, None if estimate > MAX_SEEDS else estimate, extra, targets))
    return sorted(steps, key=lambda s: s.extra)


def round_jobs(study: Study, results: Path, steps: list[Step]) -> tuple[list[Job], dict[Path, list[int]]]:
    """The round's runs not done yet, in the steps' order, and the findings each is for."""
    runs = {row.key: row.runs[study.scale] for row in study.rows()}
    targets: dict[str, int] = {}
    for step in steps:
        for row, t in step.targets.items():
            targets[row] = max(targets.get(row, 0), t)
    by_t: dict[int, list[str]] = {}
    for row, t in targets.items():
        by_t.setdefault(t, []).append(row)
    planned = {}
    for t, rows in sorted(by_t.items()):
        overrides = [*study.base, f"{ROW}={','.join(runs[r] for r in rows)}", f"seed={','.join(map(str, range(t)))}"]
        for job in plan_runs(overrides, results):
            values = dict(o.split("=", 1) for o in job.overrides if o.startswith((ROW, "seed=")))
            row = next(r for r in rows if runs[r] == values[ROW])
            planned[row, int(values["seed"])] = job
    order, serves = {}, {}  # run -> (its first step, seed), and the findings it serves
    for i, step in enumerate(steps):
        for (row, seed), job in planned.items():
            if not job.done and seed < step.targets.get(row, 0):
                order.setdefault(job.directory, (i, seed, job))
                serves.setdefault(job.directory, []).append(step.finding.number)
    return [job for _, _, job in sorted(order.values(), key=lambda x: x[:2])], serves


def purposes(serves: dict[Path, list[int]]) -> dict[Path, str]:
    """Each run's findings in words: "finding 6", "findings 6, 7"."""
    return {d: ("finding " if len(n) == 1 else "findings ") + ", ".join(map(str, n)) for d, n in serves.items()}


def findings_lines(state: State) -> list[str]:
    """One line per finding: verdict and power."""
    return [f"  finding {f.number}: {f.verdict}: {finding_power(f)}" for f in state.layout.findings]


def step_lines(steps: list[Step], jobs: list[Job], serves: dict[Path, list[int]]) -> list[str]:
    """What a round adds, finding by finding (a run several findings need counts for each)."""
    lines = []
    for step in steps:
        mine = sum(step.finding.number in serves[job.directory] for job in jobs)
        estimate = f"about {step.estimate}" if step.estimate else f"more than {MAX_SEEDS:,}"
        rows = ", ".join(f"{row} to {t}" for row, t in step.targets.items())
        lines.append(f"  finding {step.finding.number} (could resolve with {estimate} seeds per row): "
                     + (f"{mine} runs, seeds per row: {rows}" if mine else "nothing to add below --max-seeds"))
    return lines


RunRound = Callable[[list[Job], dict[Path, str]], list[str]]


def resolve(study: Study, results: Path, max_seeds: int, run_round: RunRound, say: Callable[[str], None]) -> list[str]:
    """Rounds of added seeds after the planned sweep, until the findings resolve; returns the runs' statuses."""
    statuses: list[str] = []
    for number in range(2, max_seeds + 2):  # a bound: each round climbs a rung or stops
        state = read_state(study, results)
        steps = plan_round(state, max_seeds)
        say(f"{study.reference.title}, after round {number - 1}:")
        for line in findings_lines(state):
            say(line)
        if not steps:
            say("every finding resolved.")
            return statuses
        jobs, serves = round_jobs(study, results, steps)
        if not jobs:
            say(f"--max-seeds {max_seeds} reached: {len(steps)} finding(s) not resolved.")
            return statuses
        say(f"round {number}: {len(jobs)} runs")
        for line in step_lines(steps, jobs, serves):
            say(line)
        ended = run_round(jobs, purposes(serves))
        statuses += ended
        if FAILED in ended:
            say(f"round {number}: a run failed; stopping (run the same command again to retry it).")
            return statuses
    return statuses


def preview(study: Study, results: Path, max_seeds: int, say: Callable[[str], None]) -> None:
    """The findings as they stand on disk and the next round's runs (for --dry-run)."""
    state = read_state(study, results)
    say(f"{study.reference.title}, on the runs done so far:")
    for line in findings_lines(state):
        say(line)
    steps = plan_round(state, max_seeds)
    jobs, serves = round_jobs(study, results, steps) if steps else ([], {})
    say(f"next round (once the planned runs are done): {len(jobs)} runs")
    for line in step_lines(steps, jobs, serves):
        say(line)
    text = purposes(serves)
    for job in jobs:
        say(f"  todo  {job.directory.name}  {job.label}  for {text[job.directory]}")

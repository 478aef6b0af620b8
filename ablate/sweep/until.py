"""`ablate sweep experiment=paper/<table> --until-resolved [--max-seeds N]`: add seeds until the findings resolve.

The looks are declared before the first is tested (ablate.results.paper.design): the rungs 3, 6, 12, ...
seeds per row below N, and N. Round 1 is the sweep as planned; after it, and after each later round,
the table's findings are tested as the report tests them (ablate.results.paper.layout), on the completed
runs of this sweep's own row configs (the table's rows with the command line's other overrides), at the
looks their seeds reach: a group-sequential design with O'Brien-Fleming-type alpha spending, the
table's claims corrected together (Holm), so that over all looks a claim with no true difference
resolves at most 5% of the time (ablate.stats.sequential; `python -m ablate.stats.simulate` measures
it). A round brings each open claim's rows to the claim's next look; findings, and their runs, go in
the order of the fewest extra runs with which all their open claims would hold (80% power, planned
with the upper confidence bound of their spread). It stops when every finding is resolved, when the
open claims have had their last look (N seeds per row), when diverged runs leave too few seeds below N
for the next look, or after a round in which a run failed; it says which.

Every run is an ordinary run of the sweep (the same identity, directory, skipping and resuming), so
after an interruption the same command reads what is on disk and continues from there: an interrupted
round's rows sit between two looks, where the test waits for the next look, so the next round aims at
that look again.
"""
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ablate.config.compose import Composer
from ablate.config.errors import ConfigError
from ablate.results.paper.design import check, declare, looks_for
from ablate.results.paper.layout import FindingResult, Layout, build_layout
from ablate.results.paper.reference import SCALES, TABLES, Reference, load_reference
from ablate.results.paper.render import finding_power
from ablate.results.paper.runs import ROW, row_values
from ablate.results.records import COMPLETED, DIVERGED, FAILED, config_hashes
from ablate.results.report import load_records
from ablate.stats.power import MAX_SEEDS
from ablate.sweep.plan import Job, plan_runs


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


@dataclass(frozen=True)
class Study:
    """A paper table swept at one scale, with the command line's other overrides, and where its runs go."""

    reference: Reference
    scale: str
    base: tuple[str, ...]  # the overrides, less the rows and the seeds (the loop chooses those)
    name: str  # the runs' experiment name (results/<name>/), beside which the looks are declared

    def rows(self) -> list:
        """The table's rows that have a run at this scale."""
        return [row for row in self.reference.rows if self.scale in row.runs]


def study_of(overrides: list[str], results: Path, max_seeds: int) -> Study:
    """The paper table an --until-resolved sweep is about (ConfigError, one line, for any other study, or for
    --max-seeds other than the table's declared looks)."""
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
    reference, base = load_reference(table), tuple(o for o in overrides if _key(o) not in chosen_here)
    rows = [row for row in reference.rows if scale in row.runs]
    if not rows:
        raise ConfigError(f"{experiment} has no rows at scale={scale}")
    with Composer() as composer:
        name = str(composer.config([*base, f"{ROW}={rows[0].runs[scale]}", "seed=0"])["name"])
    study = Study(reference, scale, base, name)
    if max_seeds >= 2:
        try:
            check(results, name, table, max_seeds)
        except ValueError as e:
            raise ConfigError(str(e)) from e
    return study


@dataclass(frozen=True)
class State:
    """What is on disk: the findings as tested now and each row's seeds."""

    layout: Layout
    completed: dict[str, set[int]]  # row key -> seeds with a result
    dead: dict[str, set[int]]  # row key -> seeds that diverged (final, never run again)


def read_state(study: Study, results: Path, looks: tuple[int, ...]) -> State:
    """Test the findings on the completed runs of the study's row configs, at the looks they reach."""
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
    return State(build_layout(study.reference, study.scale, values, "", looks), completed, dead)


@dataclass(frozen=True)
class Step:
    """One open finding's share of a round: its estimate and the seeds 0..T-1 it brings its rows to."""

    finding: FindingResult
    estimate: int | None  # seeds per row with which its open claims hold with 80%; None: no estimate
    extra: int  # runs still to do to reach the estimate
    targets: dict[str, int]  # row key -> T for this round
    look: int | None  # seeds per row at the next look its claims take; None: none left
    short: int | None  # usable seeds below --max-seeds where diverged runs leave fewer than that look needs


def _next_look(looks: tuple[int, ...], have: int) -> int | None:
    """The first look above the seeds a claim has (None after the last)."""
    return next((n for n in looks if n > have), None)


def plan_round(state: State, looks: tuple[int, ...], max_seeds: int) -> list[Step]:
    """The steps of the next round, fewest extra runs first (empty when every finding is resolved)."""
    steps = []
    for finding in state.layout.findings:
        if finding.resolved:
            continue
        targets: dict[str, int] = {}
        nexts, short = [], None
        for c in finding.open_claims():
            rows = (*c.claim.a, *c.claim.b)
            look = _next_look(looks, c.common)
            if look is None:
                continue
            usable = [s for s in range(max_seeds) if not any(s in state.dead[r] for r in rows)]
            if len(usable) < look:
                short = len(usable)
                continue
            nexts.append(look)
            for row in rows:
                targets[row] = max(targets.get(row, 0), usable[look - 1] + 1)
        wants = finding.needed or MAX_SEEDS + 1
        rows = {r for c in finding.open_claims() for r in (*c.claim.a, *c.claim.b)}
        extra = sum(max(0, wants - len(state.completed[row])) for row in rows)
        steps.append(Step(finding, finding.needed, extra, targets, min(nexts, default=None), short))
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
        estimate = f"about {step.estimate}" if step.estimate else finding_power(step.finding).removeprefix("needs ")
        rows = ", ".join(f"{row} to {t}" for row, t in step.targets.items())
        look = f"next look at {step.look} seeds per row" if step.look else "no look left"
        lines.append(f"  finding {step.finding.number} ({look}; all its open claims would hold with 80% at "
                     f"{estimate} seeds per row): "
                     + (f"{mine} runs, seeds per row: {rows}" if mine else "nothing to add below --max-seeds"))
    return lines


def stop_reason(steps: list[Step], looks: tuple[int, ...], max_seeds: int) -> str:
    """Why a round adds nothing although findings are open: the last look done, or too few usable seeds."""
    short = [s for s in steps if s.short is not None]
    if short:
        names = ", ".join(f"finding {s.finding.number}" for s in short)
        return (f"diverged runs leave {min(s.short for s in short)} usable seeds below --max-seeds {max_seeds} "
                f"for the next look of {names}: {len(steps)} finding(s) not resolved.")
    return (f"last look done ({looks[-1]} seeds per row, --max-seeds {max_seeds}): {len(steps)} finding(s) "
            "not resolved.")


RunRound = Callable[[list[Job], dict[Path, str]], list[str]]


def resolve(study: Study, results: Path, max_seeds: int, run_round: RunRound, say: Callable[[str], None]) -> list[str]:
    """Rounds of added seeds after the planned sweep, until the findings resolve; returns the runs' statuses."""
    looks = declare(results, study.name, study.reference.name, max_seeds)
    say(f"looks declared: {', '.join(map(str, looks))} seeds per row (O'Brien-Fleming-type alpha spending, "
        "the table's claims corrected together by Holm)")
    statuses: list[str] = []
    for number in range(2, max_seeds + 2):  # a bound: each round reaches a look or stops
        state = read_state(study, results, looks)
        steps = plan_round(state, looks, max_seeds)
        say(f"{study.reference.title}, after round {number - 1}:")
        for line in findings_lines(state):
            say(line)
        if not steps:
            say("every finding resolved.")
            return statuses
        jobs, serves = round_jobs(study, results, steps)
        if not jobs:
            say(stop_reason(steps, looks, max_seeds))
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
    """The findings as they stand on disk and the next round's runs (for --dry-run; declares nothing)."""
    looks = looks_for(max_seeds)
    state = read_state(study, results, looks)
    say(f"{study.reference.title}, on the runs done so far (looks at {', '.join(map(str, looks))} seeds per row):")
    for line in findings_lines(state):
        say(line)
    steps = plan_round(state, looks, max_seeds)
    jobs, serves = round_jobs(study, results, steps) if steps else ([], {})
    say(f"next round (once the planned runs are done): {len(jobs)} runs")
    for line in step_lines(steps, jobs, serves):
        say(line)
    text = purposes(serves)
    for job in jobs:
        say(f"  todo  {job.directory.name}  {job.label}  for {text[job.directory]}")

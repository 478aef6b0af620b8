"""The looks of a paper table gathered with --until-resolved, declared before the first of them is tested.

`ablate sweep experiment=paper/<table> --until-resolved --max-seeds N` declares its looks, the rungs
3, 6, 12, ... below N and N itself, in <results>/<record name>/until-<table>.json, and both the loop
and `ablate report` test the table's claims with that design (ablate.stats.sequential), so they never
disagree. A table without the file was not gathered sequentially: one look, at the seeds it has.
A design cannot change once declared: its error rate holds for the looks it was declared with.
"""
import json
from pathlib import Path

from ablate.results.formats import write_output

FIRST_RUNG = 3  # seeds per row at the first look; each next rung doubles it


def looks_for(max_seeds: int) -> tuple[int, ...]:
    """The looks of --max-seeds N: the rungs 3, 6, 12, ... below N, then N."""
    looks, rung = [], FIRST_RUNG
    while rung < max_seeds:
        looks.append(rung)
        rung *= 2
    return (*looks, max_seeds)


def design_path(results: Path, record_name: str, table: str) -> Path:
    """Where a table's declared looks live, beside its runs."""
    return Path(results) / record_name / f"until-{table}.json"


def read_looks(results: Path, record_name: str, table: str) -> tuple[int, ...] | None:
    """The declared looks of a table's runs, or None if it was not gathered sequentially."""
    path = design_path(results, record_name, table)
    if not path.is_file():
        return None
    try:
        looks = tuple(int(n) for n in json.loads(path.read_text())["looks"])
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path} is not a design of looks ({type(e).__name__}: {e}): restore it from its copy") from e
    if len(looks) == 0 or list(looks) != sorted(set(looks)) or looks[0] < 2:
        raise ValueError(f"{path}: looks must be increasing seed counts of at least 2, got {list(looks)}")
    return looks


def check(results: Path, record_name: str, table: str, max_seeds: int) -> tuple[int, ...]:
    """The looks of --max-seeds, writing nothing; ValueError if the table was declared with other looks."""
    looks, declared = looks_for(max_seeds), read_looks(results, record_name, table)
    if declared is not None and declared != looks:
        raise ValueError(f"--max-seeds {max_seeds}: paper/{table} in {Path(results) / record_name} was declared "
                         f"with --max-seeds {declared[-1]} (looks at {', '.join(map(str, declared))} seeds per row); "
                         f"a sequential design cannot change after its looks: use --max-seeds {declared[-1]}, "
                         "or another --results-dir for a new study")
    return looks


def declare(results: Path, record_name: str, table: str, max_seeds: int) -> tuple[int, ...]:
    """Write the looks of --max-seeds unless declared already (ValueError if declared with other looks)."""
    looks = check(results, record_name, table, max_seeds)
    path = design_path(results, record_name, table)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_output(path, json.dumps({"table": table, "max_seeds": max_seeds, "looks": list(looks),
                                    "spending": "Lan-DeMets O'Brien-Fleming-type, two-sided 5%"}, indent=1) + "\n")
    return looks

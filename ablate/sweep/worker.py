"""A sweep job in its own process: reads {config, directory, overrides} as JSON on stdin and runs it.

Exit codes: 0 the run ended and wrote its record (completed, failed or diverged); BUSY_EXIT another
process holds the run; anything else means the worker itself died (the launcher then settles the run
from its directory: ablate.results.rundir.RunDir.settle).
"""
import json
import sys
from pathlib import Path

from omegaconf import OmegaConf

from ablate.engine.runner import execute
from ablate.results.rundir import RunBusy

BUSY_EXIT = 3


def main() -> int:
    """Run the job given on stdin."""
    job = json.load(sys.stdin)
    cfg = OmegaConf.create(job["config"])
    OmegaConf.set_struct(cfg, True)
    try:
        execute(cfg, Path(job["directory"]), job["overrides"])
    except RunBusy:
        return BUSY_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A sweep job in its own process: reads {config, directory, overrides} as JSON on stdin and runs it.

Exit codes: 0 the run ended and wrote its record (completed, failed or diverged); BUSY_EXIT another
process holds the run; INTERRUPTED_EXIT Ctrl-C (SIGINT) stopped it, its last finished epoch saved;
anything else means the worker itself died or could not write the run's directory (the launcher then settles
the run from its directory: ablate.sweep.outcome.settle).
"""
import json
import signal
import sys
from pathlib import Path

from omegaconf import OmegaConf

from ablate.engine.runner import execute
from ablate.results.rundir import RunBusy

BUSY_EXIT = 3
INTERRUPTED_EXIT = 130


def main() -> int:
    """Run the job given on stdin."""
    # Ctrl-C must reach the run whatever the launching process left for its children: a SIGINT ignored (then
    # Python installs no handler at start-up) or blocked in the launching thread's mask (both survive exec).
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.default_int_handler)
    job = json.load(sys.stdin)
    cfg = OmegaConf.create(job["config"])
    OmegaConf.set_struct(cfg, True)
    try:
        execute(cfg, Path(job["directory"]), job["overrides"])
    except RunBusy:
        return BUSY_EXIT
    except KeyboardInterrupt:
        return INTERRUPTED_EXIT
    except OSError as e:  # the run directory could not be written: the launcher's settling says so
        print(f"{job['directory']} could not be written: {e.strerror or e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

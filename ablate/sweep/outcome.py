"""What a launch of one run came to, read from its run directory: the record is the source of truth, never what
a launcher or worker says (a Slurm job can report success after an exception; a killed worker says nothing).

Besides a record's statuses (completed, failed, diverged), a launch can end BUSY (another process holds the
run) or INTERRUPTED (Ctrl-C stopped it; its last finished epoch is saved).
"""
from ablate.results.records import FAILED
from ablate.results.rundir import RUNNING, RunBusy, RunDir

BUSY, INTERRUPTED = "busy", "interrupted"


def settle(run: RunDir, config: dict, overrides: list[str], said: str, since: int | None) -> dict:
    """The outcome of a launch that has ended: a finished record, or one this launch wrote (newer than `since`);
    a run that left neither is recorded as failed, naming what its launcher said."""
    record = run.finished() or run.written_since(since)
    if record is not None:
        return record
    if said == BUSY:
        return {"status": BUSY, "error": f"{run.path} is being run by another process"}
    try:
        return run.fail(config, overrides, said)
    except RunBusy:
        return {"status": RUNNING, "error": f"{run.path} is still being run ({said})"}
    except OSError as e:  # a full disk: the run stays unrecorded, and the next sweep runs it again
        return {"status": FAILED, "error": f"{said}; its record could not be written either ({e.strerror or e})"}

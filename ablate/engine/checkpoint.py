"""Checkpoints in the run directory, replaced atomically: a kill at any moment leaves the previous one or the new one,
whole. One that cannot be read anyway (a disk that lost blocks, a file cut or overwritten by hand) is refused as
UnreadableCheckpoint, so that the runner sets it aside rather than failing on it at every attempt."""
import io

import torch

from ablate.results.rundir import RunDir

KEYS = ("model", "stepper", "history", "size", "resumed_at")  # what save_checkpoint's callers store


class UnreadableCheckpoint(ValueError):
    """The checkpoint file exists but holds no checkpoint; the message says why, in a few words."""


def save_checkpoint(run: RunDir, state: dict) -> None:
    """torch.save into the run's checkpoint file (temporary file, fsync, rename).

    Serialised in memory first: torch's zip writer turns a failing write (a full disk) into an opaque
    'unexpected pos' error, while the file's own write says 'No space left on device'.
    """
    buffer = io.BytesIO()
    torch.save(state, buffer)
    with run.replacing(RunDir.CHECKPOINT) as f:
        f.write(buffer.getbuffer())


def load_checkpoint(run: RunDir) -> dict | None:
    """The run's checkpoint, or None if there is none yet; UnreadableCheckpoint if it cannot be read."""
    path = run.path / RunDir.CHECKPOINT
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # torch's zip and pickle readers raise many kinds (RuntimeError, EOFError, ...)
        first = str(e).splitlines()[0].split(". ")[0] if str(e) else ""  # torch adds paragraphs of advice
        raise UnreadableCheckpoint(f"{type(e).__name__}: {first}".rstrip(": "))
    if not isinstance(state, dict) or any(key not in state for key in KEYS) or not isinstance(state["history"], list):
        raise UnreadableCheckpoint("not a checkpoint of a run")
    return state

"""Checkpoints in the run directory, replaced atomically: a kill at any moment leaves the previous one or the new one, whole."""
import torch

from ablate.results.rundir import RunDir


def save_checkpoint(run: RunDir, state: dict) -> None:
    """torch.save into the run's checkpoint file (temporary file, fsync, rename)."""
    with run.replacing(RunDir.CHECKPOINT) as f:
        torch.save(state, f)


def load_checkpoint(run: RunDir) -> dict | None:
    """The run's checkpoint, or None if there is none yet."""
    path = run.path / RunDir.CHECKPOINT
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)

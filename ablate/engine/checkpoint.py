"""Checkpoints written atomically: a kill at any moment leaves the previous one or the new one, whole."""
import os
from pathlib import Path

import torch

CHECKPOINT = "checkpoint.pth"


def save_checkpoint(path: Path, state: dict) -> None:
    """torch.save to a temporary file in the same directory, fsync, then rename over the old one."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict | None:
    """The checkpoint at path, or None if there is none yet."""
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)

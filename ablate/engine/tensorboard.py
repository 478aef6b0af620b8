"""Optional TensorBoard events, written from the same per-epoch metrics as metrics.jsonl."""
from pathlib import Path

from ablate.results.rundir import RunDir


class TensorBoard:
    """Writes numeric epoch metrics into the run directory's tb/ when enabled and tensorboard is installed;
    else does nothing."""

    def __init__(self, directory: Path, enabled: bool):
        self.writer = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # the optional extra is not installed
                return
            self.writer = SummaryWriter(str(directory / RunDir.TENSORBOARD))

    def log(self, row: dict) -> None:
        """One epoch's scalars, stepped by epoch."""
        if self.writer is None:
            return
        for key, value in row.items():
            if key != "epoch" and isinstance(value, (int, float)):
                self.writer.add_scalar(key, value, row["epoch"])
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        if self.writer is not None:
            self.writer.close()

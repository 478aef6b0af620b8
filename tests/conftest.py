"""Shared helpers: the CLI in-process, and the tiny digits settings that keep end-to-end runs fast."""
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ablate.cli import app

# deit_micro (patch 4: a 2x2 grid) on 8x8 digits, 2 steps per epoch, one validation batch, one seed (the
# default experiment sweeps two): a real run in about a second.
FAST = ["model=deit_micro", "seed=0", "data=digits", "data.train_limit=256", "train.batch_size=128", "train.epochs=2", "train.warmup_epochs=0",
        "eval.batch_size=512", "logging.tensorboard=false", "runtime.threads=1"]


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """An empty results directory (not created yet)."""
    return tmp_path / "results"


@pytest.fixture
def cli():
    """Invoke the ablate CLI in this process; returns click's Result (exit_code, stdout, stderr)."""
    def invoke(*args: str, results: Path | None = None):
        extra = ["--results-dir", str(results)] if results is not None else []
        return CliRunner().invoke(app, [*args, *extra])
    return invoke


def folder_with_a_corrupt_image(root: Path) -> Path:
    """A tiny image folder (two classes of two 8x8 PNGs per split) whose first training image holds garbage: a
    run on it passes every plan-time check and fails while decoding; returns the corrupt file."""
    from PIL import Image

    for split in ("train", "val"):
        for name in ("a", "b"):
            (root / split / name).mkdir(parents=True)
            for i in range(2):
                Image.new("RGB", (8, 8)).save(root / split / name / f"{i}.png")
    bad = root / "train" / "a" / "0.png"
    bad.write_bytes(b"\x89PNG not an image")
    return bad


def tree(path: Path) -> list[str]:
    """Every file and directory under path (empty if it does not exist)."""
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []

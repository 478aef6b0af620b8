"""Kill a run at chosen points of an epoch and of its record write, as SIGKILL would: os._exit, so that no
`finally` block, no temporary-file clean-up and no exception handler runs.

    python kill_points.py RESULTS STAGE [STAGE ...] -- OVERRIDES...

imports what a run needs once (torch, timm, the digits set), then for each stage forks a child that runs the
overrides' one run in RESULTS/STAGE with the stage's kill installed; each child must die at its point (exit code
KILLED) and the parent prints {stage: exit code} as JSON. The parent runs no torch operation before forking, so
its children start clean.
"""
import io
import json
import os
import sys
from collections.abc import Callable

import torch

import ablate.data.digits  # noqa: F401  (imported once here rather than in every child: scikit-learn)
import ablate.engine.classification  # noqa: F401  (timm, torchvision)
import ablate.engine.runner as runner
from ablate.results.records import dumps
from ablate.results.rundir import RunDir
from ablate.sweep.plan import plan_runs

KILLED = 86


def die() -> None:
    """SIGKILL's effect on this process: gone at once."""
    os._exit(KILLED)


def nth(n: int, kill: Callable, real: Callable) -> Callable:
    """A function that runs `real` for its first n - 1 calls and `kill` on the n-th."""
    calls = [0]

    def wrapped(*args, **kwargs):
        calls[0] += 1
        return (kill if calls[0] == n else real)(*args, **kwargs)

    return wrapped


def _half_metrics_line(run: RunDir, row: dict) -> None:
    with open(run.path / RunDir.METRICS, "a") as f:
        line = dumps(row) + "\n"
        f.write(line[: len(line) // 2])
        f.flush()
        os.fsync(f.fileno())
    die()


def _checkpoint_cut(fraction: float) -> Callable:
    def save(run: RunDir, state: dict) -> None:
        with run.replacing(RunDir.CHECKPOINT) as f:
            buffer = io.BytesIO()
            torch.save(state, buffer)
            f.write(buffer.getvalue()[: int(len(buffer.getvalue()) * fraction)])
            f.flush()
            os.fsync(f.fileno())
            die()  # inside the block: the temporary file is never renamed

    return save


def _record_not_renamed(run: RunDir, record: dict) -> None:
    with run.replacing(RunDir.RECORD) as f:
        f.write(dumps(record, indent=1, default=str).encode())
        f.flush()
        os.fsync(f.fileno())
        die()


def _after(real: Callable) -> Callable:
    def call_then_die(*args, **kwargs):
        real(*args, **kwargs)
        die()

    return call_then_die


def _evaluate_killed(real_build: Callable) -> Callable:
    def build(cfg, device):
        task = real_build(cfg, device)
        task.evaluate = nth(2, lambda: die(), task.evaluate)  # epoch 2 trained, not evaluated
        return task

    return build


# Each stage: where the run dies (FAST: 2 epochs of 2 steps; epoch 2 unless said otherwise).
STAGES: dict[str, Callable[[], None]] = {
    "start, config written": lambda: setattr(RunDir, "write_started", lambda *a: die()),
    "in a training step": lambda: setattr(runner.ProgressFile, "__call__",
                                          nth(3, lambda *a: die(), runner.ProgressFile.__call__)),
    "trained, not evaluated": lambda: setattr(runner, "build_task", _evaluate_killed(runner.build_task)),
    "half a metrics line appended": lambda: setattr(RunDir, "append_metrics",
                                                    nth(2, _half_metrics_line, RunDir.append_metrics)),
    "metrics line appended, checkpoint not": lambda: setattr(runner, "save_checkpoint",
                                                             nth(2, lambda *a: die(), runner.save_checkpoint)),
    "half the checkpoint written": lambda: setattr(runner, "save_checkpoint",
                                                   nth(2, _checkpoint_cut(0.5), runner.save_checkpoint)),
    "checkpoint written, not renamed": lambda: setattr(runner, "save_checkpoint",
                                                       nth(2, _checkpoint_cut(1.0), runner.save_checkpoint)),
    "epoch 1 saved, epoch 2 not begun": lambda: setattr(runner, "save_checkpoint",
                                                        nth(1, _after(runner.save_checkpoint), runner.save_checkpoint)),
    "record written, not renamed": lambda: setattr(RunDir, "write_record", _record_not_renamed),
    "record written, process not ended": lambda: setattr(RunDir, "write_record", _after(RunDir.write_record)),
}


def main() -> None:
    """Run each stage in a forked child; print each child's exit code."""
    split = sys.argv.index("--")
    results, stages, overrides = sys.argv[1], sys.argv[2:split], sys.argv[split + 1:]
    codes = {}
    for stage in stages:
        job = plan_runs(overrides, os.path.join(results, stage.replace(" ", "_").replace(",", "")), sweep=False)[0]
        pid = os.fork()
        if pid == 0:
            STAGES[stage]()
            runner.execute(job.config, job.directory, job.overrides)
            os._exit(0)  # the run ended without reaching its kill point
        codes[stage] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    print(json.dumps(codes))


if __name__ == "__main__":
    main()

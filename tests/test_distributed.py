"""DistributedDataParallel on CPU (gloo): two processes under torchrun train the same model as one process.

They are comparable because train.batch_size is the global batch: both runs take the same 64-image
batches in the same order with the same augmentation (each of the two processes keeps its half), so
the learning rate and schedule are the same, and there is no dropout or drop path. What remains is
float32 rounding: the gradient of a batch is the average of two half-batch gradients instead of one
sum, and evaluation sums in a different order. That changes parameters by ~1e-7 relative per step,
which AdamW can amplify a little over 32 steps; so the validation loss must agree to 1e-4 and top-1 /
top-5 to within one image of the 359 (0.28 points).

The learning rate is kept out of the chaotic regime: at base_lr 4e-2 this tiny model ends 0.04 apart
in loss even between one-process runs with 1 and 2 threads, because Adam turns rounding noise in
gradients that are zero in exact arithmetic (the key bias, which softmax ignores) into full-size steps.
"""
import subprocess
import sys

import pytest
import torch
from conftest import FAST

from ablate.engine.checkpoint import load_checkpoint
from ablate.engine.distributed import AgreedStep, World, _Slices
from ablate.engine.optim import Diverged
from ablate.engine.runner import execute
from ablate.results.rundir import RunDir, run_dirs
from ablate.sweep.plan import plan_runs

# 1,024 digits in 16 global batches of 64, two epochs; enough steps and lr to move well off chance.
RUN = [*FAST, "rpe=irpe_k", "data.train_limit=1024", "train.batch_size=64", "train.base_lr=1e-2",
       "train.hflip=0", "train.crop_padding=1"]
ONE_IMAGE = 100 / 359


def test_two_processes_match_one(tmp_path):
    one = plan_runs(RUN, tmp_path / "one", sweep=False)[0]
    single = execute(one.config, one.directory, one.overrides)
    assert single["status"] == "completed" and single["metrics"]["top1"] > 25  # it learned (chance is 10)

    two = tmp_path / "two"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "ablate.cli", "train", *RUN, "--results-dir", str(two)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("completed:") == 1  # rank 1 trains silently
    [directory] = list(run_dirs(two))
    assert directory.name == one.directory.name  # the number of processes is not part of a run's identity

    # rank 0 alone wrote: one record, one metrics line per epoch, no temporary files left behind
    assert sorted(p.name for p in directory.path.iterdir()) == [".lock", RunDir.CHECKPOINT, "config.yaml", "metrics.jsonl",
                                                          "record.json", RunDir.STARTED]
    rows, single_rows = RunDir(directory).metrics(), RunDir(one.directory).metrics()
    assert [r["epoch"] for r in rows] == [0, 1]
    assert [r["images"] for r in rows] == [1024, 1024]  # both processes' halves counted
    assert [r["lr"] for r in rows] == pytest.approx([r["lr"] for r in single_rows], rel=1e-12)

    double = RunDir(directory).record()
    assert double["status"] == "completed"
    a, b = single["metrics"], double["metrics"]
    assert b["loss"] == pytest.approx(a["loss"], abs=1e-4)
    assert b["train_loss"] == pytest.approx(a["train_loss"], abs=1e-4)
    assert abs(b["top1"] - a["top1"]) <= ONE_IMAGE + 1e-9 and abs(b["top5"] - a["top5"]) <= ONE_IMAGE + 1e-9

    # checkpoints are the bare model's (no DDP "module." prefix) and the weights agree
    mine = load_checkpoint(RunDir(one.directory))["model"]
    theirs = load_checkpoint(directory)["model"]
    assert mine.keys() == theirs.keys()
    assert max((mine[k] - theirs[k]).abs().max().item() for k in mine) < 1e-3


def test_slices_partition_every_batch_in_order():
    batches = [(torch.arange(10.0).view(10, 1), torch.arange(10)), (torch.arange(3.0).view(3, 1), torch.arange(3))]
    parts = [list(_Slices(batches, World(rank, 3))) for rank in range(3)]
    for i, (images, labels) in enumerate(batches):
        got = [p[i] for p in parts if i < len(p)]
        assert torch.equal(torch.cat([g[1] for g in got]), labels)
        assert torch.equal(torch.cat([g[0] for g in got]), images)
    shards = [_Slices(batches, World(rank, 3)) for rank in range(3)]
    assert [sum(len(b[1]) for b in s) for s in shards] == [5, 4, 4]
    assert [s.samples for s in shards] == [5, 4, 4]


def test_world_of_one_is_the_identity():
    world = World()
    assert world.main and world.broadcast({"a": 1}) == {"a": 1} and world.sum([1.5, 2.0]) == [1.5, 2.0]


def test_a_non_finite_loss_stops_the_step_before_backward():
    class Step:
        global_step, called = 7, False

        def __call__(self, loss):
            self.called = True
            return loss.item()

    step = Step()
    assert AgreedStep(step, World())(torch.tensor(1.5)) == 1.5 and step.called
    step.called = False
    with pytest.raises(Diverged, match="1 of 1 processes at step 7"):
        AgreedStep(step, World())(torch.tensor(float("nan")))
    assert not step.called


def test_image_folder_loaders_shard_by_sampler():
    """DataLoader data (image folders): each process draws batch/N samples a step, the processes' samples
    are disjoint and together cover the epoch; the order follows torch's global RNG (re-seeded per
    epoch by the runner); validation gives each sample to exactly one process, with exact counts."""
    from torch.utils.data import DataLoader, TensorDataset

    from ablate.engine.distributed import shard_train, shard_val

    data = TensorDataset(torch.arange(40.0).view(40, 1), torch.arange(40))
    train = DataLoader(data, batch_size=8, shuffle=True, drop_last=True)

    def epoch(rank: int, seed: int) -> list[torch.Tensor]:
        torch.manual_seed(seed)
        return [labels for _, labels in shard_train(train, World(rank, 2), 8)]

    a, b = epoch(0, 1), epoch(1, 1)
    assert len(a) == len(b) == 5 and all(len(x) == 4 for x in a + b)
    assert sorted(torch.cat(a + b).tolist()) == list(range(40))
    assert torch.equal(torch.cat(epoch(0, 1)), torch.cat(a)) and not torch.equal(torch.cat(epoch(0, 2)), torch.cat(a))
    with pytest.raises(ValueError, match="divisible by the 3 processes"):
        shard_train(train, World(0, 3), 8)

    shards = [shard_val(DataLoader(data, batch_size=16), World(rank, 3)) for rank in range(3)]
    seen = [torch.cat([labels for _, labels in shard]).tolist() for shard in shards]
    assert sorted(sum(seen, [])) == list(range(40)) and [s.samples for s in shards] == [14, 13, 13]

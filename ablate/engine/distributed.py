"""Multi-process training with DistributedDataParallel: one process per GPU (nccl), or per CPU slot (gloo).

The processes come from torchrun (`torchrun --nproc_per_node N -m ablate.cli train ...`) or from the
tasks of a Slurm job started by submitit; both describe the world in the environment variables
RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT.

What makes N processes train the same model as one process:
- train.batch_size is the global batch. Every process draws the same data order and augmentation
  (same seeds) and keeps an equal slice of each global batch; DDP averages the gradients, which is
  the gradient of the whole batch. So the learning rate (scaled by train.batch_size) and the
  schedule are those of one process, and a run's identity does not depend on how many ran it.
- Evaluation is split across the processes and the per-sample sums are all-reduced.
- Only rank 0 holds the run lock and writes metrics, checkpoints and the record (ablate.engine.runner).
- A task that can train this way implements Task.distribute with these pieces (classification does).
"""
import math
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, Subset

from ablate.engine.optim import Diverged, Stepper


@dataclass(frozen=True)
class World:
    """This process's place among the processes of one run; the default is a world of one."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        """Rank 0: the process that writes for all."""
        return self.rank == 0

    def broadcast(self, value):
        """Rank 0's value, on every process (any picklable value)."""
        if self.size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0, device=self.device if self.device.type == "cuda" else None)
        return box[0]

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sums over all processes, in float64."""
        if self.size == 1:
            return list(values)
        total = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(total)
        return total.tolist()


def env_rank() -> int:
    """This process's rank as torchrun or submitit set it (0 outside a multi-process run)."""
    return int(os.environ.get("RANK", 0))


@contextmanager
def joined(device: torch.device) -> Iterator[World]:
    """Join the process group the environment describes, for the duration; without one, a world of one.

    On CUDA each process takes the GPU of its local rank (modulo the GPUs it can see: submitit may
    already have narrowed CUDA_VISIBLE_DEVICES to one).
    """
    size = int(os.environ.get("WORLD_SIZE", 1))
    if size == 1:
        yield World(device=device)
        return
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=env_rank(), world_size=size)
    try:
        yield World(env_rank(), size, local_rank, device)
    finally:
        dist.destroy_process_group()


class _Slices:
    """This process's slice of every batch of an in-memory batch iterable (all processes draw the same batches)."""

    def __init__(self, batches: Iterable, world: World):
        self.batches, self.world = batches, world
        self.samples = 0  # samples yielded by the last full pass

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self.samples = 0
        for images, labels in self.batches:
            images, labels = images.tensor_split(self.world.size)[self.world.rank], \
                labels.tensor_split(self.world.size)[self.world.rank]
            if len(labels):
                self.samples += len(labels)
                yield images, labels


class _EpochSampled:
    """A loader whose DistributedSampler is re-seeded from torch's global RNG at every pass.

    The runner re-seeds that RNG per epoch, so the order is the same on every process and replays on resume.
    """

    def __init__(self, loader: DataLoader):
        self.loader = loader

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator:
        self.loader.sampler.set_epoch(int(torch.randint(2**31 - 1, ())))
        return iter(self.loader)


class _Counted:
    """Counts the samples of each pass over a loader."""

    def __init__(self, loader: DataLoader):
        self.loader, self.samples = loader, 0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator:
        self.samples = 0
        for images, labels in self.loader:
            self.samples += len(labels)
            yield images, labels


def shard_train(batches: Iterable, world: World, batch_size: int) -> Iterable:
    """Training batches of this process: an equal slice of each global batch of batch_size."""
    if batch_size % world.size:
        raise ValueError(f"train.batch_size={batch_size} must be divisible by the {world.size} processes")
    if not isinstance(batches, DataLoader):
        return _Slices(batches, world)
    sampler = DistributedSampler(batches.dataset, world.size, world.rank, shuffle=True, drop_last=True)
    return _EpochSampled(DataLoader(batches.dataset, batch_size=batch_size // world.size, sampler=sampler,
                                    drop_last=True, num_workers=batches.num_workers,
                                    pin_memory=batches.pin_memory))


def shard_val(batches: Iterable, world: World) -> Iterable:
    """Validation batches of this process: every world.size-th sample, no padding, so sums are exact."""
    if not isinstance(batches, DataLoader):
        return _Slices(batches, world)
    subset = Subset(batches.dataset, range(world.rank, len(batches.dataset), world.size))
    return _Counted(DataLoader(subset, batch_size=batches.batch_size, num_workers=batches.num_workers,
                               pin_memory=batches.pin_memory))


class AgreedStep:
    """The stepper as one process sees it: when any process's loss is not finite, every process stops.

    Otherwise the process that stopped alone would leave the others waiting in DDP's all-reduce.
    """

    def __init__(self, step: Stepper, world: World):
        self.step, self.world = step, world

    def autocast(self):
        """The stepper's forward-pass precision context."""
        return self.step.autocast()

    def __call__(self, loss: torch.Tensor) -> float:
        """Step on loss after all processes agree that every loss is finite."""
        bad = self.world.sum([0.0 if math.isfinite(loss.item()) else 1.0])[0]
        if bad:
            raise Diverged(f"loss became non-finite in {int(bad)} of {self.world.size} processes "
                           f"at step {self.step.global_step}")
        return self.step(loss)

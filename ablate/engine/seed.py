"""Deterministic seeding: one seed per run, re-derived per epoch so a resumed run replays identically."""
import random

import numpy as np
import torch


def epoch_seed(seed: int, epoch: int) -> int:
    """A distinct 31-bit seed for each (run seed, epoch)."""
    return (seed * 1_000_003 + epoch * 7_919 + 17) % (2**31 - 1)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy (timm's mixup draws from it) and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)

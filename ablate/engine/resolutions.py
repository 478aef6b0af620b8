"""A trained classifier tested at other resolutions: each test size (eval.resolutions) under each mode
(eval.resolution_mode) and each way of reading positions (pe.positions), as ablate.protocol defines and names
them. The model takes the new grid (a learned absolute embedding resampled as timm does); the encodings know
the grid they were trained on, so the positions choice needs nothing from the checkpoint but the config.
"""
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from omegaconf import DictConfig

from ablate.data.build import build_crop_loader
from ablate.data.registry import DATASETS
from ablate.data.sizing import AtSize
from ablate.engine.distributed import World, shard_val
from ablate.engine.scoring import classifier_metrics, classifier_sums
from ablate.models.registry import MODELS
from ablate.pe.interface import reading_positions
from ablate.protocol import MODES, POSITIONS, Protocol, listed, metric_name


@dataclass
class ResolutionTests:
    """What the tests need besides the model: the modes and positions tested, the patch size, the fill, and
    where each mode's batches come from (the validation batches, or for crop the stored images)."""

    modes: list[str]
    positions: list[str]
    patch: int
    background: float | list[float] | str
    mean: list[float]
    std: list[float]
    crop_batches: Callable[[tuple[int, int]], Iterable]  # size -> crop-mode batches at that size

    def batches(self, val_set: Iterable, mode: str, size: tuple[int, int], world: World = World()) -> AtSize:
        """The test images of one mode at one size (this process's share), padded to whole patches."""
        source = val_set
        if mode == "crop":
            source = self.crop_batches(size)
            source = shard_val(source, world) if world.size > 1 else source
        return AtSize(source, mode, size, self.patch, self.background, self.mean, self.std)

    def run(self, model: torch.nn.Module, val_set: Iterable, sizes: list, device: torch.device,
            world: World = World()) -> dict[str, float]:
        """Top-1, top-5 and loss at each size under each protocol, named as ablate.protocol.metric_name does."""
        out = {}
        for mode in self.modes:
            for size in sizes:
                batches = self.batches(val_set, mode, (size, size) if isinstance(size, int) else tuple(size), world)
                for positions in self.positions:
                    with reading_positions(model, positions):
                        sums = world.sum(classifier_sums(model, batches, device))
                    out.update({metric_name(k, size, Protocol(mode, positions)): v
                                for k, v in classifier_metrics(sums).items()})
        return out


def build_tests(cfg: DictConfig, device: torch.device) -> ResolutionTests:
    """The tests a config asks for (checked at plan time by ablate.config.checks.check_tests)."""
    data = cfg.data
    background = data.background if data.background is not None else DATASETS[data.name].background
    positions = [POSITIONS[0]] if cfg.pe.positions is None else listed(cfg.pe.positions, "pe.positions", POSITIONS)
    return ResolutionTests(
        modes=listed(cfg.eval.resolution_mode, "eval.resolution_mode", MODES), positions=positions,
        patch=MODELS[cfg.model.name]["patch_size"], background=background, mean=list(data.mean), std=list(data.std),
        crop_batches=lambda size: build_crop_loader(data, cfg.eval, size, cfg.runtime.workers, cfg.seed, device))

"""Turn a classification data config and the training recipe into train/val batch iterables and a class count.

Every dataset module (ablate.data.registry) has build_split(data, split) -> Tensors | Encoded
(ablate.data.sets). Splits held in memory, and encoded splits small enough to decode once (ablate.data.cache),
go through TensorBatches, on the run's device; larger encoded splits stream through a DataLoader with runtime.workers processes.
Both paths apply the recipe's augmentation and the evaluation view of ablate.data.augment to every image.
"""
from collections.abc import Iterable
from importlib import import_module
from typing import NamedTuple

import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from ablate.data.augment import Augment, Normalize, eval_view
from ablate.data.cache import decoded, is_small
from ablate.data.options import image_size
from ablate.data.registry import DATASETS
from ablate.data.sets import Encoded, Tensors
from ablate.data.stream import EvalSamples, TrainSamples
from ablate.data.tensor_batches import TensorBatches

VIEW_CHUNK = 1024  # in-memory validation images resized at a time


class Loaders(NamedTuple):
    """What the classification task trains and evaluates on."""

    train: Iterable
    val: Iterable
    num_classes: int


def open_split(data: DictConfig, split: str, seed: int) -> Tensors | Encoded:
    """One split from its dataset module, cut to data.train_limit / data.val_limit: the images data.subset says
    (a sample drawn from the run's seed, or the same for every run)."""
    part = import_module(DATASETS[data.name].module).build_split(data, split)
    limit = data.train_limit if split == "train" else data.val_limit
    return part if limit is None else part.subset(limit, seed if data.subset == "seed" else None)


def in_memory(part: Tensors | Encoded, data: DictConfig, workers: int, crops: bool) -> Tensors | None:
    """The split as tensors: as loaded, or decoded once at img_size (cached) if small; None to stream it: a
    large encoded split, or one whose view crops (`crops`) while some of its images are not at img_size."""
    if isinstance(part, Tensors):
        return part
    size = image_size(data.img_size)
    if not is_small(len(part.samples), data.in_chans, size):
        return None
    tensors = decoded(part, data.in_chans, size, workers)
    return tensors if tensors.native or not crops else None


def build_augment(data: DictConfig, train: DictConfig, device: torch.device | str = "cpu") -> Augment:
    """The recipe's augmentation at data.img_size, for batches on `device`."""
    return Augment(image_size(data.img_size), train.crop, train.crop_scale, train.crop_padding, train.hflip,
                   train.randaug, train.reprob, data.mean, device)


def streamed_train_loader(part: Encoded, data: DictConfig, train: DictConfig, workers: int) -> DataLoader:
    """Training batches decoded from the files every epoch by `workers` processes, augmented per image."""
    return DataLoader(TrainSamples(part.samples, build_augment(data, train), Normalize(data.mean, data.std)),
                      batch_size=train.batch_size, shuffle=True, drop_last=True, num_workers=workers,
                      pin_memory=torch.cuda.is_available())


def build_train_loader(part: Tensors | Encoded, data: DictConfig, train: DictConfig, workers: int,
                       device: torch.device | str = "cpu") -> Iterable:
    """Shuffled, augmented training batches of a split (in memory: on `device`); order and augmentation follow
    torch's global RNG."""
    tensors = in_memory(part, data, workers, crops=train.crop == "rrc")
    if tensors is None:
        return streamed_train_loader(part, data, train, workers)
    return TensorBatches(tensors.images, tensors.labels, train.batch_size, data.mean, data.std, shuffle=True,
                         drop_last=True, augment=build_augment(data, train, device), device=device)


def build_val_loader(data: DictConfig, evaluation: DictConfig, workers: int, seed: int,
                     device: torch.device | str = "cpu") -> Iterable:
    """Validation batches in order, through the evaluation view: nothing cut away unless eval.crop_pct asks;
    an in-memory split lives on `device`."""
    part = open_split(data, "val", seed)
    view = eval_view(image_size(data.img_size), evaluation.crop_pct, evaluation.interpolation)
    tensors = in_memory(part, data, workers, crops=evaluation.crop_pct is not None)
    if tensors is not None:
        images = torch.cat([view(chunk) for chunk in tensors.images.split(VIEW_CHUNK)])
        return TensorBatches(images, tensors.labels, evaluation.batch_size, data.mean, data.std, device=device)
    return DataLoader(EvalSamples(part.samples, view, Normalize(data.mean, data.std)),
                      batch_size=evaluation.batch_size, num_workers=workers, pin_memory=torch.cuda.is_available())


def build_crop_loader(data: DictConfig, evaluation: DictConfig, size: tuple[int, int], workers: int, seed: int,
                      device: torch.device | str = "cpu") -> Iterable:
    """Validation batches for a crop-mode test at size (H, W) (ablate.protocol): each stored image's short side
    resized to size / eval.crop_pct (null: 1.0, RoPE-ViT's crop ratio) and the centre kept; never from the decode
    cache, which holds the images at img_size."""
    part = open_split(data, "val", seed)
    view = eval_view(size, evaluation.crop_pct or 1.0, evaluation.interpolation)
    if isinstance(part, Tensors):
        images = torch.cat([view(chunk) for chunk in part.images.split(VIEW_CHUNK)])
        return TensorBatches(images, part.labels, evaluation.batch_size, data.mean, data.std, device=device)
    return DataLoader(EvalSamples(part.samples, view, Normalize(data.mean, data.std)),
                      batch_size=evaluation.batch_size, num_workers=workers, pin_memory=torch.cuda.is_available())


def build_loaders(data: DictConfig, train: DictConfig, evaluation: DictConfig, workers: int, seed: int,
                  device: torch.device | str = "cpu") -> Loaders:
    """Train and val batches of the run with this seed (in-memory splits on `device`), and the class count
    (data.num_classes, or the train split's when unset)."""
    part = open_split(data, "train", seed)
    if data.num_classes is not None and data.num_classes != part.num_classes:
        raise ValueError(f"data.num_classes={data.num_classes} but the {data.name} train split at {data.root} has "
                         f"{part.num_classes} classes")
    return Loaders(build_train_loader(part, data, train, workers, device),
                   build_val_loader(data, evaluation, workers, seed, device), part.num_classes)

"""Turn a classification data config into train/val batch iterables."""
from collections.abc import Iterable

import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from ablate.data import digits, fashion_mnist, folder
from ablate.data.tensor_batches import BatchAugment, TensorBatches

IN_MEMORY = ("fashion_mnist", "digits")


def load_tensors(data: DictConfig, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """All images (N, C, H, W) uint8 and labels of an in-memory dataset split."""
    if data.name == "fashion_mnist":
        images, labels = fashion_mnist.load_fashion_mnist(data.root, split)
    else:
        images, labels = digits.load_digits_split(split)
    if split == "train" and data.train_limit is not None:
        images, labels = images[:data.train_limit], labels[:data.train_limit]
    if split == "val" and data.val_limit is not None:
        images, labels = images[:data.val_limit], labels[:data.val_limit]
    return images, labels


def build_train_loader(data: DictConfig, train: DictConfig, workers: int) -> Iterable:
    """Shuffled, augmented training batches; order and augmentation draw from torch's global RNG."""
    if data.name in IN_MEMORY:
        augment = BatchAugment(train.crop_padding, train.hflip, train.randaug, train.reprob, data.in_chans)
        return TensorBatches(*load_tensors(data, "train"), train.batch_size, data.mean, data.std,
                             shuffle=True, drop_last=True, augment=augment)
    transform = folder.train_transform(data.img_size, train.hflip, train.randaug, train.reprob, data.mean, data.std)
    return DataLoader(folder.image_folder(data.root, "train", transform), batch_size=train.batch_size,
                      shuffle=True, drop_last=True, num_workers=workers, pin_memory=torch.cuda.is_available())


def build_val_loader(data: DictConfig, evaluation: DictConfig, workers: int) -> Iterable:
    """Validation batches in order; image folders get the official centre-crop transform."""
    if data.name in IN_MEMORY:
        return TensorBatches(*load_tensors(data, "val"), evaluation.batch_size, data.mean, data.std)
    transform = folder.eval_transform(data.img_size, evaluation.crop_pct, evaluation.interpolation,
                                      data.mean, data.std)
    return DataLoader(folder.image_folder(data.root, "val", transform), batch_size=evaluation.batch_size,
                      num_workers=workers, pin_memory=torch.cuda.is_available())

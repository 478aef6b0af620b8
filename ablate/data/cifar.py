"""CIFAR-10 and CIFAR-100 in their standard python format from a local folder (data.root holding
cifar-10-batches-py/ or cifar-100-python/), read by torchvision (which checks each file's MD5) into memory."""
import torch
from omegaconf import DictConfig
from torchvision.datasets import CIFAR10, CIFAR100

from ablate.data.sets import Tensors

READERS = {"cifar10": CIFAR10, "cifar100": CIFAR100}  # CIFAR-100's labels: the 100 fine classes


def build_split(data: DictConfig, split: str) -> Tensors:
    """Images (N, 3, 32, 32) uint8 and labels of the train split or the test split (our val)."""
    dataset = READERS[data.name](str(data.root), train=split == "train", download=False)
    images = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).contiguous()
    return Tensors(images, torch.tensor(dataset.targets, dtype=torch.int64), len(dataset.classes))

"""Pretrain a DETR trunk for the composite set: classify single composite items, the proxy's ImageNet.

DETR starts from an ImageNet-pretrained ResNet with frozen batch norm and frozen stem. No such weights
exist offline, and a trunk trained from scratch inside DETR's short proxy schedule learns too little, so
the proxy pretrains its own: scenes of one Fashion-MNIST item on a photo crop, classified into the 10
item classes. Training scenes use Fashion-MNIST's train split; the held-out accuracy uses its test split.
"""
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import timm
import torch
import torch.nn.functional as F

from ablate.console import Refused
from ablate.data.detection.composite import compose_scene, load_backgrounds
from ablate.data.detection.composite_spec import CompositeSpec
from ablate.data.detection.transforms import IMAGENET_MEAN, IMAGENET_STD
from ablate.data.fashion_mnist import load_fashion_mnist
from ablate.data.registry import missing_fashion_mnist
from ablate.engine.resources import cpu_count
from ablate.models.detr.backbone import resnet_widths


def item_scenes(fashion_root: str | Path, split: str, count: int, size: int,
                seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """count normalised (3, size, size) scenes of one item each, and the item labels."""
    items, labels = load_fashion_mnist(fashion_root, split)
    items, labels = items[:, 0].numpy(), labels.numpy()
    # Items fill 60-100% of the scene, as the composite set's objects fill their boxes.
    spec = CompositeSpec(image_size=size, max_objects=1, min_object=max(1, size * 3 // 5), max_object=size)
    rng, photos = np.random.default_rng([seed, 7]), load_backgrounds()
    scenes, classes = [], []
    while len(scenes) < count:
        scene, objects = compose_scene(rng, photos, items, labels, spec)
        if objects:
            scenes.append(scene)
            classes.append(objects[0][0])
    x = torch.from_numpy(np.stack(scenes)).permute(0, 3, 1, 2).float().div(255)
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    return (x - mean) / std, torch.tensor(classes)


def pretrain_backbone(out: Path, backbone: str = "resnet18", width: int | None = 16, fashion_root: str | Path =
                      "/usr/share/datasets/fashion-mnist", images: int = 30000, epochs: int = 2, size: int = 32,
                      batch_size: int = 128, lr: float = 2e-3, seed: int = 0) -> dict[str, float]:
    """Train the classifier, write its state dict (timm keys) to out atomically; return accuracy and time."""
    missing = missing_fashion_mnist(fashion_root)
    if missing:
        raise ValueError(f"pretraining needs Fashion-MNIST: {missing[0]} is missing "
                         "(apt-get install dataset-fashion-mnist)")
    start = time.perf_counter()
    torch.manual_seed(seed)
    x, y = item_scenes(fashion_root, "train", images, size, seed)
    model = timm.create_model(backbone, pretrained=False, num_classes=10, **resnet_widths(width))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    steps = epochs * (images // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(images)
        for first in range(0, images - batch_size + 1, batch_size):
            index = order[first:first + batch_size]
            # Horizontal flips, as DETR's own augmentation flips the scenes.
            batch = torch.where(torch.rand(len(index), 1, 1, 1) < 0.5, x[index].flip(3), x[index])
            loss = F.cross_entropy(model(batch), y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    accuracy = held_out_accuracy(model, fashion_root, size, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    os.close(handle)
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, out)
    return {"top1": accuracy, "seconds": time.perf_counter() - start}


@torch.no_grad()
def held_out_accuracy(model: torch.nn.Module, fashion_root: str | Path, size: int, seed: int,
                      count: int = 2000) -> float:
    """Top-1 in percent on single-item scenes of Fashion-MNIST's test split."""
    x, y = item_scenes(fashion_root, "val", count, size, seed)
    model.eval()
    predictions = torch.cat([model(chunk).argmax(1) for chunk in x.split(500)])
    return (predictions == y).float().mean().item() * 100


def pretrain_command(out: Path, backbone: str, width: int, images: int, epochs: int, seed: int, force: bool) -> str:
    """What `ablate pretrain-backbone` does: check its options, pretrain, and say what it reached."""
    out = out.expanduser()
    if out.exists() and not force:
        raise Refused(f"{out} exists: pass --force to replace it")
    if not backbone.startswith("resnet"):
        raise Refused(f"--backbone {backbone!r} is not a timm ResNet (e.g. resnet18)")
    if width < 1 or epochs < 1 or images < 128:
        raise Refused("--width and --epochs must be >= 1 and --images >= 128 (one batch)")
    torch.set_num_threads(cpu_count())
    try:
        result = pretrain_backbone(out, backbone, width, images=images, epochs=epochs, seed=seed)
    except (ValueError, RuntimeError) as e:
        raise Refused(str(e)) from None
    return f"{out}: {backbone} width {width}, held-out top-1 {result['top1']:.2f} ({result['seconds']:.0f} s)"

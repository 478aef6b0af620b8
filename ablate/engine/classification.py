"""Image classification: a DeiT on a classification dataset, cross-entropy (soft targets under mixup), top-1/top-5."""
import time

import torch
from omegaconf import DictConfig
from timm.data import Mixup
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy

from ablate.data.build import build_train_loader, build_val_loader, check_data
from ablate.engine.model import build_model, check_model
from ablate.engine.optim import Stepper
from ablate.engine.task import Task


def check(cfg: DictConfig) -> None:
    """Model name, RPE combination and dataset files."""
    check_model(cfg.model, cfg.rpe)
    check_data(cfg.data)
    if (cfg.train.mixup > 0 or cfg.train.cutmix > 0) and cfg.train.batch_size % 2:
        raise ValueError(f"mixup/cutmix need an even train.batch_size (got {cfg.train.batch_size})")


def build(cfg: DictConfig, device: torch.device) -> "ClassificationTask":
    """Model, loaders and losses from the config."""
    data, train = cfg.data, cfg.train
    model = build_model(cfg.model, cfg.rpe, data.num_classes, data.in_chans, data.img_size, train.drop_path)
    train_set = build_train_loader(data, train, cfg.runtime.workers)
    val_set = build_val_loader(data, cfg.eval, cfg.runtime.workers)
    mixup = None
    if train.mixup > 0 or train.cutmix > 0:
        mixup = Mixup(mixup_alpha=train.mixup, cutmix_alpha=train.cutmix, label_smoothing=train.smoothing,
                      num_classes=data.num_classes)
    return ClassificationTask(model.to(device), train_set, val_set, mixup, train.smoothing, device,
                              (data.in_chans, data.img_size, data.img_size))


@torch.no_grad()
def evaluate_classifier(model: torch.nn.Module, batches, device: torch.device) -> dict[str, float]:
    """Top-1, top-5 (%) and mean cross-entropy over all batches, in full precision."""
    model.eval()
    correct1 = correct5 = 0
    loss_sum, n = 0.0, 0
    for images, labels in batches:
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        logits = model(images).float()
        loss_sum += torch.nn.functional.cross_entropy(logits, labels, reduction="sum").item()
        top = logits.topk(min(5, logits.shape[1]), dim=1).indices
        hits = top == labels[:, None]
        correct1 += hits[:, 0].sum().item()
        correct5 += hits.any(dim=1).sum().item()
        n += len(labels)
    return {"top1": 100.0 * correct1 / n, "top5": 100.0 * correct5 / n, "loss": loss_sum / n}


class ClassificationTask(Task):
    """Trains with label smoothing or mixup/cutmix soft targets; evaluates top-1/top-5 and loss."""

    def __init__(self, model: torch.nn.Module, train_set, val_set, mixup: Mixup | None, smoothing: float,
                 device: torch.device, input_shape: tuple[int, ...]):
        self.model, self.train_set, self.val_set, self.mixup = model, train_set, val_set, mixup
        self.train_model = model  # what training calls: the DDP wrapper in multi-process runs (engine.distributed)
        self.device, self.input_shape = device, input_shape
        if mixup is not None:
            self.criterion = SoftTargetCrossEntropy()
        elif smoothing > 0:
            self.criterion = LabelSmoothingCrossEntropy(smoothing)
        else:
            self.criterion = torch.nn.CrossEntropyLoss()
        self.steps_per_epoch = len(train_set)

    def train_epoch(self, epoch: int, step: Stepper) -> dict[str, float]:
        """One pass over the training set."""
        self.model.train()
        loss_sum, images_seen, start = 0.0, 0, time.perf_counter()
        for images, labels in self.train_set:
            images, labels = images.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)
            if self.mixup is not None:
                images, labels = self.mixup(images, labels)
            with step.autocast():
                loss = self.criterion(self.train_model(images), labels)
            loss_sum += step(loss) * len(images)
            images_seen += len(images)
        seconds = time.perf_counter() - start
        return {"train_loss": loss_sum / images_seen, "images": images_seen, "train_time_s": seconds}

    def evaluate(self) -> dict[str, float]:
        """Top-1, top-5 and loss on the validation split."""
        return evaluate_classifier(self.model, self.val_set, self.device)

"""Image classification: a DeiT on a classification dataset, cross-entropy (soft targets under mixup), top-1/top-5."""
import time

import torch
from omegaconf import DictConfig
from timm.data import Mixup
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy
from torch.nn.parallel import DistributedDataParallel

from ablate.data.build import build_loaders
from ablate.data.options import image_size
from ablate.engine.distributed import AgreedStep, World, shard_train, shard_val
from ablate.engine.model import build_model
from ablate.engine.optim import Stepper
from ablate.engine.resolutions import ResolutionTests, build_tests
from ablate.engine.scoring import classifier_metrics, classifier_sums
from ablate.engine.task import Task


def build(cfg: DictConfig, device: torch.device) -> "ClassificationTask":
    """Loaders, model (for data.img_size, one number or [H, W], and the data's class count) and losses."""
    data, train = cfg.data, cfg.train
    loaders = build_loaders(data, train, cfg.eval, cfg.runtime.workers, cfg.seed, device)
    size = image_size(data.img_size)
    model = build_model(cfg.model, cfg.pe, cfg.rpe, loaders.num_classes, data.in_chans, size, train.drop_path)
    mixup = None
    if train.mixup > 0 or train.cutmix > 0:
        mixup = Mixup(mixup_alpha=train.mixup, cutmix_alpha=train.cutmix, label_smoothing=train.smoothing,
                      num_classes=loaders.num_classes)
    return ClassificationTask(model.to(device), loaders.train, loaders.val, mixup, train.smoothing, device,
                              (data.in_chans, *size), build_tests(cfg, device))


class ClassificationTask(Task):
    """Trains with label smoothing or mixup/cutmix soft targets; evaluates top-1/top-5 and loss."""

    def __init__(self, model: torch.nn.Module, train_set, val_set, mixup: Mixup | None, smoothing: float,
                 device: torch.device, input_shape: tuple[int, ...], tests: ResolutionTests):
        self.model, self.train_set, self.val_set, self.mixup = model, train_set, val_set, mixup
        self.tests = tests
        self.train_model = model  # what training calls: the DDP wrapper once distributed
        self.world = World(device=device)
        self.device, self.input_shape = device, input_shape
        if mixup is not None:
            self.criterion = SoftTargetCrossEntropy()
        elif smoothing > 0:
            self.criterion = LabelSmoothingCrossEntropy(smoothing)
        else:
            self.criterion = torch.nn.CrossEntropyLoss()
        self.steps_per_epoch = len(train_set)

    def distribute(self, world: World, batch_size: int) -> None:
        """Train as one of world's processes: an equal slice of every global batch, gradients averaged by DDP,
        evaluation split and summed. State dicts, parameter groups and evaluation keep the bare model, so
        checkpoints are the same as one process's."""
        self.world = world
        self.train_set = shard_train(self.train_set, world, batch_size)
        self.val_set = shard_val(self.val_set, world)
        ids = [world.device] if world.device.type == "cuda" else None
        self.train_model = DistributedDataParallel(self.model, device_ids=ids)

    def train_epoch(self, epoch: int, step: Stepper) -> dict[str, float]:
        """One pass over the training set (this process's share); loss and images over all processes."""
        self.model.train()
        step = AgreedStep(step, self.world) if self.world.size > 1 else step
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
        loss_sum, images_seen = self.world.sum([loss_sum, images_seen])
        return {"train_loss": loss_sum / images_seen, "images": int(images_seen), "train_time_s": seconds}

    def evaluate(self) -> dict[str, float]:
        """Top-1, top-5 and loss on the validation split (over every process's share)."""
        return classifier_metrics(self.world.sum(classifier_sums(self.model, self.val_set, self.device)))

    def evaluate_at(self, sizes: list) -> dict[str, float]:
        """Top-1, top-5 and loss at each test size (an int or [H, W]) under each protocol the config asks for
        (ablate.engine.resolutions): top1@42, top1@56/canvas, top1@28x36/interpolate, ..."""
        return self.tests.run(self.model, self.val_set, sizes, self.device, self.world)

"""AdamW with the DeiT recipe: batch-scaled lr, warm-up then cosine per step, no-decay groups, AMP, clipping."""
import contextlib
import math
from collections.abc import Callable

import torch

RPE_TABLES = ("lookup_table_weight", "lookup_table_bias")


class Diverged(RuntimeError):
    """The training loss became NaN or infinite."""


def scaled_lr(base_lr: float, batch_size: int) -> float:
    """The DeiT rule: lr = base_lr * batch / 512."""
    return base_lr * batch_size / 512


def param_groups(model: torch.nn.Module, weight_decay: float, decay_rpe: bool, decay_all: bool = False) -> list[dict]:
    """Decay weights; not biases, norms, position embeddings, tokens; RPE tables as chosen (all: DETR's way)."""
    if decay_all:
        return [{"params": [p for p in model.parameters() if p.requires_grad], "weight_decay": weight_decay}]
    skip = set(model.no_weight_decay()) if hasattr(model, "no_weight_decay") else set()
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if name.endswith(RPE_TABLES):
            (decay if decay_rpe else no_decay).append(p)
        elif p.ndim <= 1 or name in skip or name.split(".")[-1] in skip:
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_at(step: int, total: int, warmup: int, lr: float, min_lr: float, warmup_lr: float,
          drop: int | None = None) -> float:
    """Linear warm-up from warmup_lr to lr, then cosine from lr to min_lr at the last step; or, with a drop
    step (DETR's schedule), lr held constant and divided by 10 from that step on."""
    if step < warmup:
        return warmup_lr + (lr - warmup_lr) * step / warmup
    if drop is not None:
        return lr if step < drop else lr / 10
    t = (step - warmup) / max(1, total - warmup)
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * min(1.0, t)))


class Stepper:
    """One optimisation step per call: divergence check, (scaled) backward, clip, AdamW step, lr schedule."""

    def __init__(self, optimizer: torch.optim.Optimizer, params: list[torch.nn.Parameter], device: torch.device,
                 amp: bool, clip_grad: float | None, total_steps: int, warmup_steps: int, lr: float,
                 min_lr: float, warmup_lr: float, drop_step: int | None = None):
        self.optimizer, self.params, self.clip_grad = optimizer, params, clip_grad
        self.schedule = dict(total=total_steps, warmup=warmup_steps, lr=lr, min_lr=min_lr, warmup_lr=warmup_lr,
                             drop=drop_step)
        self.device_type = device.type
        # Mixed precision only on CUDA: bf16 where supported (no scaler needed), else fp16 with a scaler.
        self.amp_dtype = None
        if amp and device.type == "cuda":
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler(enabled=self.amp_dtype == torch.float16)
        self.global_step = 0
        self.on_step: Callable[[int], None] | None = None  # called with the step count after each step
        self._set_lr()

    def autocast(self) -> contextlib.AbstractContextManager:
        """The forward-pass precision context."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.amp_dtype)

    @property
    def lr(self) -> float:
        """The current learning rate."""
        return lr_at(self.global_step, **self.schedule)

    def _set_lr(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr * group.get("lr_scale", 1.0)

    def __call__(self, loss: torch.Tensor) -> float:
        """Backward and step on loss; raises Diverged if it is not finite."""
        value = loss.item()
        if not math.isfinite(value):
            raise Diverged(f"loss became {value} at step {self.global_step}")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.clip_grad:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.params, self.clip_grad)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.global_step += 1
        self._set_lr()
        if self.on_step is not None:
            self.on_step(self.global_step)
        return value

    def state_dict(self) -> dict:
        """Optimiser, scaler and step, for checkpoints."""
        return {"optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict(),
                "global_step": self.global_step}

    def load_state_dict(self, state: dict) -> None:
        """Restore from a checkpoint."""
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.global_step = state["global_step"]
        self._set_lr()


def build_stepper(task_params: list[dict], device: torch.device, train, steps_per_epoch: int) -> Stepper:
    """AdamW over the task's parameter groups, scheduled per step by the train config."""
    lr = scaled_lr(train.base_lr, train.batch_size)
    optimizer = torch.optim.AdamW(task_params, lr=lr, betas=(0.9, 0.999), eps=1e-8)
    params = [p for group in task_params for p in group["params"]]
    drop = None if train.lr_drop is None else train.lr_drop * steps_per_epoch
    return Stepper(optimizer, params, device, train.amp, train.clip_grad, train.epochs * steps_per_epoch,
                   round(train.warmup_epochs * steps_per_epoch), lr, train.min_lr, train.warmup_lr, drop)

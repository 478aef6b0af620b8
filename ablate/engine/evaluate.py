"""What `ablate eval` does: evaluate a checkpoint (the authors' .pth or ours) on a config's data, one line out."""
from pathlib import Path

import torch

from ablate.config.compose import Composer
from ablate.console import Refused


def evaluate(checkpoint: Path, overrides: list[str]) -> str:
    """The checkpoint's top-1/top-5 (classification) or COCO AP (DETR) on the config's validation data."""
    from ablate.config.checks import rpe_config
    from ablate.data.build import build_val_loader, open_split
    from ablate.data.registry import check_dataset
    from ablate.engine.scoring import evaluate_classifier
    from ablate.engine.model import build_model
    from ablate.engine.pretrained import checkpoint_state, load_into
    from ablate.engine.resources import cpu_count
    from ablate.engine.runner import pick_device
    from ablate.models.registry import check_model_name

    try:
        with Composer() as composer:
            cfg = composer.config(overrides)
        torch.set_num_threads(cfg.runtime.threads or cpu_count())
        if cfg.task == "detection":
            from ablate.engine.detection import evaluate_checkpoint

            metrics = evaluate_checkpoint(cfg, checkpoint, pick_device(cfg.runtime.device))
            return f"{checkpoint}  DETR  {cfg.data.name}:  " + "  ".join(f"{k} {v:.1f}" for k, v in metrics.items())
        check_model_name(cfg.model.name)
        rpe_config(cfg.rpe)
        check_dataset(cfg.data, "classification", splits=("val",))
        num_classes = cfg.data.num_classes or open_split(cfg.data, "val").num_classes
        model = build_model(cfg.model, cfg.pe, cfg.rpe, num_classes, cfg.data.in_chans, cfg.data.img_size, 0.0)
        load_into(model, checkpoint_state(checkpoint), checkpoint)
    except ValueError as e:
        raise Refused(str(e)) from None
    device = pick_device(cfg.runtime.device)
    result = evaluate_classifier(model.to(device), build_val_loader(cfg.data, cfg.eval, cfg.runtime.workers), device)
    return (f"{checkpoint}  {cfg.model.name}  {cfg.data.name}:  top1 {result['top1']:.2f}  "
            f"top5 {result['top5']:.2f}  loss {result['loss']:.4f}")

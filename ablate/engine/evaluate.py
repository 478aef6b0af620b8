"""What `ablate eval` does: evaluate a checkpoint (the authors' .pth or ours) on a config's data, one line out;
with eval.resolutions, also at other test sizes under each protocol asked for (ablate.protocol)."""
from pathlib import Path

import torch

from ablate.config.compose import Composer
from ablate.console import Refused


def evaluate(checkpoint: Path, overrides: list[str]) -> str:
    """The checkpoint's top-1/top-5 (classification) or COCO AP (DETR) on the config's validation data, and
    top-1 at each test size and protocol the config asks for."""
    from ablate.config.checks import check_device_name, check_tests, rpe_config
    from ablate.data.build import build_val_loader, open_split
    from ablate.data.options import image_size
    from ablate.data.registry import check_dataset
    from ablate.engine.scoring import evaluate_classifier
    from ablate.engine.model import build_model
    from ablate.engine.resolutions import build_tests
    from ablate.engine.resources import check_device_present, cpu_count
    from ablate.engine.runner import pick_device
    from ablate.models.registry import check_model_name
    from ablate.models.weights import checkpoint_state, load_into, read_checkpoint

    try:
        with Composer() as composer:
            cfg = composer.config(overrides)
        check_device_name(cfg.runtime.device)
        check_device_present(cfg.runtime.device)
        torch.set_num_threads(cfg.runtime.threads or cpu_count())
        if cfg.task == "detection":
            from ablate.engine.detection import evaluate_checkpoint

            metrics = evaluate_checkpoint(cfg, checkpoint, pick_device(cfg.runtime.device))
            return f"{checkpoint}  DETR  {cfg.data.name}:  " + "  ".join(f"{k} {v:.1f}" for k, v in metrics.items())
        check_model_name(cfg.model.name)
        rpe_config(cfg.rpe)
        check_dataset(cfg.data, "classification", splits=("val",))
        check_tests(cfg)
        num_classes = cfg.data.num_classes or open_split(cfg.data, "val", cfg.seed).num_classes
        model = build_model(cfg.model, cfg.pe, cfg.rpe, num_classes, cfg.data.in_chans, cfg.data.img_size, 0.0)
        blob = read_checkpoint(checkpoint)
        trained = blob.get("input_shape")  # ours: the size it was trained at, the grid its encodings know
        if trained is not None and list(trained[1:]) != list(image_size(cfg.data.img_size)):
            raise ValueError(f"{checkpoint} was trained on {trained[1]}x{trained[2]} images, not data.img_size="
                             f"{cfg.data.img_size}: build it at data.img_size=[{trained[1]},{trained[2]}] and test "
                             "other sizes with eval.resolutions")
        load_into(model, checkpoint_state(checkpoint, blob), checkpoint)
    except ValueError as e:
        raise Refused(str(e)) from None
    device = pick_device(cfg.runtime.device)
    model = model.to(device)
    val = build_val_loader(cfg.data, cfg.eval, cfg.runtime.workers, cfg.seed)
    result = evaluate_classifier(model, val, device)
    tested = build_tests(cfg, device).run(model, val, list(cfg.eval.resolutions), device)
    return (f"{checkpoint}  {cfg.model.name}  {cfg.data.name}:  top1 {result['top1']:.2f}  "
            f"top5 {result['top5']:.2f}  loss {result['loss']:.4f}"
            + "".join(f"  {name} {value:.2f}" for name, value in tested.items() if name.startswith("top1@")))

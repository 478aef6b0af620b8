"""Checkpoints of our models: the authors' .pth (weights under "model") or ours, loaded strictly, whether by
`ablate eval` (load_into) or by timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=PATH))
(checkpoint_filter, timm's pretrained_filter_fn). A checkpoint that does not fit is refused with one line naming
the first missing, unexpected and mis-shaped keys.
"""
from pathlib import Path

import torch
from torch import Tensor, nn

SHOW = 5  # how many keys of each kind a mismatch message names


def _unwrap(blob: object, source: object) -> dict[str, Tensor]:
    """The state dict in a checkpoint: under "model" (authors' and ours) or the checkpoint itself."""
    state = blob.get("model", blob) if isinstance(blob, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"{source} holds no state dict (expected a dict of tensors, or one under 'model')")
    return {k.removeprefix("module."): v for k, v in state.items()}


def read_checkpoint(path: Path) -> dict:
    """A checkpoint file's content: ours (model, input_shape, optimiser, ...), the authors' (model), or a bare
    state dict."""
    if not Path(path).is_file():
        raise ValueError(f"checkpoint not found: {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # any unpickling problem means: not a checkpoint we can read
        raise ValueError(f"cannot read checkpoint {path}: {type(e).__name__}: {e}") from None
    if not isinstance(blob, dict):
        raise ValueError(f"{path} holds no state dict (expected a dict of tensors, or one under 'model')")
    return blob


def checkpoint_state(path: Path, blob: dict | None = None) -> dict[str, Tensor]:
    """The state dict inside a checkpoint file (or its content, already read): under "model" or the file itself."""
    return _unwrap(read_checkpoint(path) if blob is None else blob, path)


def _names(keys: list[str]) -> str:
    more = f" (+{len(keys) - SHOW} more)" if len(keys) > SHOW else ""
    return ", ".join(keys[:SHOW]) + more


def check_fits(own: dict[str, Tensor], state: dict[str, Tensor], source: object,
               adapted: tuple[str, ...] = ()) -> None:
    """ValueError naming the missing, unexpected and mis-shaped keys of state against a model's own state dict;
    `adapted` keys may differ in shape (timm adapts them after loading)."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}" for k in own
              if k in state and k not in adapted and state[k].shape != own[k].shape]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)}: {_names(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)}: {_names(unexpected)}")
    if shapes:
        problems.append(f"shape mismatch {len(shapes)}: {_names(shapes)}")
    if problems:
        raise ValueError(f"checkpoint {source} does not fit the model: " + "; ".join(problems))


def load_into(model: nn.Module, state: dict[str, Tensor], path: Path) -> None:
    """Load state into model; ValueError naming missing, unexpected and mis-shaped keys if it does not fit."""
    check_fits(model.state_dict(), state, path)
    model.load_state_dict(state)


def checkpoint_filter(state_dict: dict, model: nn.Module) -> dict[str, Tensor]:
    """timm's pretrained_filter_fn for our models: the authors' layout as the model's keys, refused like
    load_into if it does not fit, except where timm then adapts it to the model (a classifier for another
    num_classes is dropped, a first conv for other in_chans converted)."""
    cfg = model.pretrained_cfg
    state = _unwrap(state_dict, cfg.get("file") or "state_dict")
    adapted = ()
    if model.num_classes != cfg["num_classes"]:
        adapted += (f"{cfg['classifier']}.weight", f"{cfg['classifier']}.bias")
    if model.in_chans != cfg["input_size"][0]:
        adapted += (f"{cfg['first_conv']}.weight",)
    check_fits(model.state_dict(), state, cfg.get("file") or "state_dict", adapted)
    return state

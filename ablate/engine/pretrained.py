"""Load a classification checkpoint (the authors' .pth with a "model" key, or ours) into a model, strictly."""
from pathlib import Path

import torch

SHOW = 5  # how many keys of each kind a mismatch message names


def read_checkpoint(path: Path) -> dict:
    """A checkpoint file's content: a dict (ours: model, stepper, history, input_shape, ...; the authors':
    model), or a bare state dict."""
    if not Path(path).is_file():
        raise ValueError(f"checkpoint not found: {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # any unpickling problem means: not a checkpoint we can read
        raise ValueError(f"cannot read checkpoint {path}: {type(e).__name__}: {e}") from None
    if not isinstance(blob, dict):
        raise ValueError(f"{path} holds no state dict (expected a dict of tensors, or one under 'model')")
    return blob


def state_of(blob: dict, path: Path) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint's content: under "model" (authors' and ours) or the content itself."""
    state = blob.get("model", blob)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} holds no state dict (expected a dict of tensors, or one under 'model')")
    return {k.removeprefix("module."): v for k, v in state.items()}


def checkpoint_state(path: Path) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint file: under "model" (authors' and ours) or the file itself."""
    return state_of(read_checkpoint(path), path)


def _names(keys: list[str]) -> str:
    more = f" (+{len(keys) - SHOW} more)" if len(keys) > SHOW else ""
    return ", ".join(keys[:SHOW]) + more


def load_into(model: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Load state into model; ValueError naming missing, unexpected and mis-shaped keys if it does not fit."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}" for k in own
              if k in state and state[k].shape != own[k].shape]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)}: {_names(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)}: {_names(unexpected)}")
    if shapes:
        problems.append(f"shape mismatch {len(shapes)}: {_names(shapes)}")
    if problems:
        raise ValueError(f"checkpoint {path} does not fit the model: " + "; ".join(problems))
    model.load_state_dict(state)

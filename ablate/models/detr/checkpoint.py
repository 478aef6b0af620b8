"""Load DETR weights from the authors' checkpoint files (weights under the "model" key)."""
import argparse
from pathlib import Path

import torch
from torch import nn


def load_detr_checkpoint(model: nn.Module, path: str | Path) -> None:
    """Strictly load a .pth file holding {"model": state_dict} (or a bare state dict) into `model`."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    # The authors' files also store their argparse namespace; allow that one type, nothing else.
    with torch.serialization.safe_globals([argparse.Namespace]):
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {path} holds no state dict (expected a dict with a 'model' key)")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
             if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or unexpected or wrong:
        raise ValueError(f"checkpoint {path} does not match the model (check model and rpe settings): "
                         f"missing {missing[:4]} ({len(missing)}), unexpected {unexpected[:4]} "
                         f"({len(unexpected)}), wrong shapes {wrong[:4]} ({len(wrong)})")
    model.load_state_dict(state, strict=True)

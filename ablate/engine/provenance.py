"""Where a result came from: code version, package versions, device."""
import importlib.metadata
import platform
import subprocess
from pathlib import Path

import torch

PACKAGES = ("ablate", "torch", "torchvision", "timm", "hydra-core", "omegaconf", "numpy")


def git_commit() -> str | None:
    """The commit of the ablate checkout (with -dirty if it has changes), None outside git."""
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=40"], cwd=root,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def device_name(device: torch.device) -> str:
    """A human name for the device, e.g. 'NVIDIA H100 80GB HBM3' or 'cpu (x86_64, 16 threads)'."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)"


def provenance(device: torch.device) -> dict:
    """Git commit, package versions, device, host and Python version."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {"git_commit": git_commit(), "packages": versions, "python": platform.python_version(),
            "device": device_name(device), "host": platform.node()}

"""Where a result came from: code version, package versions, device, host. Torch-free: the caller names the device."""
import importlib.metadata
import platform
import subprocess
from pathlib import Path

PACKAGES = ("ablate", "torch", "torchvision", "timm", "triton", "hydra-core", "omegaconf", "numpy")


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


def provenance(device: str | None) -> dict:
    """Git commit, package versions, device (None where no run started), host and Python version."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {"git_commit": git_commit(), "packages": versions, "python": platform.python_version(),
            "device": device, "host": platform.node()}

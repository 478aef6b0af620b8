"""What this machine offers a run (torch-free, so launchers can size their workers before anything loads)."""
import os
from pathlib import Path

NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")  # one entry per GPU the NVIDIA driver sees
PLACED = ("auto", "cuda")  # runtime.device values that let a launcher choose the GPU (cuda:N names one)


def cpu_count() -> int:
    """Cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def gpu_ids() -> list[str]:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES names them (indices or UUIDs); [] without one."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [v.strip() for v in visible.split(",") if v.strip()]
        return [] if not ids or ids[0].startswith("-") else ids
    return [str(i) for i in range(len(list(NVIDIA_GPUS.iterdir())))] if NVIDIA_GPUS.is_dir() else []



def check_device_present(device: str, key: str = "runtime.device") -> None:
    """ValueError (one line) when a device (runtime.device, or the option `key`) is a CUDA GPU this machine lacks."""
    if not device.startswith("cuda"):
        return
    gpus = gpu_ids()
    index = int(device.partition(":")[2] or 0)
    if not gpus:
        raise ValueError(f"{key}={device} but this machine has no CUDA GPU: use {key}=cpu (or auto, which takes a "
                         "GPU when there is one)")
    if index >= len(gpus):
        raise ValueError(f"{key}={device} but this machine has {len(gpus)} GPU{'s' if len(gpus) > 1 else ''} "
                         f"(cuda:0{f' to cuda:{len(gpus) - 1}' if len(gpus) > 1 else ''})")

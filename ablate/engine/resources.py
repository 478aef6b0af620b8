"""What this machine offers a run (torch-free, so launchers can size their workers before anything loads)."""
import math
import os
from pathlib import Path

NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")  # one entry per GPU the NVIDIA driver sees
# A container's CPU quota, as its own cgroup root shows it: cgroup v2's "QUOTA PERIOD" (or "max PERIOD"), or v1's
# quota (-1: none) and period in two files.
CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1 = (Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))
PLACED = ("auto", "cuda")  # runtime.device values that let a launcher choose the GPU (cuda:N names one)


def cpu_count() -> int:
    """Cores this process may use: those it may run on (affinity), at most its cgroup's CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = cpu_quota()
    return cores if quota is None else max(1, min(cores, quota))


def cpu_quota() -> int | None:
    """The cgroup's CPU quota in whole cores (a part-core rounded up: the last thread still gets that much);
    None without one."""
    try:
        if CGROUP_V2.is_file():
            quota, period = CGROUP_V2.read_text().split()[:2]
        elif CGROUP_V1[0].is_file():
            quota, period = (f.read_text().strip() for f in CGROUP_V1)
        else:
            return None
        if quota in ("max", "-1"):
            return None
        return math.ceil(int(quota) / int(period))
    except (OSError, ValueError):  # unreadable or malformed: no limit this process can know of
        return None


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

"""What this machine offers a run (torch-free, so launchers can size their workers before anything loads)."""
import os


def cpu_count() -> int:
    """Cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

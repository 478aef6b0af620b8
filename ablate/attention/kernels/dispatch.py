"""Which copy of the Triton kernels runs: compiled ones for CUDA tensors, interpreted ones for CPU tensors.

Triton decides between compiling and interpreting when @triton.jit runs (it reads TRITON_INTERPRET then),
not when a kernel launches, and a kernel calls the helper functions its module bound at import. So the
kernel modules (tiles, forward, backward, dropout: @triton.jit code only, importing each other relatively)
are loaded twice:
- as ablate.attention.kernels.forward etc., decorated the ordinary way: the compiled copy, used for CUDA tensors
  (forward and backward behind Triton's autotuner, see tuning.py);
- on the first CPU launch, as ablate.attention.kernels._interpreted.forward etc., from the same files, with
  triton.knobs.runtime.interpret switched on (in a knobs scope, restored at once) while they import: the
  interpreted copy, used for CPU tensors.
The choice is made per launch from the device of the tensors, so it depends neither on import order nor on
the environment: CPU tensors always run through the interpreter, and CUDA tensors through compiled kernels
unless the user set TRITON_INTERPRET=1 before the import (then the ordinary copy interprets too).
"""
import importlib
import sys
import threading
import types
from pathlib import Path

import torch
import triton
from triton.runtime import Autotuner
from triton.runtime.interpreter import InterpretedFunction

from . import backward, dropout, forward
from .tuning import KEYS, autotuned, describe

KERNELS = {
    "forward": ("forward", "attention_forward"),
    "backward_q": ("backward", "attention_backward_q"),
    "backward_kv": ("backward", "attention_backward_kv"),
    "keep_mask": ("dropout", "dropout_keep_mask"),
}
INTERPRETED_PACKAGE = __package__ + "._interpreted"

_compiled = {name: getattr(globals()[module], fn) for name, (module, fn) in KERNELS.items()}
if not triton.knobs.runtime.interpret:  # TRITON_INTERPRET=1: the ordinary copy is interpreted, nothing to tune
    _compiled.update({name: autotuned(name, _compiled[name]) for name in KEYS})
_interpreted: dict | None = None
_lock = threading.Lock()


def _load_interpreted() -> dict:
    package = types.ModuleType(INTERPRETED_PACKAGE)
    package.__path__ = [str(Path(__file__).parent)]
    sys.modules[INTERPRETED_PACKAGE] = package
    try:
        with triton.knobs.runtime.scope():
            triton.knobs.runtime.interpret = True
            modules = {m: importlib.import_module(f"{INTERPRETED_PACKAGE}.{m}") for m, _ in KERNELS.values()}
    except BaseException:
        for name in [n for n in sys.modules if n == INTERPRETED_PACKAGE or n.startswith(INTERPRETED_PACKAGE + ".")]:
            del sys.modules[name]
        raise
    return {name: getattr(modules[module], fn) for name, (module, fn) in KERNELS.items()}


def kernel(name: str, device: torch.device):
    """The kernel `name` (a key of KERNELS) that runs on tensors of `device`."""
    global _interpreted
    if device.type == "cuda":
        return _compiled[name]
    if device.type != "cpu":
        raise ValueError(f"fused_attention runs on CUDA tensors or, through Triton's interpreter, on CPU ones; "
                         f"got {device.type}")
    with _lock:
        if _interpreted is None:
            _interpreted = _load_interpreted()
    return _interpreted[name]


def interpreted(fn) -> bool:
    """Whether the kernel fn (from `kernel`) runs through Triton's interpreter."""
    return isinstance(fn, InterpretedFunction)


def tuned(fn) -> bool:
    """Whether the kernel fn (from `kernel`) chooses its own tiles (the autotuner of tuning.py)."""
    return isinstance(fn, Autotuner)


def chosen_tiles() -> dict[tuple, str]:
    """Every tile the autotuner has chosen in this process: (kernel, its key) -> config, e.g. 64x64/w4/s2."""
    return {(name, key): describe(config) for name, fn in _compiled.items() if tuned(fn)
            for key, config in fn.cache.items()}

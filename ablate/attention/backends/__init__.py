"""Attention backends: each executes attention with the terms of ablate.pe.terms, and all give the same
result (tests/test_rpe_backends.py holds every one to the eager reference, outputs and gradients).

A backend is a module with

    attention(q, k, v, logits, values, key_padding_mask, dropout_p, scale) -> Tensor

taking unscaled (B, heads, L, head_dim) q, k, v, BucketLogits and BucketValues terms, a (B, L) key mask
(True = ignore) and the attention-dropout probability, and one `BACKENDS.register` line here. `auto` is
not a backend but a choice: per device type, the fastest backend measured correct there (AUTO).
Torch-free: names are checked when a sweep is planned; a backend's module loads when a layer is built with it
(load), so that a call traced by torch.compile finds its function in a dict instead of importing.
"""
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from ablate.registry import Registry


@dataclass(frozen=True)
class Backend:
    """One way to execute attention with position terms."""

    module: str  # ablate.attention.backends.<name>, with attention(...)
    description: str


BACKENDS: Registry[Backend] = Registry("attention backend")
BACKENDS.register("eager", Backend("ablate.attention.backends.eager", "the reference: logits, softmax, dropout, A @ V"))
BACKENDS.register("sdpa", Backend("ablate.attention.backends.sdpa", "torch's fused attention with the logit terms "
                                  "gathered into one float mask; V terms, and on a CPU terms that need a gradient, "
                                  "take the eager route"))
BACKENDS.register("flex", Backend("ablate.attention.backends.flex", "FlexAttention reading the bucket tables in a "
                                  "score_mod; forward only on CPU, no dropout; V terms take the eager route"))
BACKENDS.register("triton", Backend("ablate.attention.backends.triton", "our fused Triton kernels: every term, V included, "
                                    "read by bucket inside the kernels, forward and backward (CPU: interpreted)"))

# What `auto` runs on each device type: the fastest backend measured correct there. SDPA on both until the fused
# kernels are measured on a GPU (`ablate bench`): performance.md has gathered bias + SDPA as the fastest correct
# route measured on an H100, and on the CPU the Triton kernels only run interpreted.
AUTO = {"cpu": "sdpa", "cuda": "sdpa"}
CHOICES = ("auto", *BACKENDS.names())


def resolve(name: str, device_type: str) -> str:
    """The backend a choice runs on a device type (ValueError for an unknown choice)."""
    if name == "auto":
        return AUTO.get(device_type, "eager")
    if name not in BACKENDS:
        raise ValueError(f"invalid attention backend {name!r}: expected one of {', '.join(CHOICES)}")
    return name


_functions: dict[str, Callable] = {}  # backend name -> its attention function, once imported


def load(choice: str) -> None:
    """Import every backend a choice can run (auto: one per device type); ValueError for an unknown choice."""
    names = {*AUTO.values(), "eager"} if choice == "auto" else {resolve(choice, "cpu")}
    for name in names:
        attention_function(name)


def attention_function(name: str) -> Callable:
    """The attention function of a registered backend (imported on first use, then read from a dict)."""
    if name not in _functions:
        _functions[name] = import_module(BACKENDS[name].module).attention
    return _functions[name]

"""Attention backends: each executes attention with the terms of ablate.pe.terms, and all give the same
result (tests/test_rpe_backends.py holds every one to the eager reference, outputs and gradients).

A backend is a module with

    attention(q, k, v, logits, values, key_padding_mask, dropout_p, scale) -> Tensor

taking unscaled (B, heads, L, head_dim) q, k, v, BucketLogits and BucketValues terms, a (B, L) key mask
(True = ignore) and the attention-dropout probability, and one `BACKENDS.register` line here. `auto` is
not a backend but a choice: per device type, the fastest backend measured correct there (AUTO).
Torch-free: names are checked when a sweep is planned; a backend's module loads when it first runs.
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
                                  "gathered into one float mask; V terms take the eager route"))
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


def attention_function(name: str) -> Callable:
    """The attention function of a registered backend."""
    return import_module(BACKENDS[name].module).attention

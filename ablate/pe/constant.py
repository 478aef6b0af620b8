"""Per-grid constants (bucket maps, distances, sinusoids): computed once per argument tuple, and taken by
torch.compile as constants of the graph.

Dynamo traces through functools.lru_cache (it warns, then rebuilds the map inside every compiled graph, where
inductor's own exp and log could round a bucket boundary differently). torch.compiler.assume_constant_result
makes it call the cached function while tracing, with the arguments it guards on anyway (grid sizes,
device), and put the result in the graph as a constant: no graph break, no per-step work, no recompilation
for a grid it has seen.
"""
from collections.abc import Callable
from functools import lru_cache, update_wrapper
from typing import TypeVar

import torch

T = TypeVar("T", bound=Callable)


def _copied(value: object) -> object:
    if isinstance(value, torch.Tensor):
        return value.clone()
    return tuple(_copied(v) for v in value)


def grid_constant(fn: T) -> T:
    """fn (returning a tensor or a tuple of tensors) cached per arguments, which must be hashable constants, and
    a constant under torch.compile; the cached tensors are shared: never modify them."""
    cached = lru_cache(maxsize=256)(fn)
    traced = torch.compiler.assume_constant_result(lambda *args, **kwargs: cached(*args, **kwargs))

    def constant(*args: object, **kwargs: object) -> object:
        if not torch.compiler.is_compiling():
            return cached(*args, **kwargs)
        # A copy made in the graph, which inductor folds away: a graph break while the constant itself is live
        # would need Dynamo to rebuild it from its source, which it cannot (torch 2.14: "not in co_names").
        return _copied(traced(*args, **kwargs))

    return update_wrapper(constant, fn)

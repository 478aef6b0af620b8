"""One distinct choice of config-group options, composed by Hydra once; each job's value overrides are then
applied to a plain copy of it.

Hydra composes a config from the defaults list (the group overrides: rpe=irpe_k, +experiment/paper/row=x)
and then applies the value overrides (seed=3, train.epochs=5) one by one to the result. Composing is
what costs (about 0.1 s); a grid of 10,000 runs has a handful of group selections. So a selection is
composed once, and a job's value overrides are set on a copy of its plain container, each value
converted by the schema node it lands on, as Hydra's own update would convert it.

Anything this fast path does not mirror exactly (a value with an interpolation, an added or deleted
key, a whole dict or list, a key the config lacks, a conversion error, a value still missing) returns
None, and the caller composes that job the slow way, which also gives Hydra's own error message.
"""
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.nodes import EnumNode, ValueNode

MISSING = "???"


def _copy(node: Any) -> Any:
    """A deep copy of a plain container of dicts, lists and scalars (several times faster than deepcopy)."""
    if type(node) is dict:
        return {k: _copy(v) for k, v in node.items()}
    if type(node) is list:
        return [_copy(v) for v in node]
    return node


def _has_interpolation(node: Any) -> bool:
    if isinstance(node, dict):
        return any(_has_interpolation(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_interpolation(v) for v in node)
    return isinstance(node, str) and "${" in node


def missing_keys(node: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose value is still ??? (mandatory and unset)."""
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            out += missing_keys(value, f"{prefix}{key}.")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += missing_keys(value, f"{prefix}{i}.")
    elif node == MISSING:
        out.append(prefix[:-1])
    return out


class Selection:
    """A composed (typed, unresolved) config of one group selection, and its plain container."""

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg
        self.container = OmegaConf.to_container(cfg, resolve=False, throw_on_missing=False)
        # Interpolations are resolved against the whole config: a value override could change what one
        # resolves to, so such selections are never taken down the fast path.
        self.fast = not _has_interpolation(self.container)
        self.missing = [key.split(".") for key in missing_keys(self.container)]  # what overrides must set
        self._nodes: dict[str, ValueNode | None] = {}

    def _node(self, key: str) -> ValueNode | None:
        """The schema node a dotted key lands on, if it is a plain value (cached per key)."""
        if key not in self._nodes:
            node = self.cfg
            for part in key.split("."):
                node = node._get_node(part) if isinstance(node, DictConfig) and part in node else None
                if node is None:
                    break
            plain = isinstance(node, ValueNode) and not isinstance(node, EnumNode)  # enums stay Hydra's
            self._nodes[key] = node if plain else None
        return self._nodes[key]

    def apply(self, overrides: list) -> dict | None:
        """The job's config (plain, resolved) with these parsed value overrides, or None to compose it slowly."""
        if not self.fast:
            return None
        config = _copy(self.container)
        for override in overrides:
            if override.is_delete() or override.is_add() or override.is_force_add() or override.package:
                return None
            key, value = override.key_or_group, override.value()
            node = self._node(key)
            if node is None or isinstance(value, (dict, list)) or (isinstance(value, str) and "${" in value):
                return None
            try:
                converted = node.validate_and_convert(value)
            except Exception:  # Hydra's own path reports it, in its words
                return None
            *parents, leaf = key.split(".")
            target = config
            for part in parents:
                target = target[part]
            target[leaf] = converted
        for path in self.missing:
            node = config
            for part in path:
                node = node[int(part)] if isinstance(node, list) else node[part]
            if node == MISSING:
                return None
        return config

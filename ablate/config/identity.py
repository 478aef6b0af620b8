"""A run's identity: the part of its resolved config that says what the run is, read from the schema's marks
(ablate.config.schema.option). The config hash (ablate.results.records), the filing of studies and the report's
factors all take it from here.

Left out: fields marked identity=False (runtime, logging, paths such as data.root) and a field added after runs
were made while it holds its neutral value, or does nothing in this run (its `applies` mark), so that adding an
option changes no existing run's hash. Every other key counts, None values included, as it always has: the
hashes of runs made before this rule are unchanged.
"""
from typing import Any

from ablate.config.schema import applies_marks, is_identity, neutral_values


def effective(config: dict) -> dict:
    """The config as the run uses it: a field that does nothing here (its `applies` mark) at its neutral value."""
    out = config
    for key, applies in applies_marks().items():
        group, name = key.split(".", 1)
        section = config.get(group)
        if isinstance(section, dict) and name in section and not applies(section):
            out = {**out, group: {**out[group], name: neutral_values()[key]}}
    return out


def identity_view(config: dict) -> dict:
    """The resolved config without what does not make a run what it is."""
    neutral = neutral_values()
    config = effective(config)

    def keep(key: str, value: Any) -> bool:
        return is_identity(key) and not (key in neutral and value == neutral[key])

    return {k: ({kk: vv for kk, vv in v.items() if keep(f"{k}.{kk}", vv)} if isinstance(v, dict) else v)
            for k, v in config.items() if keep(k, v)}

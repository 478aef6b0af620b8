"""A run's identity: the part of its resolved config that says what the run is, read from the schema's marks
(ablate.config.schema.option). The config hash (ablate.results.records), the filing of studies and the report's
factors all take it from here.

Left out: fields marked identity=False (runtime, logging, paths such as data.root) and a field added after runs
were made while it holds its neutral value, so that adding an option changes no existing run's hash. Every other
key counts, None values included, as it always has: the hashes of runs made before this rule are unchanged.
"""
from typing import Any

from ablate.config.schema import is_identity, neutral_values


def identity_view(config: dict) -> dict:
    """The resolved config without what does not make a run what it is."""
    neutral = neutral_values()

    def keep(key: str, value: Any) -> bool:
        return is_identity(key) and not (key in neutral and value == neutral[key])

    return {k: ({kk: vv for kk, vv in v.items() if keep(f"{k}.{kk}", vv)} if isinstance(v, dict) else v)
            for k, v in config.items() if keep(k, v)}

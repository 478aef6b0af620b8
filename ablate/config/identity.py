"""Which config keys say what a run is, and which only where or how it runs: the rule a run's identity (the
hash in ablate.results.records), the naming of studies and the report's factors all follow."""

NOT_IDENTITY = ("runtime", "logging", "launcher", "hydra")  # top-level keys that never change a result
PATH_KEYS = ("root", "dir", "path", "file")  # keys (or *_<key>) naming where things are, not what they are
_PATH_SUFFIXES = tuple(f"_{k}" for k in PATH_KEYS)


def is_path_key(key: str) -> bool:
    """Whether a config key names where something is (data.root, *_dir, ...): never part of an identity."""
    return key in PATH_KEYS or key.endswith(_PATH_SUFFIXES)

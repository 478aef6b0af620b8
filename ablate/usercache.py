"""Where ablate keeps what it can make again (decoded image sets, composed configs, Hugging Face's files):
$XDG_CACHE_HOME/ablate/<kind>, by default ~/.cache/ablate/<kind>. Deleting any of it only costs time."""
import os
from pathlib import Path


def cache_dir(kind: str) -> Path:
    """The folder of one kind of cached thing (not created here)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "ablate" / kind

"""Whether a folder can be written to, or created: asked before a command writes anything (results directories,
report files), so that a folder that cannot be is one line rather than a traceback after the work is done."""
import os
import tempfile
from pathlib import Path


def unwritable(folder: Path) -> str | None:
    """Why folder cannot be written to or created, in words that follow its name; None when it can.

    Permission bits do not tell (root passes every access check, /proc refuses root), so a directory is made and
    removed in the deepest existing folder: nothing is left behind.
    """
    path = Path(folder).absolute()
    if path.exists() and not path.is_dir():
        return "is not a directory"
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"cannot be created: {existing} is not a directory"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".ablate-probe-", dir=existing))
    except OSError as e:
        return f"cannot be {'written to' if existing == path else f'created in {existing}'} ({e.strerror})"
    return None

"""Where a command's runs are filed: the one statement of the rule (FILING, which `--help` prints) and its code."""
import hashlib
import re
from typing import TYPE_CHECKING

from ablate.config.errors import ConfigError
from ablate.config.schema import is_identity

if TYPE_CHECKING:  # --help prints FILING: importing Hydra for a type would cost it 0.1 s
    from ablate.config.compose import Composer

FILING = """Where runs go: <results>/<experiment>/<config hash>. Runs stay under the experiment's own name
(fashion_rpe by default) while the overrides only choose the experiment (experiment=, scale=), seeds,
values of the keys the experiment sweeps or keys below them (fashion_rpe: rpe, rpe.mode, ...) or
settings that never change a result (runtime.*, logging.*, paths such as data.root). Any other override
makes another study, filed as the experiment's name plus those overrides (group choices first, each
sorted), e.g. fashion_rpe+data=digits+train.epochs=1 (over 80 characters: the first ones and a hash);
name=NAME chooses the name instead. The plan's first line says which."""

STUDY_GROUPS = ("experiment", "scale")  # choose the study itself (scale: a paper table's proxy or paper setting)
NAME_LIMIT = 80  # characters of a derived experiment name (a directory name, typed after --experiment)
NAME_BYTES = 255  # what a file system takes for one directory name (ext4, xfs, btrfs, NFS: 255 bytes)
_UNSAFE = re.compile(r"[^A-Za-z0-9._,=~-]")  # replaced by _ in a derived name: shell- and filesystem-safe
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._,=~+-]*")  # what name=... may be


def within_study(key: str, grid: list[str]) -> bool:
    """Whether overriding key keeps a run in its experiment: the seed, the choice of experiment (or scale),
    one of the keys it sweeps or a key below one, or a key that is no part of a run's identity (runtime.*,
    logging.*, paths such as data.root: the schema's marks)."""
    if key in ("seed", *STUDY_GROUPS) or not is_identity(key):
        return True
    return any(key == g or key.startswith((f"{g}.", f"{g}/")) for g in grid)


def derived_name(base: str, pieces: list[str]) -> str:
    """base+piece+piece (unsafe characters as _); past NAME_LIMIT, the pieces that fit and +more-<hash of all>."""
    safe = [_UNSAFE.sub("_", piece) for piece in pieces]
    name = "+".join([base, *safe])
    if len(name) <= NAME_LIMIT:
        return name
    tag = "+more-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    short = base
    for piece in safe:
        if len(short) + 1 + len(piece) + len(tag) > NAME_LIMIT:
            break
        short += "+" + piece
    return short + tag


def filed_name(composer: "Composer", overrides: list[str], composed: str) -> str:
    """The experiment name a command's runs are filed under, for a run whose config names `composed`.

    name=NAME if given; else `composed` (the experiment's name) when every override stays within the
    experiment (within_study); else `composed`, then each other override (group choices first, each
    sorted), joined by +.
    """
    parsed = composer.parse(overrides)
    for o in parsed:
        if o.key_or_group == "name" and not o.is_delete():
            value = o.input_line.split("=", 1)[1]
            if o.is_sweep_override():
                raise ConfigError(f"{o.input_line}: name takes one plain directory name, not a sweep")
            return checked_name(value, "name=")
    keys = [str(k).lstrip("+~") for k in composer.grid(parsed)]
    others = [o for o in parsed if not within_study(o.key_or_group, keys)]
    pieces = sorted(o.input_line.lstrip("+") for o in others if composer.is_group(o))
    pieces += sorted(o.input_line.lstrip("+") for o in others if not composer.is_group(o))
    return derived_name(checked_name(composed, "the experiment's name "), pieces)


def checked_name(name: str, source: str) -> str:
    """name, if it can be one directory's name (ConfigError naming its source otherwise)."""
    shown = name if len(name) <= 40 else f"{name[:40]}..."
    if not _NAME.fullmatch(name):
        raise ConfigError(f"{source}{shown}: name takes one plain directory name (letters, digits and . _ - + = , ~; "
                          "not starting with . + = , ~ or -)")
    if len(name.encode()) > NAME_BYTES:
        raise ConfigError(f"{source}{shown} is {len(name.encode())} bytes long: a directory name takes at most "
                          f"{NAME_BYTES}; choose a shorter name")
    return name

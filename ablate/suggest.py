"""Suggestions for mistyped names: the names a mistyped one most likely meant (config keys, group options,
command-line flags, registry entries), so that a refusal of an unknown name can offer the fix."""
import difflib
from collections.abc import Iterable

CUTOFF = 0.6  # difflib's similarity ratio below which a name is no suggestion (rpe=irpe-k -> irpe_k: 0.83)
MAX_PREFIXED = 3  # a prefix shared by more names than this (--d) suggests none of them


def suggestions(name: str, choices: Iterable[str]) -> list[str]:
    """The choice most like name if one is close enough, else those that start with it (--dry: --dry-run;
    pe=rope: rope_axial, rope_mixed); never name itself."""
    others = list(dict.fromkeys(str(c) for c in choices if str(c) != name))
    found = difflib.get_close_matches(name, others, n=1, cutoff=CUTOFF)
    if found:
        return found
    lower = name.lower()
    prefixed = [c for c in others if len(name) >= 2 and c.lower().startswith(lower)]
    return prefixed if len(prefixed) <= MAX_PREFIXED else []


def did_you_mean(name: str, choices: Iterable[str], shown: str = "{}") -> str:
    """' (did you mean X?)' (or 'X or Y') for the suggestions, each formatted by shown; '' when there is none."""
    found = suggestions(name, choices)
    return f" (did you mean {' or '.join(shown.format(f) for f in found)}?)" if found else ""

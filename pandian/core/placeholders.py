"""{placeholders} in a spec's data paths: which names a path uses, and the check that a name meant as {split} or
{subject} was not mistyped (any other name is matched on disk, so a typo would quietly read the files anyway)."""

from __future__ import annotations

import difflib
import re

PLACEHOLDER = re.compile(r"\{(\w+)\}")
FILLED = ("split", "subject")  # the names pandian fills in; any other is matched on disk


def placeholders(path: str) -> list[str]:
    return list(dict.fromkeys(PLACEHOLDER.findall(path)))


def check_path(path: str, known: tuple[str, ...] = FILLED, only: bool = False) -> str:
    """The path, or ValueError naming a stray brace, a placeholder a letter or two off one of `known` ({subjec}
    would match every file and make the whole benchmark one subject), or with `only` any name not in `known`."""
    filled = ", ".join("{" + k + "}" for k in known)
    if re.search(r"[{}]", PLACEHOLDER.sub("", path)):
        raise ValueError(f"{path!r} has a brace outside a placeholder (placeholders are {filled}"
                         + ("" if only else " or {name}") + ")")
    for name in placeholders(path):
        near = [k for k in known if difflib.SequenceMatcher(None, name.lower(), k).ratio() >= 0.8]
        if name not in known and (near or only):
            hint = f" (did you mean {{{near[0]}}}?)" if near else ""
            raise ValueError(f"{path!r} has the unknown placeholder {{{name}}}{hint}; the known ones are {filled}"
                             + ("" if only else ", and any other {name} is matched on disk, its value becoming a "
                                "row field"))
    return path

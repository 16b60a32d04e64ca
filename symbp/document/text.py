"""Plain text from the registry, made ready for a document.

The registry's summaries and notes are plain text, for the terminal too. A document
sets the small relations in them as math (``z = 0`` becomes $z = 0$), and writes the
softmax Jacobian's Kronecker delta as an Iverson bracket [j = k], since δ is the
error's symbol here.
"""

from __future__ import annotations

import re

_RELATION = re.compile(r"\b([a-z])\s*(<=|>=|=|<|>)\s*(-?\d+(?:/\d+)?)\b")
_RELATIONS = {"<=": r"\le", ">=": r"\ge", "=": "=", "<": "<", ">": ">"}
_KRONECKER = re.compile(r"\\delta_\{(\w)(\w)\}")


def rich(plain: str) -> list[tuple[bool, str]]:
    """``plain`` as (is_math, text) parts: relations like z = 0 or z <= 0 become math."""
    parts: list[tuple[bool, str]] = []
    start = 0
    for match in _RELATION.finditer(plain):
        if match.start() > start:
            parts.append((False, plain[start:match.start()]))
        name, relation, value = match.groups()
        parts.append((True, f"{name} {_RELATIONS[relation]} {value}"))
        start = match.end()
    if start < len(plain):
        parts.append((False, plain[start:]))
    return parts


def iverson(tex: str) -> str:
    r"""``\delta_{jk}`` (Kronecker) as the Iverson bracket ``[j = k]``."""
    return _KRONECKER.sub(r"[\1 = \2]", tex)

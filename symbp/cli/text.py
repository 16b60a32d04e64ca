"""Numbers and ranges the user typed, read strictly, and typed text shown back in one line."""

from __future__ import annotations

import re

from ..core import limits


def parse_range(text: str, limit: int | None = None) -> list[int]:
    """``"1..6"`` → [1, ..., 6]; ``"2,3,4"`` and mixtures like ``"1..3,5"`` too.

    ValueError naming the bad part for anything else (the CLI turns it into exit 2),
    and for any value past ``limit``, found before a single value is listed.
    """
    bounds = []
    for part in str(text).split(","):
        low, dots, high = part.strip().partition("..")
        if not (DIGITS.fullmatch(low) and (not dots or DIGITS.fullmatch(high))):
            raise ValueError(f"bad range {shown(text)}: {shown(part.strip())} is not a whole "
                             "number or a range like 1..6; write e.g. 1..6 or 2,3,4")
        first, last = whole(low), whole(high if dots else low)
        if first < 1 or last < first:
            raise ValueError(f"bad range {shown(text)}: {shown(part.strip())} must go up from "
                             "a positive number, like 1..6")
        if limit is not None and last > limit:
            reach = f"goes up to {limits.magnitude(last)}," if dots else "is"
            raise ValueError(f"bad range {shown(text)}: {shown(part.strip())} {reach} past the "
                             f"limit of {limit}")
        bounds.append((first, last))
    values: list[int] = []
    for first, last in bounds:
        values += [v for v in range(first, last + 1) if v not in values]
    return values


DIGITS = re.compile(r"[0-9]+")  # ASCII only: int() would also take ٢, 2_0, +2 and " 2"


def shown(value: object, limit: int = 40) -> str:
    """``repr(value)``, cut short for a one-line message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def whole(digits: str) -> int:
    """The value of a string of ASCII digits; past 18 digits, only its order of magnitude
    (every limit is far below, and int() refuses strings of over 4,300 digits)."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 18 else 10 ** (len(digits) - 1)

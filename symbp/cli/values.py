"""Command-line values: each type checks its text and names the bad part in one line.

Numbers are ASCII digits only (``int()`` would also take ``٢``, ``2_0`` and ``+2``), and a
value past a limit is refused here, before it is used for anything.
"""

from __future__ import annotations

import argparse
import math
import re

from ..core import limits
from ..core.deadline import MAX_SECONDS
from .text import DIGITS, parse_range, shown, whole


def _type(function):
    """An argparse type from a function raising ValueError with a message of its own."""

    def convert(text: str):
        try:
            return function(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = function.__name__  # argparse names the type in some messages
    return convert


def _whole(text: str, what: str) -> int:
    if not DIGITS.fullmatch(text.strip()):
        raise ValueError(f"{shown(text)} is not {what}")
    return whole(text.strip())


@_type
def widths(text: str) -> list[int]:
    parts = text.split(",")
    if len(parts) - 1 > limits.MAX_LAYERS:
        raise ValueError(f"{len(parts) - 1:,} layers, past the limit of {limits.MAX_LAYERS} "
                         "(limit MAX_LAYERS)")
    where = f" in {shown(text)}" if len(parts) > 1 else ""
    return [_whole(p, f"a positive whole number{where}; write widths like 2,3,3,2")
            for p in parts]


@_type
def layers(text: str) -> list[dict]:
    """--layers residual,residual,dense:2 or conv1d:channels=8;kernel=3,dense:10: a kind, then
    its first option's value (units) or key=value pairs joined by ';'."""
    from ..core.layers import kind  # SymPy: only once --layers is given

    found = []
    for part in text.split(","):
        name, _, rest = part.strip().partition(":")
        if not name:
            raise ValueError(f"an empty layer in {shown(text)}; write layers like "
                             "residual,residual,dense:2")
        entry = kind(name)
        table: dict = {"kind": entry.name}
        for item in filter(None, rest.split(";")):
            key, eq, value = item.partition("=")
            if not eq:  # the bare value of the kind's first option (units, channels)
                key, value = next(iter(entry.options)), item
            table[key.strip()] = _option(value.strip())
        found.append(table)
    if len(found) > limits.MAX_LAYERS:
        raise ValueError(f"{len(found):,} layers, past the limit of {limits.MAX_LAYERS} "
                         "(limit MAX_LAYERS)")
    return found


DECIMAL = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")  # 0.5, 1e-5, as TOML's


def _option(text: str) -> object:
    if text in ("true", "false"):
        return text == "true"
    if DIGITS.fullmatch(text):
        return whole(text)
    if DECIMAL.fullmatch(text):  # a layer norm's eps=1e-3
        return float(text)
    return text


@_type
def inputs(text: str) -> int | list[int]:
    """--inputs 4, or --inputs 1x32 for channels × positions."""
    parts = [_whole(p, "a positive whole number; write inputs like 4 or 1x32")
             for p in text.lower().split("x")]
    return parts[0] if len(parts) == 1 else parts


def activation_names(text: str) -> str | list[str]:
    names = [p.strip() for p in text.split(",")]
    return names[0] if len(names) == 1 else names


@_type
def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_SECONDS):
        raise ValueError(f"must be a number of seconds above 0 and at most {MAX_SECONDS:g}; "
                         f"got {shown(text)}")
    return value


@_type
def positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"must be a positive number; got {shown(text)}")
    return value


def whole_number(low: int, high: int):
    @_type
    def count(text: str) -> int:
        value = _whole(text, f"a whole number from {low} to {high:,}")
        if not low <= value <= high:
            raise ValueError(f"must be from {low} to {high:,}; got {limits.magnitude(value)}")
        return value

    return count


def swell_range(text: str) -> list[int]:
    try:
        return parse_range(text, limits.MAX_SWELL_SIZE)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def format_list(text: str) -> list[str]:
    return [p.strip() for p in text.split(",")]


def nonempty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


@_type
def method(text: str) -> str:
    """A first-order proof method (``proof.prove.METHODS``)."""
    from ..proof.prove import METHODS  # SymPy: only once --method is given

    if text not in METHODS:
        raise ValueError(f"unknown method {shown(text)}; choose one of: {', '.join(METHODS)}")
    return text


ORDERS = (1, 2)


@_type
def order(text: str) -> int:
    """1 or 2: first order (the gradients) or second order too."""
    if text.strip() not in ("1", "2"):
        raise ValueError(f"unknown order {text!r}; choose one of: 1, 2")
    return int(text)

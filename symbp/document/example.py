"""A worked example's input: ``Example`` holds the numbers as given (x, y, every W_l and
b_l, the learning rate η, the digits to show); ``Example.check`` reads them against a
network's widths into exact Rationals (``Exact``), and ValueError names the bad value.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import sympy as sp

from ..core import limits

DIGITS = 9  # significant digits shown, by default
MAX_DIGITS = 15  # a float in worked.json carries at most this many exactly
KEYS = ("x", "y", "weights", "biases", "learning_rate", "digits")


def example_fields(data: object, keys: tuple[str, ...], required: int, expected: str,
                   unknown_note: str = "") -> dict:
    """``data`` checked as an example's dict: only ``keys``, the first ``required`` given;
    ValueError naming the first bad key."""
    if not isinstance(data, dict):
        raise ValueError(f"example must be {expected} with the keys {', '.join(keys)}; got "
                         f"{type(data).__name__}")
    unknown = [key for key in data if key not in keys]
    if unknown:
        raise ValueError(f"example: unknown key {unknown[0]!r}{unknown_note}; valid keys: "
                         f"{', '.join(keys)}")
    missing = [key for key in keys[:required] if key not in data]
    if missing:
        raise ValueError(f"example: key {missing[0]!r} is missing; give "
                         f"{', '.join(keys[:required])}")
    return data


@dataclass(frozen=True)
class Example:
    """One training example and the parameters to run it through; numbers as given.

    ``weights`` holds one nested list per layer, shaped like W_l (n_l rows of n_{l-1});
    ``biases`` one list of n_l numbers per layer, or one number per layer that every
    unit of the layer shares. Numbers may be ints, floats (taken as the decimal they
    print as: 0.1 is 1/10), fractions or strings like "1/3". ``check`` compares the
    shapes with a network.
    """

    x: list
    y: list
    weights: list
    biases: list
    learning_rate: object = sp.Rational(1, 2)
    digits: int = DIGITS

    @classmethod
    def from_dict(cls, data: object) -> Example:
        """An Example from a dict with the keys x, y, weights, biases, learning_rate, digits."""
        if isinstance(data, Example):
            return data
        return cls(**example_fields(data, KEYS, 4, "a symbp.Example or a dict"))

    def check(self, widths: tuple[int, ...]) -> Exact:
        """The example in exact numbers, its shapes checked against ``widths``.

        ValueError names the bad value and what it should be.
        """
        L = len(widths) - 1
        eta = check_settings(self.digits, self.learning_rate)
        x = _vector(as_lists(self.x), widths[0], "x", "n_0")
        y = _vector(as_lists(self.y), widths[-1], "y", f"n_{L}")
        weights = _layers(as_lists(self.weights), "weights", L)
        biases = _layers(as_lists(self.biases), "biases", L)
        W = [_matrix(w, widths[l], widths[l - 1], l) for l, w in enumerate(weights, 1)]
        b = [_bias(v, widths[l], l) for l, v in enumerate(biases, 1)]
        return Exact(x, y, W, b, eta, self.digits)


@dataclass(frozen=True)
class Exact:
    """An example checked against a network: SymPy Rationals in matrices."""

    x: sp.Matrix
    y: sp.Matrix
    weights: list[sp.Matrix]
    biases: list[sp.Matrix]
    learning_rate: sp.Rational
    digits: int


def check_settings(digits: object, learning_rate: object) -> sp.Rational:
    """The learning rate η as a Rational, after checking it and ``digits``; ValueError names
    the bad one."""
    if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= MAX_DIGITS:
        raise ValueError(f"example: digits must be a whole number from 1 to {MAX_DIGITS}; "
                         f"got {digits!r}")
    eta = rational(learning_rate, "learning_rate")
    if eta <= 0:
        raise ValueError(f"example: learning_rate must be positive; got {learning_rate!r}")
    return eta


def as_lists(value: object) -> object:
    """NumPy arrays (at any depth) as nested lists, so that arrays and lists read alike."""
    if getattr(value, "ndim", 0) and hasattr(value, "tolist"):
        return value.tolist()  # type: ignore[attr-defined]
    if isinstance(value, list | tuple):
        return [as_lists(v) for v in value]
    return value


def rational(value: object, where: str) -> sp.Rational:
    """An exact Rational for one input number; ValueError naming ``where`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"example: {where} must be a number; got {value!r}")
    text = _plain_number(value.strip(), where) if isinstance(value, str) else ""
    try:
        if isinstance(value, sp.Rational | numbers.Integral | Fraction):
            return sp.Rational(value)
        if isinstance(value, str):
            return sp.Rational(text)
        if isinstance(value, Decimal | numbers.Real) and math.isfinite(float(value)):
            return sp.Rational(repr(float(value)) if not isinstance(value, Decimal) else value)
    except (TypeError, ValueError, SyntaxError, ZeroDivisionError, sp.SympifyError):
        pass  # ZeroDivisionError: "1/0" and "0/0"
    raise ValueError(f"example: {where} must be a finite number; got {value!r:.60}")


def _plain_number(text: str, where: str) -> str:
    """``text`` if it is short and its power of ten is modest; ValueError naming the limit
    otherwise, before the number is made (10**100000 takes exact arithmetic minutes)."""
    if len(text) > limits.MAX_NUMBER_CHARS:
        raise ValueError(f"example: {where} has {len(text):,} characters, past the limit of "
                         f"{limits.MAX_NUMBER_CHARS} for a number (limit MAX_NUMBER_CHARS)")
    exponent = re.search(r"[eE]\s*([+-]?\s*\d+)", text)
    if exponent and abs(int(exponent.group(1).replace(" ", ""))) > limits.MAX_NUMBER_EXPONENT:
        raise ValueError(f"example: {where} is {text!r}, a power of ten past the limit of "
                         f"10^±{limits.MAX_NUMBER_EXPONENT} (limit MAX_NUMBER_EXPONENT)")
    return text


def _vector(values: object, n: int, where: str, size: str) -> sp.Matrix:
    if not isinstance(values, list | tuple) or len(values) != n:
        got = f"{len(values)} entries" if isinstance(values, list | tuple) else repr(values)
        raise ValueError(f"example: {where} must be a list of {size} = {n} numbers; got {got}")
    return sp.Matrix([rational(v, f"{where}[{i}]") for i, v in enumerate(values)])


def _layers(values: object, where: str, L: int) -> list:
    if not isinstance(values, list | tuple) or len(values) != L:
        got = f"{len(values)}" if isinstance(values, list | tuple) else repr(values)
        raise ValueError(f"example: {where} must hold one entry per layer, {L} in all; got {got}")
    return list(values)


def _matrix(rows: object, n_out: int, n_in: int, l: int) -> sp.Matrix:
    where = f"weights[{l - 1}] (W_{l})"
    shape = f"{n_out} rows of {n_in} numbers"
    if not isinstance(rows, list | tuple) or len(rows) != n_out or not all(
            isinstance(row, list | tuple) and len(row) == n_in for row in rows):
        raise ValueError(f"example: {where} must be {shape}, shaped like W_{l}; got {rows!r}")
    return sp.Matrix([[rational(v, f"{where}[{j}][{k}]") for k, v in enumerate(row)]
                      for j, row in enumerate(rows)])


def _bias(values: object, n: int, l: int) -> sp.Matrix:
    where = f"biases[{l - 1}] (b_{l})"
    if isinstance(values, list | tuple):
        return _vector(values, n, where, f"n_{l}")
    return sp.Matrix([rational(values, where)] * n)  # one bias shared by the layer

"""Certified arithmetic: a value is an exact rational for as long as it stays one, else an
mpmath interval that encloses it, and a sign is read only where it is certified.

``nonzero`` values an expression at a point with these; ``Unseen`` is what it raises where no
certified value is found (and says what may still help).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import reduce
from typing import Any

import mpmath
import sympy as sp

iv = mpmath.iv
Value = Any  # a Fraction (exact) or an mpmath interval


class Unseen(Exception):
    """No certified value here; ``scope`` says what may still help: "precision", "point" or
    "none" (a construct no point can evaluate)."""

    def __init__(self, scope: str):
        super().__init__(scope)
        self.scope = scope


def interval(v: Value) -> Any:
    return iv.mpf(v.numerator) / v.denominator if isinstance(v, Fraction) else v


def fold(values: Sequence[Value], op: Callable[[Any, Any], Any]) -> Value:
    """``op`` over ``values``: exactly while they are all rationals, else in intervals."""
    if not all(isinstance(v, Fraction) for v in values):
        values = [interval(v) for v in values]
    return reduce(op, values)


def sign(v: Value) -> int:
    """-1, 0 or 1, certified; Unseen when an interval still straddles 0."""
    if isinstance(v, Fraction):
        return (v > 0) - (v < 0)
    if v.a > 0:
        return 1
    if v.b < 0:
        return -1
    raise Unseen("precision")


def _positive(v: Any) -> Any:
    if sign(v) <= 0:
        raise Unseen("point")
    return v


def _tanh(x: Any) -> Any:
    return 1 - 2 / (iv.exp(2 * x) + 1)


INTERVAL_FORMS: dict[type, Callable[..., Any]] = {  # each encloses the function's value
    sp.exp: iv.exp,
    sp.log: lambda x: iv.log(_positive(x)),
    sp.tanh: _tanh,
    sp.sinh: lambda x: (iv.exp(x) - iv.exp(-x)) / 2,
    sp.cosh: lambda x: (iv.exp(x) + iv.exp(-x)) / 2,
    sp.sin: iv.sin,
    sp.cos: iv.cos,
    sp.Abs: abs,
    sp.Max: lambda *xs: iv.mpf([max(x.a for x in xs), max(x.b for x in xs)]),
    sp.Min: lambda *xs: iv.mpf([min(x.a for x in xs), min(x.b for x in xs)]),
}
RELATIONS: dict[type, Callable[[int], bool]] = {
    sp.StrictGreaterThan: lambda s: s > 0, sp.GreaterThan: lambda s: s >= 0,
    sp.StrictLessThan: lambda s: s < 0, sp.LessThan: lambda s: s <= 0,
    sp.Equality: lambda s: s == 0, sp.Unequality: lambda s: s != 0,
}


def distinct(a: tuple, b: tuple) -> bool:
    """Whether two tuples of arguments are certified distinct (an entry that is no value, such
    as an IndexedBase, is passed over)."""
    if len(a) != len(b):
        return True
    for u, v in zip(a, b):
        if isinstance(u, sp.Basic) or isinstance(v, sp.Basic):  # a token such as an IndexedBase
            continue
        if isinstance(u, Fraction) and isinstance(v, Fraction):
            if u != v:
                return True
            continue
        u, v = interval(u), interval(v)
        if u.b < v.a or v.b < u.a:
            return True
    return False

"""The smallest point where a claimed formula and the true one differ, each candidate exact.

"Smallest" is an order on points, stated once here and in the reports:

1. fewest nonzero values (every other symbol is 0): 0 nonzero first, then 1, 2, ...;
2. then the smallest magnitudes: every nonzero value from ±1, then from ±1, ±2, then from
   ±1, ±2, ±1/2 (the magnitude ``LADDER``), the largest magnitude used deciding;
3. then the symbols in symbp's order (x, y, then layer by layer, names compared with their
   numbers as numbers), and the values in the order 1, −1, 2, −2, 1/2, −1/2.

Each candidate is evaluated exactly: in rationals while the value stays rational, else in
certified intervals (``proof.nonzero.enclosure``) at rising precision; a candidate counts
only when the difference is certified nonzero there, never from a float. The search stops
after ``BUDGET`` candidates. Past it, a point where the difference is certified nonzero
(``nonzero_point``'s, random) is *shrunk*: each symbol in turn set to 0, then each value left
replaced by the first of 1, −1, 2, −2, 1/2, −1/2, wherever the difference stays certified
nonzero. Such a point is minimal (no one value can be zeroed or made smaller) though maybe
not the smallest; the verdict says which it is.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from fractions import Fraction

import sympy as sp

from ..proof.nonzero import PRECISIONS, enclosure
from ..proof.points import declared

LADDER = (Fraction(1), Fraction(2), Fraction(1, 2))  # magnitudes, smallest first
BUDGET = 200  # candidates of the order evaluated at most, per refuted entry
MOST_NONZERO = 3  # no candidate has more nonzero values than this


def natural(symbol: sp.Basic) -> list:
    """A symbol's name as words and numbers, for sorting: w2_1_10 after w2_1_9."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(symbol))]


def candidates(symbols: list[sp.Symbol]) -> Iterator[dict[sp.Symbol, Fraction]]:
    """Points in the order of the module text: the nonzero values only (the rest are 0)."""
    yield {}
    for count in range(1, min(MOST_NONZERO, len(symbols)) + 1):
        for height in range(len(LADDER)):
            values = [s * m for m in LADDER[:height + 1] for s in (1, -1)]
            for chosen in itertools.combinations(symbols, count):
                for assigned in itertools.product(values, repeat=count):
                    if any(abs(v) == LADDER[height] for v in assigned):  # new at this height
                        yield dict(zip(chosen, assigned))


class Exact:
    """An expression to evaluate at many points: its common subexpressions found once
    (``sympy.cse``), so that a point is substituted into a small tree, not the whole one."""

    def __init__(self, expr: sp.Expr):
        self.symbols = expr.free_symbols
        self.steps, (self.last,) = sp.cse(expr)

    def at(self, point: dict[sp.Symbol, Fraction]) -> Fraction | object | None:
        """The value at ``point`` (absent symbols 0): a Fraction when rational, else an interval
        certified to exclude 0 or not; None when it has no certified value there."""
        values: dict[sp.Basic, sp.Expr] = {
            s: sp.Rational(point[s].numerator, point[s].denominator) if s in point
            else sp.S.Zero for s in self.symbols}
        for name, step in self.steps:
            values[name] = step.xreplace(values)
        at = self.last.xreplace(values)
        value = None
        for bits in PRECISIONS[:2]:
            try:
                value = enclosure(at, bits)
            except (ValueError, ArithmeticError):
                return None
            if nonzero(value) or isinstance(value, Fraction):
                return value
        return value


def value_at(expr: sp.Expr, point: dict[sp.Symbol, Fraction]) -> Fraction | object | None:
    """``expr`` at ``point`` (absent symbols 0), as ``Exact.at``."""
    return Exact(expr).at(point)


def nonzero(value: object) -> bool:
    """Certified nonzero: a nonzero rational, or an interval that excludes 0."""
    if value is None:
        return False
    if isinstance(value, Fraction):
        return value != 0
    return not (value.a <= 0 <= value.b)  # type: ignore[attr-defined]


def shrunk(difference: sp.Expr, symbols: list[sp.Symbol],
           point: dict[sp.Symbol, Fraction]) -> dict[sp.Symbol, Fraction]:
    """``point`` (where ``difference`` is certified nonzero) with every value it can spare set to
    0, then every value left made as small as it can be (see the module text)."""
    exact, point = Exact(difference), {s: v for s, v in point.items() if v}
    for s in sorted(point, key=natural):
        trial = {k: v for k, v in point.items() if k != s}
        if nonzero(exact.at(trial)):
            point = trial
    ladder = [sign * m for m in LADDER for sign in (1, -1)]
    for s in sorted(point, key=natural):
        for v in ladder:
            if v == point[s]:
                break
            trial = {**point, s: v}
            if nonzero(exact.at(trial)):
                point = trial
                break
    return point


def smallest_point(difference: sp.Expr, symbols: list[sp.Symbol],
                   budget: int = BUDGET) -> dict[sp.Symbol, Fraction] | None:
    """The first candidate (in the order of the module text) where ``difference`` is certified
    nonzero, as the nonzero values; None when none is within ``budget`` candidates, or when a
    symbol is declared to be something (positive, integer, ...) 0 may not honour."""
    if any(declared(s) for s in symbols):
        return None
    ordered, exact = sorted(symbols, key=natural), Exact(difference)
    for point in itertools.islice(candidates(ordered), budget):
        if nonzero(exact.at(point)):
            return point
    return None

"""The smallest point where a claimed formula and the true one differ, each candidate exact.

"Smallest" is an order on points, stated once here and in the reports:

1. fewest nonzero values (every other symbol is 0): 0 nonzero first, then 1, 2, ...;
2. then the smallest magnitudes: every nonzero value from ±1, then from ±1, ±2, then from
   ±1, ±2, ±1/2 (the magnitude ``LADDER``), the largest magnitude used deciding;
3. then the symbols by name, their numbers compared as numbers (b1_1, ..., w2_1_9, w2_1_10,
   ..., x_1, y_1), and the values in the order 1, −1, 2, −2, 1/2, −1/2.

Each candidate is evaluated exactly: in rationals while the value stays rational, else in
certified intervals (``proof.nonzero.enclosure``) at rising precision; a candidate counts
only when the difference is certified nonzero there, never from a float. A choice of nonzero
symbols off which the difference is identically 0 (every other symbol 0 makes it the number
0, whatever the chosen ones are) is passed over whole, after one evaluation. The search stops
after ``BUDGET`` evaluations. Past it, a point where the difference is certified nonzero
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
BUDGET = 3000  # evaluations at most, per refuted entry (about 1 ms each on the examples)
MOST_NONZERO = 3  # no candidate has more nonzero values than this


def natural(symbol: sp.Basic) -> list:
    """A symbol's name as words and numbers, for sorting: w2_1_10 after w2_1_9."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(symbol))]


def supports(symbols: list[sp.Symbol]) -> Iterator[tuple[tuple[sp.Symbol, ...],
                                                         list[tuple[Fraction, ...]]]]:
    """The order of the module text, grouped: (the symbols that are nonzero, their values in
    turn) for each count, height and choice of symbols."""
    yield (), [()]
    for count in range(1, min(MOST_NONZERO, len(symbols)) + 1):
        for height in range(len(LADDER)):
            values = [s * m for m in LADDER[:height + 1] for s in (1, -1)]
            new = [a for a in itertools.product(values, repeat=count)
                   if any(abs(v) == LADDER[height] for v in a)]  # not tried at a lower height
            for chosen in itertools.combinations(symbols, count):
                yield chosen, new


def candidates(symbols: list[sp.Symbol]) -> Iterator[dict[sp.Symbol, Fraction]]:
    """Points in the order of the module text: the nonzero values only (the rest are 0)."""
    for chosen, assignments in supports(symbols):
        for assigned in assignments:
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
        at = self._substituted(values)
        value = None
        for bits in PRECISIONS[:2]:
            try:
                value = enclosure(at, bits)
            except (ValueError, ArithmeticError):
                return None
            if nonzero(value) or isinstance(value, Fraction):
                return value
        return value


    def _substituted(self, values: dict[sp.Basic, sp.Expr]) -> sp.Expr:
        for name, step in self.steps:
            values[name] = step.xreplace(values)
        return self.last.xreplace(values)

    def vanishes_off(self, chosen: tuple[sp.Symbol, ...]) -> bool:
        """True when the expression is 0 as soon as every symbol but ``chosen`` is 0, whatever
        values those take: SymPy's own arithmetic makes it the number 0 (0·u = 0, u − u = 0)."""
        return self._substituted({s: sp.S.Zero for s in self.symbols if s not in chosen}) == 0


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
    fixed = [s for s in point if declared(s)]  # positive, integer, ...: kept as they are
    for s in sorted(set(point) - set(fixed), key=natural):
        trial = {k: v for k, v in point.items() if k != s}
        if nonzero(exact.at(trial)):
            point = trial
    ladder = [sign * m for m in LADDER for sign in (1, -1)]
    for s in sorted(set(point) - set(fixed), key=natural):
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
    nonzero, as the nonzero values; None when none is found within ``budget`` evaluations, or
    when a symbol is declared to be something (positive, integer, ...) 0 may not honour. A
    choice of symbols off which the difference vanishes identically is passed over whole."""
    if any(declared(s) for s in symbols):
        return None
    exact, spent = Exact(difference), 0
    vanishes: dict[tuple[sp.Symbol, ...], bool] = {}
    for chosen, assignments in supports(sorted(symbols, key=natural)):
        if chosen not in vanishes:
            spent += 1
            vanishes[chosen] = bool(chosen) and exact.vanishes_off(chosen)
        if vanishes[chosen]:
            continue
        for assigned in assignments:
            spent += 1
            if spent > budget:
                return None
            point = dict(zip(chosen, assigned))
            if nonzero(exact.at(point)):
                return point
    return None

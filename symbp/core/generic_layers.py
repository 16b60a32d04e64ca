"""Symbolic layers and the cases they split a recursion into, for the generic program.

A ``Layer`` is L, l, l - 1, ...: it adds integers and compares with numbers and other
layers, but never becomes a Python integer (``Concrete``). Where a comparison can go
either way for some depths, the ``Explorer`` takes one outcome (the next forced one, else
True) and narrows the case to the depths where it holds; ``generic.record_generic`` runs
the recursion once per case. Comparisons are with constants up to ``MAX_OFFSET``, so
every combination of outcomes occurs at some depth up to ``BOX``. ``CaseParts`` is what
a recorded case (first or second order) answers: its segments, and where its condition holds.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import sympy as sp

from .program import Statement

PRELUDE, TOP, SECOND, GENERIC, AFTER = "prelude", "top", "second", "generic", "after"
UP_FIRST, UP, BETWEEN = "up first", "up", "between"  # an upward loop (ops.layers_up()) and after
# the parts of a case, in the order the recursion runs them: prelude, [up first, up, between,]
# top, [second,] generic, after

DEPTH = sp.Symbol("L", integer=True, positive=True)  # the output layer, the depth
LAYER = sp.Symbol("l", integer=True, positive=True)  # a generic layer below it
MAX_OFFSET = 3  # largest constant a layer may be compared with (l > 1, l < L - 2, ...)
BOX = 12  # depths explored; every combination of comparisons occurs up to it
MAX_CASES = 64



class Concrete(Exception):
    """The recursion reads a concrete depth or width: it cannot be recorded for all of them."""


# ---------------------------------------------------------------- layers


RELATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne}


class Layer:
    """A symbolic layer (L, l, l - 1, ...): arithmetic with integers, comparisons decided per
    case, never a Python integer."""

    __slots__ = ("explorer", "expr")

    def __init__(self, expr: sp.Expr, explorer: Explorer):
        self.expr, self.explorer = sp.sympify(expr), explorer

    def __repr__(self) -> str:
        return str(self.expr)

    def __hash__(self) -> int:  # {2: 3}.get(l) would compare nothing and miss silently
        raise Concrete(f"the recursion uses layer {self} as a dictionary key or set member; "
                       "compare layers with ==, <, > instead")

    def _other(self, other: Any, what: str) -> sp.Expr:
        if isinstance(other, Layer):
            return other.expr
        if isinstance(other, int) and not isinstance(other, bool):
            return sp.Integer(other)
        raise Concrete(f"the recursion {what} layer {self} with {other!r}; layers combine "
                       "with integers and other layers only")

    def __add__(self, other: Any) -> Layer:
        if isinstance(other, Layer):
            raise Concrete(f"the recursion adds two layers ({self} + {other})")
        return Layer(self.expr + self._other(other, "adds to"), self.explorer)

    __radd__ = __add__

    def __sub__(self, other: Any) -> Layer:
        if isinstance(other, Layer):
            raise Concrete(f"the recursion subtracts two layers ({self} - {other}), a number "
                           "of layers that depends on the depth")
        return Layer(self.expr - self._other(other, "subtracts from"), self.explorer)

    def _compare(self, other: Any, relation: str) -> bool:
        return self.explorer.decide(self.expr, self._other(other, "compares"), relation)

    def __lt__(self, other: Any) -> bool:
        return self._compare(other, "<")

    def __le__(self, other: Any) -> bool:
        return self._compare(other, "<=")

    def __gt__(self, other: Any) -> bool:
        return self._compare(other, ">")

    def __ge__(self, other: Any) -> bool:
        return self._compare(other, ">=")

    def __eq__(self, other: Any) -> bool:  # type: ignore[override]
        return self._compare(other, "==")

    def __ne__(self, other: Any) -> bool:  # type: ignore[override]
        return self._compare(other, "!=")

    def _as_int(self, *_: Any) -> Any:
        raise Concrete(f"the recursion uses layer {self} as a Python integer (a range bound, "
                       "an index, a count); loop over ops.layers() instead")

    __index__ = __int__ = __float__ = __bool__ = _as_int


# ---------------------------------------------------------------- cases


Point = tuple[int, int]  # (L, l); l = 0 before the generic layer exists


class Explorer:
    """Decides comparisons of layers: at once where the case so far settles them, else by
    the next forced outcome (or True), narrowing the case to the depths where it holds."""

    def __init__(self, forced: list[bool], depth: int | None = None):
        self.forced = forced
        self.depth = depth  # a recording at one depth only: every comparison is decided there
        self.made: list[bool] = []
        self.points: list[Point] = ([(depth, 0)] if depth is not None else
                                    [(L, 0) for L in range(1, BOX + 1)])
        self.relations: list[tuple[sp.Expr, str, bool]] = []  # (lhs - rhs, relation, outcome)
        self.generic_from: int | None = None  # relations decided before the generic layer
        self.saved: list[Point] | None = None  # the points outside an upward loop's layer l

    def decide(self, lhs: sp.Expr, rhs: sp.Expr, relation: str) -> bool:
        difference = sp.expand(lhs - rhs)
        constant = difference.as_coeff_Add()[0]
        if abs(constant) > MAX_OFFSET and self.depth is None:
            raise Concrete(f"the recursion compares layer {lhs} with {rhs}, a constant "
                           f"beyond {MAX_OFFSET}: that is a concrete depth")
        test = RELATIONS[relation]
        truth = [bool(test(at(difference, p), 0)) for p in self.points]
        if all(truth) or not any(truth):
            return truth[0]
        if self.saved is not None:  # one recorded step stands for every l >= 2: it may not split
            raise Concrete(f"the recursion compares layer {lhs} with {rhs} inside its loop over "
                           "ops.layers_up(), where it holds at some layers and not others; the "
                           "upward loop takes the same steps at every layer l >= 2")
        value = self.forced[len(self.made)] if len(self.made) < len(self.forced) else True
        self.made.append(value)
        self.points = [p for p, t in zip(self.points, truth) if t == value]
        self.relations.append((difference, relation, value))
        return value

    def enter_generic(self, below: int) -> None:
        """The generic layer l of the loop down, 1 <= l <= L - ``below``."""
        self.generic_from = len(self.relations)
        self.points = [(L, l) for L, _ in self.points for l in range(1, L - below + 1)]

    def enter_upward(self) -> None:
        """The generic layer l of the loop up, 2 <= l <= L, until ``leave_upward``."""
        self.saved = self.points
        self.points = [(L, l) for L, _ in self.points for l in range(2, L + 1)]

    def leave_upward(self) -> None:
        assert self.saved is not None
        self.points, self.saved = self.saved, None

    def holds(self, point: Point) -> bool:
        return all(bool(RELATIONS[r](at(e, point), 0)) == v for e, r, v in self.relations)


def at(expr: sp.Expr, point: Point) -> int:
    return int(expr.xreplace({DEPTH: point[0], LAYER: point[1]}))


def condition(explorer: Explorer) -> str:
    if not explorer.relations:
        return "in every case"
    parts = [f"{e} {r if v else _NEGATED[r]} 0" for e, r, v in explorer.relations]
    return "when " + " and ".join(parts)


_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}


class CaseParts:
    """What a recorded case (first or second order) answers from its explorer, statements,
    segments and ``generic_from``."""

    explorer: Explorer
    statements: tuple[Statement, ...]
    segments: tuple[str, ...]
    generic_from: int

    def part(self, segment: str) -> list[Statement]:
        return [s for s, seg in zip(self.statements, self.segments) if seg == segment]

    def holds(self, L: int, l: int = 0) -> bool:
        """Whether this case's condition holds at depth L (and generic layer l)."""
        return self.explorer.holds((L, l))

    def prefix_holds(self, L: int) -> bool:
        """The conditions decided before the generic layer, at depth L."""
        before = self.explorer.relations[: self.generic_from]
        return all(bool(RELATIONS[r](at(e, (L, 0)), 0)) == v for e, r, v in before)

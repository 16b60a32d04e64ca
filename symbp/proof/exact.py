"""Exact equality of expressions: the one place where "these are equal" is decided.

The check is sound by construction: "equal" means the difference is the zero
rational function over the expressions' atoms (``polynomials``), so it is zero
for every value of σ(z), σ'(z), log, ... and in particular the real ones,
wherever the expressions are defined. Anything that argument does not cover is
refused, "not proved" with a one-line reason, never "equal":

- a Float: SymPy rounds while it builds (``Float(1e20)*x + x`` *is* ``1.0e+20*x``),
  so a Float may already hide an error; write a Rational;
- a noncommutative term: the algebra below multiplies commutatively;
- a Piecewise that is not defined everywhere (no catch-all branch, and its
  conditions do not cover the reals); a total one is compared branch by branch;
- a denominator, or the argument of a log, that cannot be shown to be nonzero at
  some point (``nonzero``: a 0/0 form such as (σ(0) − 1/2)/(2σ(0) − 1) is refused,
  because σ(0) is the sigmoid's value 1/2, not a free one);
- a symbol declared to be something no rational is (irrational, imaginary, ...):
  the points of the nonzero test would not be points of its domain;
- nan, ∞ wherever they hide (also where expanding an atom's argument makes them,
  f(1/(x(y + 1) − xy − x))), and anything that is not an expression.

A refusal is cached as a refusal: a node is remembered as fine only once every
node below it is. The converse can fail (two equal atoms written differently
become different variables), which can only leave a true identity unproved.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from fractions import Fraction

import sympy as sp
from sympy.logic.boolalg import Boolean

from .nonzero import seen_nonzero
from .points import declared, screen_value, unhonoured
from .polynomials import Poly, Polynomials, Refused


class Exact:
    """One session of exact comparisons: the atoms and checks are shared between calls."""

    def __init__(self) -> None:
        self.polynomials = Polynomials()
        self._checked: dict[sp.Basic, str | None] = {}
        self._nonzero: dict[sp.Basic, bool] = {}
        self._piecewise: dict[sp.Basic, bool] = {}

    # ------------------------------------------------------------ what can be decided

    def refusal(self, expr: sp.Basic) -> str | None:
        """Why ``expr`` cannot be decided, in one line; None when it can.

        Post-order: a node is cached as fine only after every node below it is, and a
        refusal is cached for the refused node and every node above it on the way.
        """
        checked = self._checked
        if expr in checked:
            return checked[expr]
        stack, opened = [expr], set()
        while stack:
            node = stack[-1]
            if node in opened:  # every child is settled, and none was refused
                checked[stack.pop()] = None
                continue
            if node in checked:
                reason = checked[node]
                if reason is None:  # settled as fine before
                    stack.pop()
                    continue
            else:
                reason = self._node_refusal(node)
            if reason:
                for above in stack:  # the open nodes on the stack all lie above this one
                    if above in opened:
                        checked[above] = reason
                checked[node] = reason
                return reason
            if node.args:
                opened.add(node)
                stack.extend(c for c in _children(node) if checked.get(c, "") is not None)
            else:  # a leaf is settled at once
                checked[stack.pop()] = None
        return None

    def _node_refusal(self, node: sp.Basic) -> str | None:
        if node.is_Float:
            return f"Float {node} is not exact (it may already be rounded); use a Rational"
        if node is sp.nan or node is sp.zoo or node is sp.oo or node is sp.S.NegativeInfinity:
            return f"{node} is not a finite value"
        if node.is_commutative is False:
            return f"noncommutative term {_short(node)}: the algebra here is commutative"
        if node.is_Symbol or isinstance(node, sp.Indexed):
            return unhonoured(node) if declared(node) else None
        if isinstance(node, sp.Piecewise) and not _total(node):
            return f"Piecewise {_short(node)} is not defined everywhere"
        if node.is_Pow and node.exp.is_negative and not self._not_identically_zero(node.base):
            return f"denominator {_short(node.base)} is not shown to be nonzero (0/0?)"
        if isinstance(node, sp.log) and not self._not_identically_zero(node.args[0]):
            return f"log of {_short(node.args[0])}, which is not shown to be nonzero"
        if not isinstance(node, sp.Expr | sp.Tuple | Boolean):
            return f"{_short(node)} is not an expression"
        return None

    def _not_identically_zero(self, base: sp.Expr) -> bool:
        if base not in self._nonzero:
            self._nonzero[base] = seen_nonzero(base)
        return self._nonzero[base]

    # ------------------------------------------------------------ comparing

    def residual(self, a: sp.Basic, b: sp.Basic = sp.S.Zero) -> sp.Expr | str:
        """0 when a = b is proved; else the difference in canonical form, or why not decided."""
        for side in (a, b):
            if isinstance(side, Boolean) and not isinstance(side, sp.Expr):  # x > 0, not x
                return f"not decided: {_short(side)} is not an expression"
            reason = self.refusal(side)
            if reason:
                return f"not decided: {reason}"
        try:
            if self._has_piecewise(a) or self._has_piecewise(b):
                return self._piecewise_residual(sp.piecewise_fold(a - b))
            return self._polynomial_residual(a, b)
        except Refused as error:  # ∞ or nan made by expanding, a zero denominator, a Float
            return f"not decided: {error}"

    def _polynomial_residual(self, a: sp.Basic, b: sp.Basic = sp.S.Zero) -> sp.Expr:
        num, den = self.polynomials.difference(a, b)
        return sp.Integer(0) if not num else self._as_expr(num, den)

    def _has_piecewise(self, node: sp.Basic) -> bool:
        found = self._piecewise.get(node)
        if found is None:
            found = isinstance(node, sp.Piecewise) or any(self._has_piecewise(a)
                                                           for a in node.args)
            self._piecewise[node] = found
        return found

    def _piecewise_residual(self, folded: sp.Expr) -> sp.Expr | str:
        """Branch by branch: the difference is zero on every region it is defined on.

        Every Piecewise was checked to be total, so the folded difference is too;
        a Piecewise left inside an atom (σ of a Piecewise) is an atom like any other.
        """
        if not isinstance(folded, sp.Piecewise):
            return self._polynomial_residual(folded)
        branches = []
        for expr, condition in folded.args:
            if condition is sp.false:
                continue
            branches.append((self._polynomial_residual(expr), condition))
        if all(r == 0 for r, _ in branches):
            return sp.Integer(0)
        return sp.Piecewise(*branches)

    def _as_expr(self, num: Poly, den: Poly) -> sp.Expr:
        to_expr = self.polynomials.to_expr
        return to_expr(num) / to_expr(den)

    def differences(self, a, b) -> Iterator[tuple[tuple[int, int], sp.Expr | str]]:
        """(1-based entry, residual or reason) for every entry where a − b is not proved zero."""
        shape_a, entries_a = _entries(a, "a")
        shape_b, entries_b = _entries(b, "b")
        if shape_a != shape_b:
            raise ValueError(f"cannot compare shapes {shape_a or 'scalar'} and "
                             f"{shape_b or 'scalar'}")
        cols = shape_a[1] if shape_a else 1
        for n, (x, y) in enumerate(zip(entries_a, entries_b)):
            r = self.residual(x, y)
            if isinstance(r, str) or r != 0:
                yield (n // cols + 1, n % cols + 1), r

    def first_difference(self, a, b):
        return next(self.differences(a, b), None)


def _entries(value: object, name: str) -> tuple[tuple[int, ...], list[sp.Expr]]:
    if isinstance(value, sp.MatrixBase):
        return value.shape, list(value)
    if isinstance(value, bool) or not isinstance(value, sp.Basic | int | float | Fraction):
        raise ValueError(f"argument {name} must be a SymPy expression, a number or a matrix; "
                         f"got {value!r}")
    return (), [sp.sympify(value)]


def _total(pw: sp.Piecewise) -> bool:
    """A catch-all branch, or conditions that together cover the reals."""
    conditions = [c for _, c in pw.args]
    if any(c is sp.true for c in conditions):
        return True
    try:
        covered = sp.Or(*conditions)
        if covered is sp.true:
            return True
        return covered.as_set() == sp.S.Reals
    except Exception:  # conditions SymPy cannot turn into a set: not shown total
        return False


def _children(node: sp.Basic) -> tuple[sp.Basic, ...]:
    """What a node is made of; a Piecewise's conditions count, so a Float or ∞ in one is seen."""
    if isinstance(node, sp.Piecewise):
        return tuple(e for e, _ in node.args) + tuple(c for _, c in node.args)
    return node.args


def _random_rational(rng: random.Random) -> sp.Rational:
    return sp.Rational(rng.choice([-1, 1]) * rng.randint(1, 97), rng.randint(1, 13))


def _short(expr: object, limit: int = 80) -> str:
    text = str(expr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------- the public checks


def residual(expr: sp.Basic) -> sp.Expr | str:
    """A canonical form of ``expr``: 0 exactly when it is proved zero; a reason when refused."""
    return Exact().residual(sp.sympify(expr))


def is_zero(expr: sp.Basic) -> bool:
    """True only when ``expr`` is proved identically zero."""
    return residual(expr) == 0


def differences(a, b, session: Exact | None = None):
    """Yield (1-based entry, residual or reason) for every entry where a = b is not proved."""
    return (session or Exact()).differences(a, b)


def first_difference(a, b, session: Exact | None = None):
    """The first entry (row-major, 1-based) where a = b is not proved, with why; or None."""
    return (session or Exact()).first_difference(a, b)


def equivalent(a, b) -> bool:
    """Exact check that two expressions (or same-shaped matrices) are equal.

    True means proved equal; False means not proved (they differ, or the
    difference has a form this check refuses, see the module text). Shapes that
    differ are not equivalent. Anything but SymPy expressions, numbers and
    matrices is a ValueError naming the argument.
    """
    _entries(a, "a")
    _entries(b, "b")
    try:
        return first_difference(a, b) is None
    except ValueError:  # shapes differ
        return False


def evaluate_at_random(exprs: list[sp.Expr], rng: random.Random,
                       session: Exact | None = None) -> list[Fraction | None]:
    """Exact rational values of ``exprs`` at one random point of their atoms (None: undefined).

    Every symbol and every atom (σ(z), σ'(z), ...) gets an independent random
    rational, which is a legitimate point for a generic σ. A nonzero value is a
    counterexample; zeros are only evidence.
    """
    polys = (session or Exact()).polynomials
    fractions: list[tuple[Poly, Poly] | None] = []
    for e in exprs:
        try:
            fractions.append(polys.fraction(e))
        except Refused:
            fractions.append(None)
    values = [_screen_value(g, rng) for g in polys.generators]
    point = [None if r is None else Fraction(int(r.p), int(r.q)) for r in values]
    out: list[Fraction | None] = []
    for fraction in fractions:
        if fraction is None or None in point:  # no finite value, or a symbol no rational is
            out.append(None)
            continue
        num, den = fraction
        bottom = polys.value(den, point)
        out.append(None if bottom == 0 else polys.value(num, point) / bottom)
    return out


def _screen_value(generator: sp.Basic, rng: random.Random) -> sp.Rational | None:
    """A random rational for one generator; a symbol with declarations gets one that honours
    them (the same draws as before for a plain one)."""
    if (generator.is_Symbol or isinstance(generator, sp.Indexed)) and declared(generator):
        return screen_value(generator, rng)
    return _random_rational(rng)


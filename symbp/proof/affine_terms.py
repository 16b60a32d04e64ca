"""An expression as terms, each a sum over the integer points of a polytope (``Term``).

A term's summation indices, the linear inequalities they satisfy (each sum's range, each
zero-padding bracket [1 ≤ u ≤ N], ``layers.base.Inside``) and its equalities (Kronecker
deltas), read from the expression's sums and brackets; ``affine_sums`` puts such terms in a
normal form.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..core.layers.base import Inside


@dataclass(frozen=True)
class Term:
    """factor × [eqs = 0] × [ineqs ≥ 0], summed over ``bound``."""

    factor: sp.Expr
    bound: tuple[sp.Symbol, ...] = ()
    ineqs: tuple[sp.Expr, ...] = ()
    eqs: tuple[sp.Expr, ...] = ()

    def times(self, other: Term) -> Term:
        return Term(self.factor * other.factor, self.bound + other.bound,
                    self.ineqs + other.ineqs, self.eqs + other.eqs)


def summation_index() -> sp.Dummy:
    """A summation index: an integer and nothing more (no sign to simplify a condition by)."""
    return sp.Dummy("t", integer=True)


def terms(expr: sp.Expr) -> list[Term]:
    """``expr`` as a sum of terms, every sum and zero-padding bracket made a polytope."""
    if isinstance(expr, sp.Add):
        return [t for arg in expr.args for t in terms(arg)]
    if isinstance(expr, sp.Mul):
        found = [Term(sp.Integer(1))]
        for arg in expr.args:
            found = [a.times(b) for a in found for b in terms(arg)]
        return found
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp > 0 and expr.base.has(
            sp.Sum, sp.KroneckerDelta, Inside):
        return terms(sp.Mul(*[expr.base] * int(expr.exp), evaluate=False))
    if isinstance(expr, sp.Sum):
        fresh = {i: summation_index() for i, _, _ in expr.limits}
        body = expr.function.xreplace(fresh)
        limits = [(fresh[i], a.xreplace(fresh), b.xreplace(fresh)) for i, a, b in expr.limits]
        ranges = Term(sp.Integer(1), tuple(i for i, _, _ in limits),
                      tuple(e for i, a, b in limits for e in (i - a, b - i)))
        return [ranges.times(t) for t in terms(body)]
    if isinstance(expr, sp.KroneckerDelta):
        return [Term(sp.Integer(1), eqs=(expr.args[0] - expr.args[1],))]
    if isinstance(expr, Inside) and all(a.is_integer for a in expr.args):
        v, first, last = expr.args
        return [Term(sp.Integer(1), ineqs=(v - first, last - v))]
    return [Term(expr)]  # anything else (σ(z), a Piecewise) is a factor as it stands


def affine_form(expr: sp.Expr, bound: tuple) -> tuple[dict, sp.Expr] | None:
    """``expr`` as Σ coefficient · index + rest over the summation indices, or None."""
    expr = sp.expand(expr)
    coefficients = {}
    rest = expr
    for i in bound:
        c = expr.coeff(i, 1)
        if c != 0:
            if c.free_symbols & set(bound):
                return None
            coefficients[i] = c
            rest -= c * i
    rest = sp.expand(rest)
    if rest.free_symbols & set(bound):
        return None
    return coefficients, rest

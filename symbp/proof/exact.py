"""Exact equality of expressions: the one place where "these are equal" is decided.

The check is sound by construction. Every maximal non-rational subterm (an
applied function such as σ(z) or σ'(z), a log, a fractional power) is replaced
by a fresh variable, the same variable for the same subterm. If the difference
is then the zero rational function, it is zero for *every* value of those
subterms, in particular the real ones. The converse can fail (two equal
subterms written differently become different variables), which can only make
a true identity unproved, never a false one proved.

``exp`` is the one function whose algebra is used: exp(Σ c·m) = Π exp(m)^c for
integer c, so that softmax and sigmoid lemmas reduce to rational identities.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import sympy as sp


class Atoms:
    """Maps non-rational subterms to fresh variables, memoised over a shared DAG."""

    def __init__(self) -> None:
        self.variables: dict[sp.Basic, sp.Dummy] = {}
        self._memo: dict[sp.Basic, sp.Expr] = {}

    def _variable(self, term: sp.Basic) -> sp.Dummy:
        if term not in self.variables:
            self.variables[term] = sp.Dummy(f"t{len(self.variables)}")
        return self.variables[term]

    def __call__(self, expr: sp.Basic) -> sp.Expr:
        if expr in self._memo:
            return self._memo[expr]
        result = self._atomize(expr)
        self._memo[expr] = result
        return result

    def _atomize(self, expr: sp.Basic) -> sp.Expr:
        if expr.is_Number or expr.is_Symbol:
            return expr
        if expr.is_Add:
            return sp.Add(*[self(arg) for arg in expr.args])
        if expr.is_Mul:
            return sp.Mul(*[self(arg) for arg in expr.args])
        if expr.is_Pow:
            base, exponent = expr.args
            if exponent.is_Integer:
                return sp.Pow(self(base), exponent)
            return self._variable(sp.Pow(sp.expand(base), exponent))
        if isinstance(expr, sp.exp):
            factors = []
            for term in sp.Add.make_args(sp.expand(expr.args[0])):
                coeff, rest = term.as_coeff_Mul()
                if coeff.is_Integer:
                    factors.append(self._variable(sp.exp(rest)) ** coeff)
                else:
                    factors.append(self._variable(sp.exp(term)))
            return sp.Mul(*factors)
        return self._variable(expr)


def residual(expr: sp.Basic) -> sp.Expr:
    """A canonical form of ``expr``: zero exactly when the check proves it zero."""
    expr = sp.sympify(expr)
    if expr.has(sp.Piecewise):
        folded = sp.piecewise_fold(expr)
        if isinstance(folded, sp.Piecewise):
            branches = [(residual(e), c) for e, c in folded.args]
            if all(r == 0 for r, _ in branches):
                return sp.Integer(0)
            return sp.Piecewise(*branches)
        expr = folded
    atoms = Atoms()
    flat = atoms(expr)
    expanded = sp.expand(flat)
    if expanded == 0 or not _has_denominator(expanded):
        return _restore(expanded, atoms)
    # rational: zero iff the numerator over a common denominator is zero
    numerator, _ = sp.fraction(sp.together(expanded))
    numerator = sp.expand(numerator)
    if numerator == 0:
        return sp.Integer(0)
    return _restore(expanded, atoms)


def _has_denominator(expr: sp.Expr) -> bool:
    return any(p.exp.is_negative for p in expr.atoms(sp.Pow))


def _restore(expr: sp.Expr, atoms: Atoms) -> sp.Expr:
    back = {v: term for term, v in atoms.variables.items()}
    return expr.xreplace(back)


def is_zero(expr: sp.Basic) -> bool:
    """True only when ``expr`` is proved identically zero."""
    return residual(expr) == 0


def _entries(a: sp.Basic | sp.MatrixBase) -> tuple[tuple[int, ...], list[sp.Expr]]:
    if isinstance(a, sp.MatrixBase):
        return a.shape, list(a)
    return (), [sp.sympify(a)]


def differences(a, b) -> Iterator[tuple[tuple[int, int], sp.Expr]]:
    """Yield (1-based entry, residual) for every entry where a − b is not proved zero."""
    shape_a, entries_a = _entries(a)
    shape_b, entries_b = _entries(b)
    if shape_a != shape_b:
        raise ValueError(f"cannot compare shapes {shape_a or 'scalar'} and {shape_b or 'scalar'}")
    cols = shape_a[1] if shape_a else 1
    for n, (x, y) in enumerate(zip(entries_a, entries_b)):
        r = residual(x - y)
        if r != 0:
            yield (n // cols + 1, n % cols + 1), r


def first_difference(a, b) -> tuple[tuple[int, int], sp.Expr] | None:
    """The first entry (row-major, 1-based) where a and b are not proved equal, or None."""
    return next(differences(a, b), None)


def equivalent(a, b) -> bool:
    """Exact check that two expressions (or same-shaped matrices) are equal.

    True means proved equal; False means not proved (they differ, or the
    difference has a form this check cannot reduce). Shapes that differ are
    simply not equivalent.
    """
    try:
        return first_difference(a, b) is None
    except ValueError:
        return False


def evaluate_at_random(exprs: list[sp.Expr], rng: random.Random) -> list[sp.Expr]:
    """Exact rational values of ``exprs`` at one random point of their atoms.

    Every symbol and every atom (σ(z), σ'(z), ...) gets an independent random
    rational, which is a legitimate point for a generic σ. A nonzero value is a
    counterexample; zeros are only evidence.
    """
    atoms = Atoms()
    flat = [atoms(e) for e in exprs]
    free = sorted(set().union(*(f.free_symbols for f in flat)), key=str)
    point = {s: sp.Rational(rng.randint(-97, 97), rng.randint(1, 13)) for s in free}
    return [f.xreplace(point) for f in flat]

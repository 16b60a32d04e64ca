"""A map's formula written out at numbers: each sum with numbers for limits as its terms, a rule
of replacements applied once per distinct subexpression, and one entry of the output with the
tensor entries it reads valued (``Map.entries`` and ``Map.at``, proofs and code at a network's
sizes).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import sympy as sp

from ..built import replaced


@functools.lru_cache(maxsize=64)
def written_at(formula: sp.Expr, index: tuple[sp.Symbol, ...], sizes: frozenset
               ) -> Callable[[tuple[int, ...]], Placed]:
    """The formula written out at ``sizes`` and at one point of the output, before any
    tensor is valued: a pure function of the formula, its indices and the sizes, so each
    point is built once per process and not once per call (a network's pre map is run by
    its forward pass, its lemmas, its vector forms and each of its matrix claims)."""
    written = written_out(formula.xreplace(dict(sizes)))
    found: dict[tuple[int, ...], Placed] = {}

    def at(point: tuple[int, ...]) -> Placed:
        if point not in found:
            expr = replaced(written, dict(zip(index, point)))
            found[point] = expr, tuple(expr.atoms(sp.Indexed))
        return found[point]

    return at


Placed = tuple[sp.Expr, tuple[sp.Indexed, ...]]  # an entry's formula, the tensor entries it reads


def valued(placed: Placed, bases: Mapping[sp.IndexedBase, str],
           values: Mapping[str, Callable[[tuple[int, ...]], sp.Expr]]) -> sp.Expr:
    """Every entry of a known tensor in ``expr`` replaced by its value (indices 1-based in
    the formula, 0-based for ``values``); an index outside the tensor is refused."""
    expr, read = placed

    def value(e: sp.Indexed) -> sp.Expr:
        name = bases[e.base]
        return values[name](tuple(int(i) - 1 for i in e.indices))

    return replaced(expr, {e: value(e) for e in read if e.base in bases})


def written_out(expr: sp.Basic, done: dict | None = None) -> sp.Expr:
    """Every sum with numbers for limits as its terms (inner sums first), Piecewise and
    Kronecker deltas of numbers evaluated as the terms are built. A sum with a symbolic limit
    stays a sum, unless its body does not involve its index (then it is a product).
    ``done``: parts written out before (by another call), each written once."""
    return _written_out(expr, {} if done is None else done)


def _written_out(expr: sp.Basic, done: dict) -> sp.Expr:
    """``written_out``, each distinct subexpression written once (``done``: those seen)."""
    if expr in done:
        return done[expr]
    if isinstance(expr, sp.Sum):
        body = _written_out(expr.function, done)
        for index, first, last in expr.limits:
            if not body.has(index):
                body = body * (last - first + 1)
            elif first.is_Integer and last.is_Integer:
                body = sp.Add(*[replaced(body, {index: v}) for v in range(int(first),
                                                                         int(last) + 1)])
            else:
                body = sp.Sum(body, (index, first, last))
        done[expr] = body
        return body
    if not expr.args or isinstance(expr, sp.Indexed):
        return expr  # type: ignore[return-value]
    done[expr] = value = expr.func(*[_written_out(arg, done) for arg in expr.args])
    return value

"""The R-operator's one rule for layer kinds: the tangent of one statement from the tangents of
what it reads, ṡ = Σ_u ∂s/∂u u̇ (route "program" of ``kinds_second_order``).

Per network a statement reads symbols, each one ``Read`` without ranges; the theorem for every
size (``proof.kinds_hvp_lemmas``) runs the same rule on a layer's statement in index notation,
each tensor it reads one ``Read`` at free indices, the sum over its entries in ``ranges``. The
rule is an argument of the derivation, as the curvature step is, so that the prover's tests
can hand in wrong ones (a dropped product-rule term) and see them refuted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import sympy as sp


class Read(NamedTuple):
    """One quantity a statement reads (a symbol, or a tensor's entry at free indices), its
    tangent there, and the sums over its entries (none for a symbol)."""

    entry: sp.Expr
    rate: sp.Expr
    ranges: tuple[tuple[sp.Symbol, sp.Expr, sp.Expr], ...] = ()


Differentiate = Callable[[sp.Expr, sp.Expr], sp.Expr]
TangentRule = Callable[[sp.Expr, list[Read], Differentiate], sp.Expr]


def chain_tangent(value: sp.Expr, reads: list[Read], differentiate: Differentiate) -> sp.Expr:
    """ṡ = Σ_u ∂s/∂u u̇ over ``reads``, a tensor's term summed over its entries."""
    terms = []
    for r in reads:
        term = differentiate(value, r.entry) * r.rate
        if term != 0:
            terms.append(sp.Sum(term, *r.ranges) if r.ranges else term)
    return sp.Add(*terms)

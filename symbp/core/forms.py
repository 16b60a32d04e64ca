"""A layer-wide function written for one unit: the one formula its every form is printed from.

Softmax, its vector-Jacobian product and the closed-form output deltas act on a whole
layer, yet each output unit j is a formula in unit j's own values and in a few
reductions over all units of the layer: softmax_j = e^(z_j - m) / s with m = max_k z_k
and s = Σ_k e^(z_k - m). A ``UnitForm`` holds exactly that: ``expr`` in the symbols of
its ``args`` (one unit's values) and of its ``reductions`` (each a sum or a max over the
units of a body in the args and the earlier reductions). From it come the form for a
list of units (``on_lists``, what the per-network prover compares), the index form with
symbolic sums (``indexed``, what the general theorem compares), the LaTeX and the NumPy
and numba code (``symbp.printing.forms``, ``symbp.numeric.forms``): printed, never
written twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy as sp

KINDS = ("sum", "max")


@dataclass(frozen=True)
class Reduction:
    """``name`` = Σ_k body(unit k) or max_k body(unit k) over the units of the layer."""

    name: sp.Symbol
    kind: str  # "sum" or "max"
    body: sp.Expr

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown reduction {self.kind!r}; choose one of: {', '.join(KINDS)}")


@dataclass(frozen=True)
class UnitForm:
    """Unit j of a layer-wide function: ``expr`` in one unit's ``args`` and the ``reductions``."""

    args: tuple[sp.Symbol, ...]  # one unit's values, in order: (z,), (a, v), (a, y)
    expr: sp.Expr
    reductions: tuple[Reduction, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.args)

    def on_lists(self, *columns: Sequence[sp.Expr]) -> list[sp.Expr]:
        """The function on concrete units: ``columns[i][j]`` is arg i of unit j."""
        n = len(columns[0])
        units = [dict(zip(self.args, values)) for values in zip(*columns)]
        reduced: dict[sp.Symbol, sp.Expr] = {}
        for r in self.reductions:
            terms = [r.body.xreplace({**units[k], **reduced}) for k in range(n)]
            reduced[r.name] = sp.Add(*terms) if r.kind == "sum" else sp.Max(*terms)
        return [self.expr.xreplace({**units[j], **reduced}) for j in range(n)]

    def indexed(self, entry: Callable[[sp.Symbol, sp.Expr], sp.Expr], j: sp.Expr,
                length: sp.Expr, fresh: Callable[[], sp.Symbol]) -> sp.Expr:
        """Unit j in index notation: arg s of unit i is ``entry(s, i)``, a sum reduction a
        ``Sum`` over i = 1..length. A max has no index form here (ValueError)."""
        reduced: dict[sp.Symbol, sp.Expr] = {}
        for r in self.reductions:
            if r.kind != "sum":
                raise ValueError(f"the reduction {r.name} is a {r.kind}: no index form")
            i = fresh()
            body = r.body.xreplace({s: entry(s, i) for s in self.args}).xreplace(reduced)
            reduced[r.name] = sp.Sum(body, (i, 1, length))
        return self.expr.xreplace({s: entry(s, j) for s in self.args}).xreplace(reduced)


def unit_symbols(*names: str) -> tuple[sp.Symbol, ...]:
    """The per-unit symbols a form is written in."""
    return tuple(sp.Symbol(n) for n in names)

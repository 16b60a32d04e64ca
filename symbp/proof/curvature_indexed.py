"""The curvature operations in index notation, for symbolic widths and a symbolic layer.

``CurvatureIndexOps`` extends ``indexed.IndexOps`` (backprop on entry formulas) with the
operations of ``core.curvature``. Its quantities are entry formulas: a curvature Ω_l is
an ``IndexMatrix``; a cross curvature Γ_l (rows: the units of layer l; columns: the
parameters θ_m of every layer m ≥ l) is an ``IndexCross``, whose entry is a formula in
the row index and in the column's parameter, w^{(M)}_{pq} or b^{(M)}_p, with the column's
layer M a symbol; a block row of the Hessian is an ``IndexRow``, entries for the row's
parameter w^{(l)}_{jk} or b^{(l)}_j too. A case split on M (M = l, M = l + 1, M > l + 1)
happens when a lemma substitutes M: SymPy's Kronecker deltas of layers then decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from ..core import curvature, registry
from ..core.generic import DEPTH
from .index_entries import A, B, IndexMatrix, IndexVector, J, K, W, Y, Z, fresh, jacobian_entry
from .indexed import WIDTH, IndexOps

COLUMN = sp.Symbol("M", integer=True, positive=True)  # the layer of a column's parameter
CJ, CK = sp.symbols("p q", integer=True, positive=True)  # its indices: w^{(M)}_{pq}, b^{(M)}_p
OMEGA = sp.IndexedBase("Omega")
CROSS_W, CROSS_B = sp.IndexedBase("Gamma"), sp.IndexedBase("Gamma_b")
KINDS = ("W", "b")


def column(kind: str, layer: sp.Expr = COLUMN) -> sp.Expr:
    """The column's parameter: w^{(layer)}_{pq} or b^{(layer)}_p."""
    return W[layer, CJ, CK] if kind == "W" else B[layer, CJ]


@dataclass(frozen=True)
class IndexCross:
    """Rows: units (``row``, of symbolic ``length``); columns: parameters of layers M ≥ l,
    ``entries[kind]`` the formula for a column w^{(M)}_{pq} ("W") or b^{(M)}_p ("b")."""

    entries: dict[str, sp.Expr]
    row: sp.Symbol
    length: sp.Expr

    def at(self, kind: str, r: sp.Expr) -> sp.Expr:
        return self.entries[kind].xreplace({self.row: r})

    def map(self, f) -> IndexCross:
        r = fresh()
        return IndexCross({k: f(self.at(k, r), r) for k in KINDS}, r, self.length)


@dataclass(frozen=True)
class IndexRow:
    """A block row: entries[(row kind, column kind)] in the row's w^{(l)}_{jk} (J, K) or
    b^{(l)}_j (J) and the column's parameter."""

    entries: dict[tuple[str, str], sp.Expr]


@dataclass
class CurvatureIndexTrace:
    deltas: dict[sp.Expr, Any] = field(default_factory=dict)
    curvature: dict[sp.Expr, Any] = field(default_factory=dict)
    cross: dict[sp.Expr, Any] = field(default_factory=dict)
    rows: dict[sp.Expr, Any] = field(default_factory=dict)
    weight: dict[sp.Expr, Any] = field(default_factory=dict)
    bias: dict[sp.Expr, Any] = field(default_factory=dict)


class CurvatureIndexOps(IndexOps):
    """``IndexOps`` with the curvature operations (hidden layers elementwise; the output
    softmax only where the cost absorbs it)."""

    def __init__(self, hidden: registry.Activation, output: registry.Activation,
                 cost: registry.Cost):
        super().__init__(hidden, output, cost)
        self.trace = CurvatureIndexTrace()  # type: ignore[assignment]

    def _absorbed(self, layer: sp.Expr) -> bool:
        return sp.sympify(layer) == DEPTH and curvature.absorbs_output(self.cost)

    def _prime(self, layer: sp.Expr, i: sp.Expr) -> sp.Expr:
        return self.act(layer).prime(Z[layer, i])

    # ---- at the split

    def cost_gradient(self) -> IndexVector:
        if not curvature.absorbs_output(self.cost):
            return super().cost_gradient()
        form = self.cost.output_delta(self.output.name)
        assert form is not None
        j = fresh()
        return IndexVector(self._closed(form, j), j, self.width(DEPTH))

    def _closed(self, form: registry.OutputDelta, j: sp.Expr) -> sp.Expr:
        values = {"a": lambda i: A[DEPTH, i], "y": lambda i: Y[i]}
        return form.form.indexed(lambda s, i: values[s.name](i), j, self.width(DEPTH), fresh)

    def cost_hessian(self) -> IndexMatrix:
        j, k, n = fresh(), fresh(), self.width(DEPTH)
        if curvature.absorbs_output(self.cost):
            form = self.cost.output_delta(self.output.name)
            assert form is not None
            i = fresh()
            jac = jacobian_entry(self.output, DEPTH, i, k, lambda e: A[DEPTH, e])
            entry = sp.Sum(self._closed(form, j).diff(A[DEPTH, i]) * jac, (i, 1, n))
        else:
            h = curvature.cost_hessian_term(self.cost)
            entry = sp.KroneckerDelta(j, k) * h(A[DEPTH, j], Y[j])
        return IndexMatrix(entry, j, k, (n, n))

    # ---- first order, on matrices too

    def activation_vjp(self, layer: sp.Expr, v: Any) -> Any:
        if self._absorbed(layer):
            return v
        if isinstance(v, IndexCross):
            return v.map(lambda e, r: self._prime(layer, r) * e)
        if isinstance(v, IndexMatrix):
            return IndexMatrix(self._prime(layer, v.row) * v.entry, v.row, v.col, v.shape)
        return super().activation_vjp(layer, v)

    def transpose_times(self, layer: sp.Expr, v: Any) -> Any:
        if isinstance(v, IndexCross):
            i, r = fresh(), fresh()
            entries = {k: sp.Sum(W[layer, i, r] * v.at(k, i), (i, 1, v.length)) for k in KINDS}
            return IndexCross(entries, r, self.width(layer - 1))
        return super().transpose_times(layer, v)

    def add(self, u: Any, v: Any) -> Any:
        if isinstance(u, IndexCross) and isinstance(v, IndexCross):
            return IndexCross({k: u.entries[k] + v.at(k, u.row) for k in KINDS}, u.row,
                              u.length)
        return super().add(u, v)

    # ---- curvature

    def sandwich(self, layer: sp.Expr, M: IndexMatrix) -> IndexMatrix:
        if self._absorbed(layer):
            return M
        return IndexMatrix(self._prime(layer, M.row) * M.entry * self._prime(layer, M.col),
                           M.row, M.col, M.shape)

    def curvature_residual(self, layer: sp.Expr, g: IndexVector) -> IndexMatrix:
        j, k = fresh(), fresh()
        n = self.width(layer)
        if self._absorbed(layer):
            return IndexMatrix(sp.Integer(0), j, k, (n, n))
        second = curvature.second(self.act(layer)).function
        return IndexMatrix(sp.KroneckerDelta(j, k) * g.at(j) * second(Z[layer, j]), j, k, (n, n))

    def congruence(self, layer: sp.Expr, M: IndexMatrix) -> IndexMatrix:
        i, i2, j, k = fresh(), fresh(), fresh(), fresh()
        n = self.width(layer)
        entry = sp.Sum(W[layer, i, j] * M.at(i, i2) * W[layer, i2, k], (i, 1, n), (i2, 1, n))
        m = self.width(layer - 1)
        return IndexMatrix(entry, j, k, (m, m))

    def times_parameters(self, layer: sp.Expr, M: IndexMatrix) -> IndexCross:
        """M J_l, columns θ_l only: meaningful at M = l (``prepend`` puts it there)."""
        r = fresh()
        own = {"W": M.at(r, CJ) * A[layer - 1, CK], "b": M.at(r, CJ)}
        return IndexCross(own, r, M.shape[0])

    def prepend(self, layer: sp.Expr, own: IndexCross, rest: IndexCross) -> IndexCross:
        here = sp.KroneckerDelta(COLUMN, layer)
        return IndexCross({k: here * own.entries[k] + (1 - here) * rest.at(k, own.row)
                           for k in KINDS}, own.row, own.length)

    def weight_cross(self, layer: sp.Expr, v: IndexVector) -> IndexCross:
        r = fresh()
        entry = sp.KroneckerDelta(COLUMN, layer) * sp.KroneckerDelta(r, CK) * v.at(CJ)
        return IndexCross({"W": entry, "b": sp.Integer(0)}, r, self.width(layer - 1))

    def parameter_transpose(self, layer: sp.Expr, R: IndexCross) -> IndexRow:
        return IndexRow({**{("W", k): A[layer - 1, K] * R.at(k, J) for k in KINDS},
                         **{("b", k): R.at(k, J) for k in KINDS}})

    def bind_curvature(self, layer: sp.Expr, M: IndexMatrix) -> IndexMatrix:
        self.trace.curvature[layer] = M  # type: ignore[attr-defined]
        j, k = fresh(), fresh()
        return IndexMatrix(OMEGA[layer, j, k], j, k, M.shape)

    def bind_cross(self, layer: sp.Expr, R: IndexCross) -> IndexCross:
        self.trace.cross[layer] = R  # type: ignore[attr-defined]
        return bound_cross(layer, self.width(layer))

    def hessian_row(self, layer: sp.Expr, value: IndexRow) -> None:
        self.trace.rows[layer] = value  # type: ignore[attr-defined]


def bound_cross(layer: sp.Expr, length: sp.Expr) -> IndexCross:
    """Γ_layer as the symbols it binds: Γ^{(l)}_{r, w^{(M)}_{pq}} and Γ^{(l)}_{r, b^{(M)}_p}."""
    r = fresh()
    return IndexCross({"W": CROSS_W[layer, r, COLUMN, CJ, CK],
                       "b": CROSS_B[layer, r, COLUMN, CJ]}, r, length)


def cross_symbol(layer: sp.Expr, i: sp.Expr, kind: str, at: sp.Expr) -> sp.Expr:
    """∂δ^{(layer)}_i/∂(column parameter of layer ``at``), as the bound symbol."""
    return (CROSS_W[layer, i, at, CJ, CK] if kind == "W" else CROSS_B[layer, i, at, CJ])


__all__ = [
    "CJ",
    "CK",
    "COLUMN",
    "OMEGA",
    "WIDTH",
    "CurvatureIndexOps",
    "IndexCross",
    "IndexRow",
    "column",
    "cross_symbol",
]

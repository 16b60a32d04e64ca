"""The curvature programs replayed on SymPy in layered symbols: what the prover checks.

``SymbolicCurvatureOps`` is ``recursion.SymbolicOps`` (first order, on explicit SymPy
matrices) with the operations of ``core.curvature``: Ω_l, Γ_l, ż_l and δ̇_l are bound to
symbols of their own (``SecondDerivation.curvature_symbols`` and the like), so that every
step of a program can be checked on its own, as δ_l is in first order. At the output layer
the forms are taken at the split: in a_L, or in z_L where the cost absorbs σ_L.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from . import curvature
from .curvature import absorbs_output
from .curvature_program import CurvatureProgram
from .recursion import SymbolicOps


class CurvatureTrace:
    """What a curvature program bound, by kind, in layered symbols (one step each)."""

    def __init__(self) -> None:
        self.deltas: dict[int, sp.Matrix] = {}
        self.curvature: dict[int, sp.Matrix] = {}
        self.cross: dict[int, sp.Matrix] = {}
        self.rows: dict[int, sp.Matrix] = {}
        self.tangent: dict[int, sp.Matrix] = {}
        self.tangent_delta: dict[int, sp.Matrix] = {}
        self.weight: dict[int, sp.Matrix] = {}
        self.bias: dict[int, sp.Matrix] = {}
        self.grads: dict[int, sp.Matrix] = {}  # what the first-order steps bind too
        self.param_grads: dict[tuple[int, str], sp.Matrix] = {}


class SymbolicCurvatureOps(SymbolicOps):
    """The curvature operations on explicit SymPy matrices in layered symbols, for ``d`` a
    ``second_order.SecondDerivation`` (its symbols of Ω_l, Γ_l, v, ż_l, δ̇_l)."""

    def __init__(self, d: Any):
        super().__init__(d)
        self.d = d
        self.curv = CurvatureTrace()
        self.trace = self.curv  # type: ignore[assignment]  # bind_delta and gradient write here

    def _absorbed(self, l: int) -> bool:
        return l == self.L and absorbs_output(self.symbols.net.cost_entry)

    def _prime(self, l: int) -> list[sp.Expr]:
        act = self.symbols.net.activation(l)
        return [act.prime(z) for z in self.symbols.z_symbols(l)]

    def _second(self, l: int) -> list[sp.Expr]:
        function = curvature.second(self.symbols.net.activation(l)).function
        return [function(z) for z in self.symbols.z_symbols(l)]

    def _rows_scaled(self, l: int, M: sp.Matrix) -> sp.Matrix:
        d = self._prime(l)
        return sp.Matrix(M.rows, M.cols, lambda i, j: d[i] * M[i, j])

    # ---- at the split

    def cost_gradient(self) -> sp.Matrix:
        s = self.symbols
        cost = s.net.cost_entry
        if absorbs_output(cost):
            form = cost.output_delta(s.net.activation(s.L).name)
            assert form is not None
            return sp.Matrix(form.formula(list(s.a_symbols(s.L)), list(s.y)))
        return super().cost_gradient()

    def cost_hessian(self) -> sp.Matrix:
        s = self.symbols
        a, y, cost = list(s.a_symbols(s.L)), list(s.y), s.net.cost_entry
        if absorbs_output(cost):
            return curvature.output_curvature_in_z(cost, a, y)
        h = curvature.cost_hessian_term(cost)
        return sp.diag(*[h(aj, yj) for aj, yj in zip(a, y)])

    def cost_hessian_times(self, u: sp.Matrix) -> sp.Matrix:
        return self.cost_hessian() * u

    # ---- first order, on matrices

    def activation_vjp(self, l: int, v: sp.Matrix) -> sp.Matrix:
        if self._absorbed(l):
            return v
        if self.symbols.net.activation(l).elementwise:
            return self._rows_scaled(l, v)
        return super().activation_vjp(l, v)

    def transpose_times(self, l: int, v: sp.Matrix) -> sp.Matrix:
        return self.symbols.weights(l).T * v

    # ---- curvature

    def sandwich(self, l: int, M: sp.Matrix) -> sp.Matrix:
        if self._absorbed(l):
            return M
        d = self._prime(l)
        return sp.Matrix(M.rows, M.cols, lambda i, j: d[i] * M[i, j] * d[j])

    def curvature_residual(self, l: int, g: sp.Matrix) -> sp.Matrix:
        n = self.symbols.net.widths[l]
        if self._absorbed(l):
            return sp.zeros(n, n)
        return sp.diag(*[gj * s2 for gj, s2 in zip(g, self._second(l))])

    def congruence(self, l: int, M: sp.Matrix) -> sp.Matrix:
        W = self.symbols.weights(l)
        return W.T * M * W

    def times_parameters(self, l: int, M: sp.Matrix) -> sp.Matrix:
        a = list(self.symbols.a_symbols(l - 1))
        n = self.symbols.net.widths[l]
        weight = sp.Matrix(M.rows, n * len(a), lambda r, c: M[r, c // len(a)] * a[c % len(a)])
        return weight.row_join(M)

    def parameter_transpose(self, l: int, R: sp.Matrix) -> sp.Matrix:
        a = list(self.symbols.a_symbols(l - 1))
        weight = sp.Matrix(R.rows * len(a), R.cols,
                           lambda r, c: a[r % len(a)] * R[r // len(a), c])
        return weight.col_join(R)

    def weight_cross(self, l: int, v: sp.Matrix) -> sp.Matrix:
        n, m = self.symbols.net.widths[l], self.symbols.net.widths[l - 1]
        E = sp.Matrix(m, n * m, lambda i, c: v[c // m] if c % m == i else 0)
        return E.row_join(sp.zeros(m, self.d.params_from(l) - n * m))

    def prepend(self, l: int, A: sp.Matrix, B: sp.Matrix) -> sp.Matrix:
        return A.row_join(B)

    def bind_curvature(self, l: int, M: sp.Matrix) -> sp.Matrix:
        self.curv.curvature[l] = M
        return self.d.curvature_symbols(l)

    def bind_cross(self, l: int, R: sp.Matrix) -> sp.Matrix:
        self.curv.cross[l] = R
        return self.d.cross_symbols(l)

    def hessian_row(self, l: int, value: sp.Matrix) -> None:
        self.curv.rows[l] = value

    # ---- the R-operator

    def tangent_times(self, l: int, u: sp.Matrix) -> sp.Matrix:
        return self.d.direction_weights(l) * u

    def tangent_transpose_times(self, l: int, u: sp.Matrix) -> sp.Matrix:
        return self.d.direction_weights(l).T * u

    def tangent_bias(self, l: int) -> sp.Matrix:
        return self.d.direction_biases(l)

    def activation_jvp(self, l: int, u: sp.Matrix) -> sp.Matrix:
        return u if self._absorbed(l) else self._rows_scaled(l, u)

    def residual_times(self, l: int, g: sp.Matrix, u: sp.Matrix) -> sp.Matrix:
        return self.curvature_residual(l, g) * u

    def bind_tangent(self, l: int, u: sp.Matrix) -> sp.Matrix:
        self.curv.tangent[l] = u
        return self.d.tangent_symbols(l)

    def bind_tangent_delta(self, l: int, u: sp.Matrix) -> sp.Matrix:
        self.curv.tangent_delta[l] = u
        return self.d.tangent_delta_symbols(l)


def run_curvature(d: Any, program: CurvatureProgram) -> CurvatureTrace:
    """Replay ``program`` on ``SymbolicCurvatureOps``; what it bound, in layered symbols."""
    ops = SymbolicCurvatureOps(d)
    program.run(ops)
    return ops.curv

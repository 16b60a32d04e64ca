"""The curvature programs replayed on whole arrays: the statements of ``hessian``,
``gauss_newton`` and ``hvp``, in the order the program recorded them.

``ArrayOps`` implements the operations of ``core.curvature`` on NumPy arrays with the
batch first, on top of the split and first order (``array_ops``): a cross curvature Γ_l
(batch, n_l, P_(≥l)); a block row of the Hessian and a (H v)_(W_l) are summed over the
batch. σ'' is printed from its SymPy. A wrong program gives wrong code, as it fails its
proof.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from ..core import curvature
from . import forms
from .array_ops import EYE, FirstOrderArrayOps, Value


class ArrayOps(FirstOrderArrayOps):
    """The curvature operations on arrays, recording one line (or loop) per statement."""

    def _second(self, l: int) -> str:
        code = second_code(self.net.activation(l))
        return self.once(("s", l), code, self.n[l], **self.arrays_of(code, l))

    # ---- curvature (NumPy only: hessian and gauss_newton)

    def sandwich(self, l: int, M: Value) -> Value:
        if l == self.L and self.absorbed:
            return self.absorbed_hessian() if M.kind == "hessian" else M
        if M.kind == "hessian" and l == self.L:  # J_σᵀ H_C J_σ: the fused diagonal
            return Value(self.gauss_newton_output(), "diag")
        M = self.materialize(M)
        d = self.prime(l)
        if M.kind == "diag":
            return self.emit(f"{d} ** 2 * {M.code}", "diag")
        return self.emit(f"{d}[:, :, None] * {M.code} * {d}[:, None, :]", "mat")

    def curvature_residual(self, l: int, g: Value) -> Value:
        if l == self.L and self.absorbed:
            return Value("0", "zero")
        if l == self.L and g.origin == ("cost_gradient",):
            out = self.output_curvature()
            assert out.residual is not None
            return Value(self.unit("res", out.residual, out.names), "diag")
        return self.emit(f"{self.name(g)} * {self._second(l)}", "diag")

    def congruence(self, l: int, M: Value) -> Value:
        M = self.materialize(M)
        if M.kind == "diag":
            return self.emit(f"np.matmul(W{l}.T * {M.code}[:, None, :], W{l})", "mat")
        return self.emit(f"np.matmul(np.matmul(W{l}.T, {M.code}), W{l})", "mat")

    def times_parameters(self, l: int, M: Value) -> Value:
        n, m = self.n[l], self.n[l - 1]
        M = self.materialize(M)
        full = M.code if M.kind == "mat" else \
            self.emit(f"{M.code}[:, :, None] * {EYE.format(n=n)}", "mat").code
        weight = f"({full}[:, :, :, None] * {self.a(l - 1)}[:, None, None, :])" \
                 f".reshape(-1, {full}.shape[1], {n * m})"
        return self.emit(f"np.concatenate(({weight}, {full}), axis=2)", "cross")

    def parameter_transpose(self, l: int, R: Value) -> Value:
        n, m = self.n[l], self.n[l - 1]
        weight = f"np.tensordot({self.a(l - 1)}, {R.code}, axes=(0, 0))" \
                 f".transpose(1, 0, 2).reshape({n * m}, -1)"
        return self.emit(f"np.concatenate(({weight}, {R.code}.sum(axis=0)), axis=0)", "row")

    def weight_cross(self, l: int, v: Value) -> Value:
        n, m = self.n[l], self.n[l - 1]
        rest = self.d.params_from(l) - n * m
        u = self.name(v)
        block = f"({u}[:, None, :, None] * {EYE.format(n=m)}[None, :, None, :])" \
                f".reshape(-1, {m}, {n * m})"
        return self.emit(f"np.concatenate(({block}, np.zeros(({u}.shape[0], {m}, {rest}))), "
                         "axis=2)", "cross")

    def prepend(self, l: int, A: Value, B: Value) -> Value:
        return self.emit(f"np.concatenate(({A.code}, {B.code}), axis=2)", "cross")

    def bind_curvature(self, l: int, M: Value) -> Value:
        return self.emit(M.code, M.kind, name=f"omega{l}")

    def bind_cross(self, l: int, R: Value) -> Value:
        return self.emit(R.code, "cross", name=f"cross{l}")

    def hessian_row(self, l: int, value: Value) -> None:
        start = self.d.offset(l)
        self.lines.append(f"H[{start}:{start + self.d.params(l)}, {start}:] = {value.code}")

    # ---- the R-operator

    def tangent_times(self, l: int, u: Value) -> Value:
        return self.emit(self.product(self.name(u), f"V{l}.T"), "vec", width=self.n[l])

    def tangent_transpose_times(self, l: int, u: Value) -> Value:
        return self.emit(self.product(self.name(u), f"V{l}"), "vec", width=self.n[l - 1])

    def tangent_bias(self, l: int) -> Value:
        return Value(f"c{l}", "bias", width=self.n[l])

    def activation_jvp(self, l: int, u: Value) -> Value:
        if l == self.L and self.absorbed:
            return u
        if l == self.L:  # not written until known whether the fused form takes it
            return Value("", "vec", ("jvp", l, u), width=u.width)
        return self.elementwise_times(self.prime(l), u, ("jvp", l, u))

    def residual_times(self, l: int, g: Value, u: Value) -> Value:
        if l == self.L and self.absorbed:
            return Value("0", "zero")
        if l == self.L and g.origin == ("cost_gradient",):
            out = self.output_curvature()
            assert out.residual is not None
            return self.elementwise_times(self.unit("res", out.residual, out.names), u)
        s = self._second(l)
        return self.ew(f"{self.name(g)} * {s} * {self.name(u)}",
                       f"{self.el(g)} * {s}[i, j] * {self.el(u)}", u.width)

    def bind_tangent(self, l: int, u: Value) -> Value:
        return Value(self.name(u, f"rz{l}"), "vec", width=self.n[l])

    def bind_tangent_delta(self, l: int, u: Value) -> Value:
        return Value(self.name(u, f"rdelta{l}"), "vec", width=self.n[l])


def second_code(act: Any) -> forms.Code:
    """σ'' of an elementwise activation as code: in a where σ' is registered so, else in z."""
    second = curvature.second(act)
    if second.of_output is not None:
        return forms.elementwise(sp.sympify(second.of_output(sp.Symbol("a"))), ("a",), "a")
    if second.formula is None:
        raise ValueError(f"activation {act.name!r} has no formula to print code from")
    return forms.elementwise(sp.sympify(second.formula(sp.Symbol("z"))), ("z",), "z")


def replayed(d: Any, name: str, flavor: str = "numpy") -> ArrayOps:
    """Program ``name`` of ``d`` replayed on ``ArrayOps``: its lines."""
    ops = ArrayOps(d, flavor)
    d.programs[name].run(ops)
    return ops

"""The curvature programs replayed on whole arrays: the statements of ``hessian``,
``gauss_newton`` and ``hvp``, one line each, in the order the program recorded them.

``ArrayOps`` implements the operations of ``core.curvature`` on NumPy arrays with the
batch first: a vector is (batch, n), a curvature Ω_l (batch, n_l, n_l) or, while it is
diagonal, its diagonal (batch, n_l), a cross curvature Γ_l (batch, n_l, P_(≥l)); a block
row of the Hessian and a (H v)_(W_l) are summed over the batch. Every form is printed
from its SymPy (``numeric.forms`` and ``core.curvature``): σ', σ'' and the cost's Hessian,
and at the output layer the fused forms ``curvature.output_curvature`` (so sigmoid with bce
never divides by a). A wrong program gives wrong code, as it fails its proof.

``flavor="numba"`` prints the same statements for a numba kernel: array expressions
(numba compiles them), and a layer-wide form (softmax) as its row-loop helper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy as sp

from ..core import curvature
from . import forms

EYE = "np.eye({n})"


@dataclass(frozen=True)
class Value:
    """An array the program computed: its name, what it holds, where it came from."""

    code: str
    kind: str  # vec | diag | mat | cross | zero | hessian (H_C at the split) | param | row
    origin: tuple = ()  # ("cost_gradient",), ("jvp", l, rz) ...: for the fused output forms


class ArrayOps:
    """The curvature operations on arrays, recording one line per statement."""

    def __init__(self, d: Any, flavor: str = "numpy"):
        self.d, self.net, self.L, self.flavor = d, d.net, d.L, flavor
        self.n = d.net.widths
        self.lines: list[str] = []
        self.helpers: list[str] = []
        self.uses_z: set[int] = set()
        self.count = 0
        self.cached: dict[tuple, str] = {}
        self.rows: dict[int, str] = {}
        self.weight: dict[int, str] = {}
        self.bias: dict[int, str] = {}
        self.absorbed = curvature.absorbs_output(d.net.cost_entry)

    # ---- printing

    def emit(self, code: str, kind: str, origin: tuple = (), name: str | None = None) -> Value:
        if name is None:
            self.count += 1
            name = f"t{self.count}"
        self.lines.append(f"{name} = {code}")
        return Value(name, kind, origin)

    def once(self, key: tuple, code: str) -> str:
        """An array computed once per call (σ'(z_l), σ''(z_l), ...), named after ``key``."""
        if key not in self.cached:
            name = "_".join(map(str, key))
            self.lines.append(f"{name} = {code}")
            self.cached[key] = name
        return self.cached[key]

    def form(self, code: forms.Code, **arrays: str) -> str:
        """An elementwise form over ``arrays`` (NumPy templates compile under numba too)."""
        return code.numpy.format(**arrays)

    def layer_wide(self, code: forms.Code, shape: str, **arrays: str) -> str:
        """A layer-wide form: NumPy's expression or helper; numba's row loop into a buffer."""
        if self.flavor == "numpy":
            if code.numpy_helper:
                self.helpers.append(code.numpy_helper)
            return code.numpy.format(**arrays)
        self.helpers.append(code.numba_helper)
        self.count += 1
        out = f"t{self.count}"
        self.lines.append(f"{out} = np.empty({shape})")
        self.lines.append(code.numba.format(**arrays, out=out))
        return out

    def a(self, l: int) -> str:
        return "x" if l == 0 else f"a{l}"

    def z(self, l: int) -> str:
        self.uses_z.add(l)
        return f"z{l}"

    def _prime(self, l: int) -> str:
        act = self.net.activation(l)
        code = forms.activation(act).derivative
        assert code is not None  # elementwise
        return self.once(("d", l), self.form(code, a=self.a(l), z=self._z_if(code, l)))

    def _second(self, l: int) -> str:
        return self.once(("s", l), self.form(second_code(self.net.activation(l)), a=self.a(l),
                                             z=self._z_if(second_code(self.net.activation(l)),
                                                          l)))

    def _z_if(self, code: forms.Code, l: int) -> str:
        return self.z(l) if "{z}" in code.numpy else f"z{l}"

    def _output(self) -> curvature.OutputCurvature:
        return curvature.output_curvature(self.net.activation(self.L), self.net.cost_entry)

    def _unit(self, expr: sp.Expr, names: tuple[str, ...], like: str) -> str:
        code = forms.elementwise(expr, names, like)
        arrays = {"a": self.a(self.L), "y": "y", "z": self.z(self.L) if "z" in names else ""}
        return self.form(code, **arrays)

    # ---- the split

    def cost_gradient(self) -> Value:
        cost = self.net.cost_entry
        if self.absorbed:
            form = cost.output_delta(self.net.activation(self.L).name)
            assert form is not None
            code = self.layer_wide(forms.output_delta(form), f"(batch, {self.n[-1]})",
                                   a=self.a(self.L), y="y")
        else:
            code = self.form(forms.cost(cost).gradient, a=self.a(self.L), y="y")
        return self.emit(code, "vec", ("cost_gradient",))

    def cost_hessian(self) -> Value:
        return Value("", "hessian", ("cost_hessian",))

    def _hessian_diagonal(self) -> str:
        h = curvature.cost_hessian_term(self.net.cost_entry)(sp.Symbol("a"), sp.Symbol("y"))
        return self._unit(h, ("a", "y"), "a")

    def _materialize(self, M: Value) -> Value:
        """H_C at the split as an array, where a program uses it other than the fused way."""
        if M.kind != "hessian":
            return M
        if self.absorbed:
            return self._absorbed_hessian()
        return self.emit(self._hessian_diagonal(), "diag")

    def cost_hessian_times(self, u: Value) -> Value:
        if self.absorbed:
            form = self._output().product
            assert form is not None
            code = self.layer_wide(forms.layer_wide(form, "_output_curvature"),
                                   f"(batch, {self.n[-1]})", a=self.a(self.L), y="y", v=u.code)
            return self.emit(code, "vec")
        # unprinted: J_σᵀ H_C J_σ ż_L takes the fused form, without H_C's divisions
        return Value(f"({self._hessian_diagonal()} * {u.code})", "vec", ("hessian_times", u))

    # ---- first order, on arrays with more axes

    def activation(self, l: int) -> Value:
        return Value(self.a(l), "vec")

    def activation_vjp(self, l: int, v: Value) -> Value:
        if l == self.L and self.absorbed:
            return v
        if l == self.L and v.origin[:1] == ("hessian_times",) and v.origin[1].origin[:2] == (
                "jvp", l):  # J_σᵀ H_C J_σ ż_L: the fused diagonal
            return self.emit(f"{self._gauss_newton_output()} * {v.origin[1].origin[2].code}",
                             "vec")
        act = self.net.activation(l)
        if not act.elementwise:
            vjp = forms.activation(act).vjp
            assert vjp is not None
            return self.emit(self.layer_wide(vjp, f"(batch, {self.n[l]})", a=self.a(l),
                                             v=v.code), "vec")
        d = self._prime(l)
        if v.kind in ("vec", "diag"):
            return self.emit(f"{d} * {v.code}", v.kind)
        return self.emit(f"{d}[:, :, None] * {v.code}", v.kind)

    def transpose_times(self, l: int, v: Value) -> Value:
        if v.kind == "vec":
            return self.emit(f"{v.code} @ W{l}", "vec")
        return self.emit(f"np.matmul(W{l}.T, {v.code})", v.kind)

    def times(self, l: int, v: Value) -> Value:
        return self.emit(f"{v.code} @ W{l}.T", "vec")

    def bind_delta(self, l: int, v: Value) -> Value:
        return self.emit(v.code, "vec", name=f"delta{l}")

    def add(self, u: Value, v: Value) -> Value:
        u, v = self._materialize(u), self._materialize(v)
        if u.kind == "zero":
            return v
        if v.kind == "zero":
            return u
        if {u.kind, v.kind} == {"mat", "diag"}:
            m, dg = (u, v) if u.kind == "mat" else (v, u)
            n = self._size(dg)
            return self.emit(f"{m.code} + {dg.code}[:, :, None] * {EYE.format(n=n)}", "mat")
        kind = u.kind if u.kind != "bias" else v.kind
        return self.emit(f"{u.code} + {v.code}", kind, ("add", u, v))

    def _size(self, v: Value) -> str:
        return f"{v.code}.shape[1]"

    def outer(self, u: Value, v: Value) -> Value:
        return self.emit(f"np.dot({u.code}.T, {v.code})", "param")

    def gradient(self, l: int, weight: Value, bias: Value) -> None:
        self.weight[l] = weight.code
        self.bias[l] = self.emit(f"np.dot(ones, {bias.code})", "param").code

    # ---- curvature

    def _gauss_newton_output(self) -> str:
        out = self._output()
        assert out.gauss_newton is not None
        return self.once(("gn", self.L), self._unit(out.gauss_newton, out.names, "a"))

    def sandwich(self, l: int, M: Value) -> Value:
        if l == self.L and self.absorbed:
            return self._absorbed_hessian() if M.kind == "hessian" else M
        if M.kind == "hessian" and l == self.L:  # J_σᵀ H_C J_σ: the fused diagonal
            return Value(self._gauss_newton_output(), "diag")
        M = self._materialize(M)
        d = self._prime(l)
        if M.kind == "diag":
            return self.emit(f"{d} ** 2 * {M.code}", "diag")
        return self.emit(f"{d}[:, :, None] * {M.code} * {d}[:, None, :]", "mat")

    def _absorbed_hessian(self) -> Value:
        """H_C in z as a matrix per sample: the product form applied to every unit vector."""
        n = self.n[-1]
        form = self._output().product
        assert form is not None
        code = self.layer_wide(forms.layer_wide(form, "_output_curvature"), f"(batch, {n}, {n})",
                               a=f"{self.a(self.L)}[:, None, :]", y="y[:, None, :]",
                               v=f"{EYE.format(n=n)}[None, :, :]")
        return self.emit(code, "mat")

    def curvature_residual(self, l: int, g: Value) -> Value:
        if l == self.L and self.absorbed:
            return Value("0", "zero")
        if l == self.L and g.origin == ("cost_gradient",):
            out = self._output()
            assert out.residual is not None
            return self.emit(self._unit(out.residual, out.names, "a"), "diag")
        return self.emit(f"{g.code} * {self._second(l)}", "diag")

    def congruence(self, l: int, M: Value) -> Value:
        M = self._materialize(M)
        if M.kind == "diag":
            return self.emit(f"np.matmul(W{l}.T * {M.code}[:, None, :], W{l})", "mat")
        return self.emit(f"np.matmul(np.matmul(W{l}.T, {M.code}), W{l})", "mat")

    def _full(self, M: Value, n: int) -> str:
        return M.code if M.kind == "mat" else f"{M.code}[:, :, None] * {EYE.format(n=n)}"

    def times_parameters(self, l: int, M: Value) -> Value:
        n, m = self.n[l], self.n[l - 1]
        M = self._materialize(M)
        full = self._full(M, n)
        if M.kind != "mat":
            full = self.emit(full, "mat").code
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
        block = f"({v.code}[:, None, :, None] * {EYE.format(n=m)}[None, :, None, :])" \
                f".reshape(-1, {m}, {n * m})"
        return self.emit(f"np.concatenate(({block}, np.zeros(({v.code}.shape[0], {m}, {rest}))),"
                         " axis=2)", "cross")

    def prepend(self, l: int, A: Value, B: Value) -> Value:
        return self.emit(f"np.concatenate(({A.code}, {B.code}), axis=2)", "cross")

    def bind_curvature(self, l: int, M: Value) -> Value:
        return self.emit(M.code, M.kind, name=f"omega{l}")

    def bind_cross(self, l: int, R: Value) -> Value:
        return self.emit(R.code, "cross", name=f"cross{l}")

    def hessian_row(self, l: int, value: Value) -> None:
        start = self.d.offset(l)
        self.lines.append(f"H[{start}:{start + self.d.params(l)}, {start}:] = {value.code}")
        self.rows[l] = value.code

    # ---- the R-operator

    def tangent_times(self, l: int, u: Value) -> Value:
        return self.emit(f"{u.code} @ V{l}.T", "vec")

    def tangent_transpose_times(self, l: int, u: Value) -> Value:
        return self.emit(f"{u.code} @ V{l}", "vec")

    def tangent_bias(self, l: int) -> Value:
        return Value(f"c{l}", "bias")

    def activation_jvp(self, l: int, u: Value) -> Value:
        if l == self.L and self.absorbed:
            return u
        if l == self.L:  # kept unprinted until known whether the fused form takes it
            return Value(f"({self._prime(l)} * {u.code})", "vec", ("jvp", l, u))
        return self.emit(f"{self._prime(l)} * {u.code}", "vec", ("jvp", l, u))

    def residual_times(self, l: int, g: Value, u: Value) -> Value:
        if l == self.L and self.absorbed:
            return Value("0", "zero")
        if l == self.L and g.origin == ("cost_gradient",):
            out = self._output()
            assert out.residual is not None
            diagonal = self.once(("res", l), self._unit(out.residual, out.names, "a"))
            return self.emit(f"{diagonal} * {u.code}", "vec")
        return self.emit(f"{g.code} * {self._second(l)} * {u.code}", "vec")

    def bind_tangent(self, l: int, u: Value) -> Value:
        return self.emit(u.code, "vec", name=f"rz{l}")

    def bind_tangent_delta(self, l: int, u: Value) -> Value:
        return self.emit(u.code, "vec", name=f"rdelta{l}")


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

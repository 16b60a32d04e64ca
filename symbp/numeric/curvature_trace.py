"""The curvature programs replayed on whole arrays: the statements of ``hessian``,
``gauss_newton`` and ``hvp``, in the order the program recorded them.

``ArrayOps`` implements the operations of ``core.curvature`` on NumPy arrays with the
batch first: a vector is (batch, n), a curvature Ω_l (batch, n_l, n_l) or, while it is
diagonal, its diagonal (batch, n_l), a cross curvature Γ_l (batch, n_l, P_(≥l)); a block
row of the Hessian and a (H v)_(W_l) are summed over the batch. Every form is printed
from its SymPy (``numeric.forms`` and ``core.curvature``): σ', σ'' and the cost's Hessian,
and at the output layer the fused forms ``curvature.output_curvature`` (so sigmoid with bce
never divides by a). A wrong program gives wrong code, as it fails its proof.

``flavor="numba"`` prints the same statements for a numba kernel: an elementwise value is
kept as the expression of one element (``Value.element``, over ``x[i, j]``) and written by
one fused loop where a product, a binding or the result needs it as an array; products
are BLAS calls, and a layer-wide form (softmax) is its row-loop helper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy as sp

from ..core import curvature
from . import forms
from .numba_loops import flat_loop, loop

EYE = "np.eye({n})"


@dataclass(frozen=True)
class Value:
    """An array the program computed: its name (or NumPy expression), what it holds, where it
    came from; in numba, an elementwise value not yet written has ``element`` instead."""

    code: str
    kind: str  # vec | bias | diag | mat | cross | zero | hessian (H_C) | param | row
    origin: tuple = ()  # ("cost_gradient",), ("jvp", l, rz) ...: for the fused output forms
    element: str = ""  # numba: one element of an unwritten vector, over arrays[i, j]
    width: int = 0  # units of a vector


class ArrayOps:
    """The curvature operations on arrays, recording one line (or loop) per statement."""

    def __init__(self, d: Any, flavor: str = "numpy"):
        self.d, self.net, self.L, self.flavor = d, d.net, d.L, flavor
        self.n = d.net.widths
        self.lines: list[str] = []
        self.helpers: list[str] = []
        self.uses_z: set[int] = set()
        self.count = 0
        self.cached: dict[tuple, str] = {}
        self.weight: dict[int, str] = {}
        self.bias: dict[int, str] = {}
        self.absorbed = curvature.absorbs_output(d.net.cost_entry)

    # ---- printing

    def _temp(self) -> str:
        self.count += 1
        return f"t{self.count}"

    def emit(self, code: str, kind: str, origin: tuple = (), name: str | None = None,
             width: int = 0) -> Value:
        name = name or self._temp()
        self.lines.append(f"{name} = {code}")
        return Value(name, kind, origin, width=width)

    def ew(self, numpy: str, numba: str, width: int, origin: tuple = (),
           kind: str = "vec") -> Value:
        """An elementwise vector: a NumPy statement, or in numba the element, unwritten."""
        if self.flavor == "numpy":
            return self.emit(numpy, kind, origin, width=width)
        return Value("", kind, origin, element=numba, width=width)

    def _resolve(self, v: Value) -> Value:
        """A value kept unwritten for a fused form (H_C ȧ_L, J_σ ż_L), written plainly."""
        if v.code or v.element or v.kind != "vec":
            return v
        if v.origin[:1] == ("hessian_times",):
            return self._times(self._materialize(self.cost_hessian()).code, v.origin[1])
        if v.origin[:1] == ("jvp",):
            return self._times(self._prime(v.origin[1]), v.origin[2])
        return v

    def name(self, v: Value, name: str | None = None) -> str:
        """An array holding ``v`` (written by one fused loop in numba), named ``name`` if given."""
        v = self._resolve(v)
        if self.flavor == "numba" and v.element:
            target = name or self._temp()
            self.lines.append(f"{target} = np.empty((batch, {v.width}))")
            assignment = f"{target}[i, j] = {v.element}"
            # a bias is read by its unit j: rows and units; else one loop over flat views
            self.lines += (loop(v.width, [assignment]) if "[j]" in assignment
                           else flat_loop(v.width, assignment))
            return target
        if name is not None and name != v.code:
            self.lines.append(f"{name} = {v.code}")
            return name
        return v.code

    def el(self, v: Value) -> str:
        """One element of vector ``v`` in numba."""
        v = self._resolve(v)
        if v.element:
            return f"({v.element})"
        return f"{v.code}[j]" if v.kind == "bias" else f"{v.code}[i, j]"

    def once(self, key: tuple, code: forms.Code, width: int, **arrays: str) -> str:
        """An elementwise form over ``arrays`` computed once per call (σ'(z_l), σ''(z_l), ...)."""
        if key not in self.cached:
            name = "_".join(map(str, key))
            element = code.numba.format(**{k: f"{v}[i, j]" for k, v in arrays.items()})
            self.cached[key] = self.name(self.ew(code.numpy.format(**arrays), element, width),
                                         name)
        return self.cached[key]

    def layer_wide(self, code: forms.Code, shape: str, **arrays: str) -> str:
        """A layer-wide form: NumPy's expression or helper; numba's row loop into a buffer."""
        if self.flavor == "numpy":
            if code.numpy_helper:
                self.helpers.append(code.numpy_helper)
            return code.numpy.format(**arrays)
        self.helpers.append(code.numba_helper)
        out = self._temp()
        self.lines.append(f"{out} = np.empty({shape})")
        self.lines.append(code.numba.format(**arrays, out=out))
        return out

    def a(self, l: int) -> str:
        return "x" if l == 0 else f"a{l}"

    def z(self, l: int) -> str:
        self.uses_z.add(l)
        return f"z{l}"

    def _arrays(self, code: forms.Code, l: int) -> dict[str, str]:
        arrays = {"a": self.a(l)}
        if "{z}" in code.numpy + code.numba:
            arrays["z"] = self.z(l)
        return arrays

    def _prime(self, l: int) -> str:
        code = forms.activation(self.net.activation(l)).derivative
        assert code is not None  # elementwise
        return self.once(("d", l), code, self.n[l], **self._arrays(code, l))

    def _second(self, l: int) -> str:
        code = second_code(self.net.activation(l))
        return self.once(("s", l), code, self.n[l], **self._arrays(code, l))

    def _output(self) -> curvature.OutputCurvature:
        return curvature.output_curvature(self.net.activation(self.L), self.net.cost_entry)

    def _unit(self, key: str, expr: sp.Expr, names: tuple[str, ...]) -> str:
        code = forms.elementwise(expr, names, "a")
        arrays = {"a": self.a(self.L), "y": "y", **({"z": self.z(self.L)} if "z" in names
                                                     else {})}
        return self.once((key, self.L), code, self.n[-1], **arrays)

    # ---- the split

    def cost_gradient(self) -> Value:
        cost, n, L = self.net.cost_entry, self.n[-1], self.L
        if self.absorbed:
            form = cost.output_delta(self.net.activation(L).name)
            assert form is not None
            closed = self.layer_wide(forms.output_delta(form), f"(batch, {n})", a=self.a(L),
                                     y="y")
            return self.emit(closed, "vec", ("cost_gradient",), width=n)
        code = forms.cost(cost).gradient
        return self.ew(code.numpy.format(a=self.a(L), y="y"),
                       code.numba.format(a=f"{self.a(L)}[i, j]", y="y[i, j]"), n,
                       ("cost_gradient",))

    def cost_hessian(self) -> Value:
        return Value("", "hessian", ("cost_hessian",))

    def _materialize(self, M: Value) -> Value:
        """H_C at the split as an array, where a program uses it other than the fused way."""
        if M.kind != "hessian":
            return M
        if self.absorbed:
            return self._absorbed_hessian()
        h = curvature.cost_hessian_term(self.net.cost_entry)(sp.Symbol("a"), sp.Symbol("y"))
        return Value(self._unit("h", h, ("a", "y")), "diag")

    def cost_hessian_times(self, u: Value) -> Value:
        n = self.n[-1]
        if self.absorbed:
            form = self._output().product
            assert form is not None
            code = self.layer_wide(forms.layer_wide(form, "_output_curvature"), f"(batch, {n})",
                                   a=self.a(self.L), y="y", v=self.name(u))
            return self.emit(code, "vec", width=n)
        # not written: J_σᵀ H_C J_σ ż_L takes the fused form, without H_C's divisions
        return Value("", "vec", ("hessian_times", u), width=n)

    # ---- first order, on arrays with more axes

    def activation(self, l: int) -> Value:
        return Value(self.a(l), "vec", width=self.n[l])

    def activation_vjp(self, l: int, v: Value) -> Value:
        if l == self.L and self.absorbed:
            return v
        if l == self.L and v.origin[:1] == ("hessian_times",) and \
                v.origin[1].origin[:2] == ("jvp", l):  # J_σᵀ H_C J_σ ż_L: the fused diagonal
            return self._times(self._gauss_newton_output(), v.origin[1].origin[2])
        act = self.net.activation(l)
        if not act.elementwise:
            vjp = forms.activation(act).vjp
            assert vjp is not None
            return self.emit(self.layer_wide(vjp, f"(batch, {self.n[l]})", a=self.a(l),
                                             v=self.name(v)), "vec", width=self.n[l])
        d = self._prime(l)
        if v.kind == "vec":
            return self._times(d, v)
        if v.kind == "diag":
            return self.emit(f"{d} * {v.code}", "diag")
        return self.emit(f"{d}[:, :, None] * {v.code}", v.kind)

    def _times(self, array: str, v: Value, origin: tuple = ()) -> Value:
        """array ⊙ v, elementwise."""
        return self.ew(f"{array} * {self.name(v)}", f"{array}[i, j] * {self.el(v)}", v.width,
                       origin)

    def transpose_times(self, l: int, v: Value) -> Value:
        if v.kind == "vec":
            return self.emit(self._product(self.name(v), f"W{l}"), "vec", width=self.n[l - 1])
        return self.emit(f"np.matmul(W{l}.T, {v.code})", v.kind)

    def _product(self, u: str, W: str) -> str:
        return f"np.dot({u}, {W})" if self.flavor == "numba" else f"{u} @ {W}"

    def times(self, l: int, v: Value) -> Value:
        return self.emit(self._product(self.name(v), f"W{l}.T"), "vec", width=self.n[l])

    def bind_delta(self, l: int, v: Value) -> Value:
        return Value(self.name(v, f"delta{l}"), "vec", width=self.n[l])

    def add(self, u: Value, v: Value) -> Value:
        u, v = self._materialize(u), self._materialize(v)
        if u.kind == "zero":
            return v
        if v.kind == "zero":
            return u
        if {u.kind, v.kind} == {"mat", "diag"}:
            m, dg = (u, v) if u.kind == "mat" else (v, u)
            return self.emit(f"{m.code} + {dg.code}[:, :, None] * {EYE.format(n=_n(dg))}",
                             "mat")
        if {u.kind, v.kind} <= {"vec", "bias"}:
            return self.ew(f"{self.name(u)} + {self.name(v)}", f"{self.el(u)} + {self.el(v)}",
                           max(u.width, v.width))
        return self.emit(f"{u.code} + {v.code}", u.kind)

    def outer(self, u: Value, v: Value) -> Value:
        return self.emit(f"np.dot({self.name(u)}.T, {self.name(v)})", "param")

    def gradient(self, l: int, weight: Value, bias: Value) -> None:
        self.weight[l] = weight.code
        self.bias[l] = self.emit(f"np.dot(ones, {self.name(bias)})", "param").code

    # ---- curvature (NumPy only: hessian and gauss_newton)

    def _gauss_newton_output(self) -> str:
        out = self._output()
        assert out.gauss_newton is not None
        return self._unit("gn", out.gauss_newton, out.names)

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
            return Value(self._unit("res", out.residual, out.names), "diag")
        return self.emit(f"{self.name(g)} * {self._second(l)}", "diag")

    def congruence(self, l: int, M: Value) -> Value:
        M = self._materialize(M)
        if M.kind == "diag":
            return self.emit(f"np.matmul(W{l}.T * {M.code}[:, None, :], W{l})", "mat")
        return self.emit(f"np.matmul(np.matmul(W{l}.T, {M.code}), W{l})", "mat")

    def times_parameters(self, l: int, M: Value) -> Value:
        n, m = self.n[l], self.n[l - 1]
        M = self._materialize(M)
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
        return self.emit(self._product(self.name(u), f"V{l}.T"), "vec", width=self.n[l])

    def tangent_transpose_times(self, l: int, u: Value) -> Value:
        return self.emit(self._product(self.name(u), f"V{l}"), "vec", width=self.n[l - 1])

    def tangent_bias(self, l: int) -> Value:
        return Value(f"c{l}", "bias", width=self.n[l])

    def activation_jvp(self, l: int, u: Value) -> Value:
        if l == self.L and self.absorbed:
            return u
        if l == self.L:  # not written until known whether the fused form takes it
            return Value("", "vec", ("jvp", l, u), width=u.width)
        return self._times(self._prime(l), u, ("jvp", l, u))

    def residual_times(self, l: int, g: Value, u: Value) -> Value:
        if l == self.L and self.absorbed:
            return Value("0", "zero")
        if l == self.L and g.origin == ("cost_gradient",):
            out = self._output()
            assert out.residual is not None
            return self._times(self._unit("res", out.residual, out.names), u)
        s = self._second(l)
        return self.ew(f"{self.name(g)} * {s} * {self.name(u)}",
                       f"{self.el(g)} * {s}[i, j] * {self.el(u)}", u.width)

    def bind_tangent(self, l: int, u: Value) -> Value:
        return Value(self.name(u, f"rz{l}"), "vec", width=self.n[l])

    def bind_tangent_delta(self, l: int, u: Value) -> Value:
        return Value(self.name(u, f"rdelta{l}"), "vec", width=self.n[l])


def _n(v: Value) -> str:
    return f"{v.code}.shape[1]"


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

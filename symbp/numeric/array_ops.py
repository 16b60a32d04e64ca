"""The array operations every curvature program starts from, and how they print: values,
the split and first order, on NumPy arrays with the batch first.

``FirstOrderArrayOps`` holds a vector as (batch, n), a curvature Ω_l (batch, n_l, n_l) or,
while it is diagonal, its diagonal (batch, n_l). Every form is printed from its SymPy
(``numeric.forms`` and ``core.curvature``): σ' and the cost's Hessian, and at the output
layer the fused forms ``curvature.output_curvature`` (so sigmoid with bce never divides by
a). ``curvature_trace.ArrayOps`` adds the curvature statements and the R-operator.

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


class FirstOrderArrayOps:
    """The split and the first-order operations on arrays, recording one line (or loop) per
    statement."""

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
            return self.elementwise_times(self.materialize(self.cost_hessian()).code, v.origin[1])
        if v.origin[:1] == ("jvp",):
            return self.elementwise_times(self.prime(v.origin[1]), v.origin[2])
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

    def arrays_of(self, code: forms.Code, l: int) -> dict[str, str]:
        arrays = {"a": self.a(l)}
        if "{z}" in code.numpy + code.numba:
            arrays["z"] = self.z(l)
        return arrays

    def prime(self, l: int) -> str:
        code = forms.activation(self.net.activation(l)).derivative
        assert code is not None  # elementwise
        return self.once(("d", l), code, self.n[l], **self.arrays_of(code, l))

    def output_curvature(self) -> curvature.OutputCurvature:
        return curvature.output_curvature(self.net.activation(self.L), self.net.cost_entry)

    def unit(self, key: str, expr: sp.Expr, names: tuple[str, ...]) -> str:
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

    def materialize(self, M: Value) -> Value:
        """H_C at the split as an array, where a program uses it other than the fused way."""
        if M.kind != "hessian":
            return M
        if self.absorbed:
            return self.absorbed_hessian()
        h = curvature.cost_hessian_term(self.net.cost_entry)(sp.Symbol("a"), sp.Symbol("y"))
        return Value(self.unit("h", h, ("a", "y")), "diag")

    def cost_hessian_times(self, u: Value) -> Value:
        n = self.n[-1]
        if self.absorbed:
            form = self.output_curvature().product
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
            return self.elementwise_times(self.gauss_newton_output(), v.origin[1].origin[2])
        act = self.net.activation(l)
        if not act.elementwise:
            vjp = forms.activation(act).vjp
            assert vjp is not None
            return self.emit(self.layer_wide(vjp, f"(batch, {self.n[l]})", a=self.a(l),
                                             v=self.name(v)), "vec", width=self.n[l])
        d = self.prime(l)
        if v.kind == "vec":
            return self.elementwise_times(d, v)
        if v.kind == "diag":
            return self.emit(f"{d} * {v.code}", "diag")
        return self.emit(f"{d}[:, :, None] * {v.code}", v.kind)

    def elementwise_times(self, array: str, v: Value, origin: tuple = ()) -> Value:
        """array ⊙ v, elementwise."""
        return self.ew(f"{array} * {self.name(v)}", f"{array}[i, j] * {self.el(v)}", v.width,
                       origin)

    def transpose_times(self, l: int, v: Value) -> Value:
        if v.kind == "vec":
            return self.emit(self.product(self.name(v), f"W{l}"), "vec", width=self.n[l - 1])
        return self.emit(f"np.matmul(W{l}.T, {v.code})", v.kind)

    def product(self, u: str, W: str) -> str:
        return f"np.dot({u}, {W})" if self.flavor == "numba" else f"{u} @ {W}"

    def times(self, l: int, v: Value) -> Value:
        return self.emit(self.product(self.name(v), f"W{l}.T"), "vec", width=self.n[l])

    def bind_delta(self, l: int, v: Value) -> Value:
        return Value(self.name(v, f"delta{l}"), "vec", width=self.n[l])

    def add(self, u: Value, v: Value) -> Value:
        u, v = self.materialize(u), self.materialize(v)
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

    # ---- H_C at the output, in the fused forms

    def gauss_newton_output(self) -> str:
        out = self.output_curvature()
        assert out.gauss_newton is not None
        return self.unit("gn", out.gauss_newton, out.names)

    def absorbed_hessian(self) -> Value:
        """H_C in z as a matrix per sample: the product form applied to every unit vector."""
        n = self.n[-1]
        form = self.output_curvature().product
        assert form is not None
        code = self.layer_wide(forms.layer_wide(form, "_output_curvature"), f"(batch, {n}, {n})",
                               a=f"{self.a(self.L)}[:, None, :]", y="y[:, None, :]",
                               v=f"{EYE.format(n=n)}[None, :, :]")
        return self.emit(code, "mat")



def _n(v: Value) -> str:
    return f"{v.code}.shape[1]"

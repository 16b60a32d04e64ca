"""Curvature programs: the recursions of ``curvature_recursions`` recorded once, single
assignment.

``CurvatureRecorder`` is ``program.Recorder`` with the operations of
``curvature_recursions.CURVATURE_OPS``: each appends one ``Statement`` and hands back a
``Ref``, its shape checked as it is recorded. Values are matrices now (Ω_l is n_l × n_l,
Γ_l is n_l × P_(≥l)), so ``activation_vjp`` and ``transpose_times`` take any number of
columns. A ``CurvatureProgram`` is a ``Program`` that also names what it bound: Ω_l, Γ_l,
the Hessian's block rows, the tangents ż_l and δ̇_l. It is replayed by ``run`` on any
implementation of the operations, statement by statement; its fingerprint names it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from .program import REPLAY, Program, ProgramError, Size, Statement, same_shape
from .recorder import Recorder, Ref

PARAMS_FROM = sp.IndexedBase("P", integer=True, positive=True)  # P_(≥l), for symbolic widths


def _expr(n: Any) -> Any:
    return n.expr if isinstance(n, Size) else n


def _text(shape: tuple) -> str:
    return "(" + ", ".join(str(_expr(n)) for n in shape) + ")"


class CurvatureRecorder(Recorder):
    """``Recorder`` with the curvature operations; ``params(l)`` is P_l = n_l (n_(l-1) + 1) and
    ``params_from(l)`` is P_(≥l) = P_l + ... + P_L (a symbol P_l for symbolic widths)."""

    def __init__(self, L: int, width: Callable[[Any], Any], name: str = ""):
        super().__init__(L, width, name)
        self.bound: dict[str, dict[Any, str]] = {k: {} for k in BINDINGS}

    # ---- sizes

    def params(self, l: Any) -> Any:
        n, m = _expr(self.width(l)), _expr(self.width(l - 1))
        size = n * (m + 1)
        return Size(size) if isinstance(self.width(l), Size) else size

    def params_from(self, l: Any) -> Any:
        if isinstance(self.width(l), Size):
            l = _layer_expr(l)
            last = sp.sympify(l - _layer_expr(self.L)) == 0  # P_(≥L) is P_L
            return self.params(l) if last else Size(PARAMS_FROM[l])
        return sum(self.params(m) for m in range(l, self.L + 1))

    def _shaped(self, value: Any, want: tuple, what: str) -> Ref:
        ref = self._ref(value, what)
        for got, need in zip(ref.shape, want):
            if need is not None and not same_shape((got,), (need,)):
                need_text = _text(tuple("*" if n is None else n for n in want))
                raise ProgramError(f"{what}: {ref.name} has shape {_text(ref.shape)}, the "
                                   f"operation needs {need_text}")
        return ref

    def _bind(self, kind: str, l: Any, value: Ref, shape: tuple, op: str) -> Ref:
        if l in self.bound[kind]:
            raise ProgramError(f"the program binds {kind} {l} twice; a program binds each once")
        value = self._shaped(value, shape, f"{op}({l})")
        target = f"{BINDINGS[kind]}{self.layer_name(l)}"
        self.bound[kind][l] = target
        return self.emit(op, l, (value,), value.shape, target=target)

    def layer_name(self, l: Any) -> str:
        return self.delta_name(l).removeprefix("delta")

    # ---- first-order operations on matrices

    def activation_vjp(self, l: Any, v: Any) -> Ref:
        l = self.check_layer(l, "activation_vjp")
        v = self._shaped(v, (self.width(l), None), f"activation_vjp({l}, v)")
        return self.emit("activation_vjp", l, (v,), v.shape)

    def transpose_times(self, l: Any, v: Any) -> Ref:
        l = self.check_layer(l, "transpose_times")
        v = self._shaped(v, (self.width(l), None), f"transpose_times({l}, v) = W_{l}ᵀ v")
        return self.emit("transpose_times", l, (v,), (self.width(l - 1), v.shape[1]))

    # ---- curvature

    def cost_hessian(self) -> Ref:
        n = self.width(self.L)
        return self.emit("cost_hessian", None, (), (n, n))

    def sandwich(self, l: Any, M: Any) -> Ref:
        l = self.check_layer(l, "sandwich")
        n = self.width(l)
        return self.emit("sandwich", l, (self._shaped(M, (n, n), f"sandwich({l}, M)"),), (n, n))

    def curvature_residual(self, l: Any, g: Any) -> Ref:
        l = self.check_layer(l, "curvature_residual")
        n = self.width(l)
        g = self._shaped(g, (n, 1), f"curvature_residual({l}, g)")
        return self.emit("curvature_residual", l, (g,), (n, n))

    def congruence(self, l: Any, M: Any) -> Ref:
        l = self.check_layer(l, "congruence")
        n, m = self.width(l), self.width(l - 1)
        M = self._shaped(M, (n, n), f"congruence({l}, M) = W_{l}ᵀ M W_{l}")
        return self.emit("congruence", l, (M,), (m, m))

    def times_parameters(self, l: Any, M: Any) -> Ref:
        l = self.check_layer(l, "times_parameters")
        M = self._shaped(M, (None, self.width(l)), f"times_parameters({l}, M) = M J_{l}")
        return self.emit("times_parameters", l, (M,), (M.shape[0], self.params(l)))

    def parameter_transpose(self, l: Any, R: Any) -> Ref:
        l = self.check_layer(l, "parameter_transpose")
        R = self._shaped(R, (self.width(l), None), f"parameter_transpose({l}, R) = J_{l}ᵀ R")
        return self.emit("parameter_transpose", l, (R,), (self.params(l), R.shape[1]))

    def weight_cross(self, l: Any, v: Any) -> Ref:
        l = self.check_layer(l, "weight_cross")
        v = self._shaped(v, (self.width(l), 1), f"weight_cross({l}, v)")
        return self.emit("weight_cross", l, (v,), (self.width(l - 1), self.params_from(l)))

    def prepend(self, l: Any, A: Any, B: Any) -> Ref:
        l = self.check_layer(l, "prepend")
        A = self._shaped(A, (None, self.params(l)), f"prepend({l}, A, B): A")
        B = self._shaped(B, (A.shape[0], self.params_from(l + 1)), f"prepend({l}, A, B): B")
        return self.emit("prepend", l, (A, B), (A.shape[0], self.params_from(l)))

    def bind_curvature(self, l: Any, M: Any) -> Ref:
        l = self.check_layer(l, "bind_curvature")
        n = self.width(l)
        return self._bind("curvature", l, M, (n, n), "bind_curvature")

    def bind_cross(self, l: Any, R: Any) -> Ref:
        l = self.check_layer(l, "bind_cross")
        return self._bind("cross", l, R, (self.width(l), self.params_from(l)), "bind_cross")

    def hessian_row(self, l: Any, value: Any) -> None:
        l = self.check_layer(l, "hessian_row")
        if l in self.bound["row"]:
            raise ProgramError(f"the program gives the Hessian's block row {l} twice")
        value = self._shaped(value, (self.params(l), self.params_from(l)), f"hessian_row({l})")
        self.bound["row"][l] = value.name
        self.emit("hessian_row", l, (value,), (0, 0), target="")

    # ---- the R-operator

    def tangent_times(self, l: Any, u: Any) -> Ref:
        l = self.check_layer(l, "tangent_times")
        u = self._shaped(u, (self.width(l - 1), 1), f"tangent_times({l}, u) = V_{l} u")
        return self.emit("tangent_times", l, (u,), (self.width(l), 1))

    def tangent_transpose_times(self, l: Any, u: Any) -> Ref:
        l = self.check_layer(l, "tangent_transpose_times")
        u = self._shaped(u, (self.width(l), 1), f"tangent_transpose_times({l}, u) = V_{l}ᵀ u")
        return self.emit("tangent_transpose_times", l, (u,), (self.width(l - 1), 1))

    def tangent_bias(self, l: Any) -> Ref:
        l = self.check_layer(l, "tangent_bias")
        return self.emit("tangent_bias", l, (), (self.width(l), 1))

    def activation_jvp(self, l: Any, u: Any) -> Ref:
        l = self.check_layer(l, "activation_jvp")
        u = self._shaped(u, (self.width(l), 1), f"activation_jvp({l}, u)")
        return self.emit("activation_jvp", l, (u,), u.shape)

    def residual_times(self, l: Any, g: Any, u: Any) -> Ref:
        l = self.check_layer(l, "residual_times")
        n = self.width(l)
        g = self._shaped(g, (n, 1), f"residual_times({l}, g, u): g")
        u = self._shaped(u, (n, 1), f"residual_times({l}, g, u): u")
        return self.emit("residual_times", l, (g, u), (n, 1))

    def cost_hessian_times(self, u: Any) -> Ref:
        n = self.width(self.L)
        u = self._shaped(u, (n, 1), "cost_hessian_times(u)")
        return self.emit("cost_hessian_times", None, (u,), (n, 1))

    def bind_tangent(self, l: Any, u: Any) -> Ref:
        l = self.check_layer(l, "bind_tangent")
        return self._bind("tangent", l, u, (self.width(l), 1), "bind_tangent")

    def tangent(self, l: Any) -> Ref:
        """ż_l as ``bind_tangent`` bound it: a loop reads an earlier layer's tangent by its
        layer, so that it carries nothing from one step to the next (no statement)."""
        l = self.check_layer(l, "tangent")
        if l not in self.bound["tangent"]:
            raise ProgramError(f"tangent({l}): the program reads zdot_{l} before it binds it")
        return Ref(self, self.bound["tangent"][l], (self.width(l), 1))

    def bind_tangent_delta(self, l: Any, u: Any) -> Ref:
        l = self.check_layer(l, "bind_tangent_delta")
        return self._bind("tangent_delta", l, u, (self.width(l), 1), "bind_tangent_delta")

    def program(self, context: str = "") -> CurvatureProgram:
        return CurvatureProgram(tuple(self.statements), dict(self.deltas), dict(self.weight),
                                dict(self.bias), context=context, name=self.name,
                                bound={k: dict(v) for k, v in self.bound.items()})


def _layer_expr(l: Any) -> Any:
    return getattr(l, "expr", l)


# what each binding is called in a program: omega2, cross2, rz2, rdelta2 (rows bind nothing)
BINDINGS = {"curvature": "omega", "cross": "cross", "row": "row", "tangent": "rz",
            "tangent_delta": "rdelta"}


def _replay_row(ops: Any, s: Statement, value: Any) -> None:
    ops.hessian_row(s.layer, value)


CURVATURE_REPLAY: dict[str, Callable[..., Any]] = {
    **REPLAY,
    "cost_hessian": lambda ops, s: ops.cost_hessian(),
    "sandwich": lambda ops, s, M: ops.sandwich(s.layer, M),
    "curvature_residual": lambda ops, s, g: ops.curvature_residual(s.layer, g),
    "congruence": lambda ops, s, M: ops.congruence(s.layer, M),
    "times_parameters": lambda ops, s, M: ops.times_parameters(s.layer, M),
    "parameter_transpose": lambda ops, s, R: ops.parameter_transpose(s.layer, R),
    "weight_cross": lambda ops, s, v: ops.weight_cross(s.layer, v),
    "prepend": lambda ops, s, A, B: ops.prepend(s.layer, A, B),
    "bind_curvature": lambda ops, s, M: ops.bind_curvature(s.layer, M),
    "bind_cross": lambda ops, s, R: ops.bind_cross(s.layer, R),
    "hessian_row": _replay_row,
    "tangent_times": lambda ops, s, u: ops.tangent_times(s.layer, u),
    "tangent_transpose_times": lambda ops, s, u: ops.tangent_transpose_times(s.layer, u),
    "tangent_bias": lambda ops, s: ops.tangent_bias(s.layer),
    "activation_jvp": lambda ops, s, u: ops.activation_jvp(s.layer, u),
    "residual_times": lambda ops, s, g, u: ops.residual_times(s.layer, g, u),
    "cost_hessian_times": lambda ops, s, u: ops.cost_hessian_times(u),
    "bind_tangent": lambda ops, s, u: ops.bind_tangent(s.layer, u),
    "bind_tangent_delta": lambda ops, s, u: ops.bind_tangent_delta(s.layer, u),
}


def replay(statements: Iterable[Statement], ops: Any,
           values: dict[str, Any] | None = None) -> dict[str, Any]:
    """``program.replay`` with the curvature operations too."""
    values = dict(values or {})
    for s in statements:
        result = CURVATURE_REPLAY[s.op](ops, s, *[values[a] for a in s.args])
        if s.target:
            values[s.target] = result
    return values


@dataclass(frozen=True)
class CurvatureProgram(Program):
    """A ``Program`` with what it bound by kind: ``bound["curvature"][l]`` names Ω_l, and
    likewise "cross" (Γ_l), "row" (the Hessian's block row l), "tangent" (ż_l),
    "tangent_delta" (δ̇_l); ``weight``/``bias`` name an R-operator's (H v)_(W_l), (H v)_(b_l)."""

    bound: dict[str, dict[Any, str]] = field(default_factory=dict)

    def run(self, ops: Any) -> dict[str, Any]:
        return replay(self.statements, ops)


def record_curvature(function: Callable[[Any], None], L: int, width: Callable[[Any], Any],
                     context: str = "") -> CurvatureProgram:
    """Run ``function`` once on a ``CurvatureRecorder`` of depth L; its program.

    ProgramError (a ValueError) when it breaks a rule of programs or calls an operation
    wrongly; any other exception propagates unchanged."""
    name = getattr(function, "__name__", None)
    recorder = CurvatureRecorder(L, width, name if isinstance(name, str) else
                                 type(function).__name__)
    function(recorder)
    return recorder.program(context)

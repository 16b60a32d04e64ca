"""A curvature program recorded once for every depth and width (``generic`` for second order).

``record_curvature_generic`` runs a curvature recursion on ``GenericCurvatureRecorder``:
``core.generic``'s recorder (depth the symbol L, widths n_l, ``ops.layers()`` yielding L,
then a generic l; comparisons of layers explored case by case) with the operations of
``curvature_program``. P_(≥l), the parameters of layers l..L, is the symbol P_l.

The loop may carry from one layer to the next exactly what the program binds: δ_l, Ω_l,
Γ_l and δ̇_l (``bind_delta``, ``bind_curvature``, ``bind_cross``, ``bind_tangent_delta``).

A forward loop before it (the R-operator's tangents) runs over ``ops.layers_up()``: layer
1, then a generic l standing for every layer 2 <= l <= L, which may not branch on l (it
takes the same steps at every such layer, so one recording is all of them). It carries
nothing: what one of its steps computes is read by no other part of the program, and an
earlier tangent is read by its layer, ``ops.tangent(l - 1)``, which the instance resolves
to the ż bound there (refused if no earlier step bound it).

``instance(K, widths)`` writes the program a network of depth K runs, named as
``CurvatureRecorder`` names it, so that it equals the per-network recording exactly when
both are the same program.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from .curvature_program import PARAMS_FROM, CurvatureProgram, CurvatureRecorder
from .generic import (
    AFTER,
    BOX,
    DEPTH,
    GENERIC,
    LAYER,
    MAX_CASES,
    PRELUDE,
    TOP,
    Concrete,
    Explorer,
    GenericRecorder,
    Layer,
)
from .generic_layers import BETWEEN, UP, UP_FIRST, CaseParts, at, condition
from .program import ConcreteSize, ProgramError, Size, Statement
from .recorder import Ref

CARRIED = ("delta", "curvature", "cross", "tangent_delta")  # what the loop down may carry


class GenericCurvatureRecorder(CurvatureRecorder, GenericRecorder):
    """``CurvatureRecorder`` on symbolic layers and widths, tagged by segment (dense layers
    only: L, then the generic l ≤ L - 1)."""

    second_apart = False

    def __init__(self, explorer: Explorer, name: str = ""):
        GenericRecorder.__init__(self, explorer, name)
        self.bound = {k: {} for k in ("curvature", "cross", "row", "tangent", "tangent_delta")}
        self.reads: dict[str, tuple[str, sp.Expr]] = {}  # ops.tangent(l)'s name -> (kind, l)
        self.made_in: dict[str, str] = {}  # a value computed in the loop up -> its part
        self.up = ""  # "running", then "done": the loop over ops.layers_up()

    def layers_up(self) -> Any:  # type: ignore[override]
        if self.up or self.looped:
            raise Concrete("the recursion loops over ops.layers_up() twice, or after "
                           "ops.layers()")
        self.up = "running"
        return self._layers_up()

    def _layers_up(self) -> Any:
        self.segment = UP_FIRST
        yield Layer(sp.Integer(1), self.explorer)
        if self.explorer.decide(DEPTH, sp.Integer(2), ">="):
            self.segment = UP
            self.explorer.enter_upward()
            yield Layer(LAYER, self.explorer)
            self.explorer.leave_upward()
        self.segment = BETWEEN
        self.up = "done"

    def layers(self) -> Any:
        if self.up == "running":
            raise Concrete("the recursion loops over ops.layers() inside ops.layers_up()")
        return super().layers()

    def tangent(self, l: Any) -> Ref:
        """ż_l, read by its layer: a name the instance resolves to the ż bound there."""
        l = self.check_layer(l, "tangent")
        name = f"tangent({l})"
        self.reads[name] = ("tangent", l)
        return Ref(self, name, (self.width(l), 1))

    def emit(self, op: str, layer: Any, args: tuple, shape: tuple, target: str | None = None,
             constant: Any = None) -> Any:
        ref = super().emit(op, layer, args, shape, target, constant)
        if self.segment in (UP_FIRST, UP):
            self.made_in[ref.name] = self.segment
        return ref

    def _ref(self, value: Any, what: str) -> Ref:
        ref = super()._ref(value, what)
        part = self.made_in.get(ref.name)
        if part is not None and part != self.segment:
            raise Concrete(f"{what}: {ref.name}, a value of one step of the loop over "
                           "ops.layers_up(), is read by another part of the program; read an "
                           "earlier tangent by its layer, ops.tangent(l - 1)")
        return ref

    def program(self, context: str = "") -> CurvatureProgram:  # not for a generic recording
        raise Concrete("a generic recording has cases, not one program")


@dataclass(frozen=True)
class CurvatureCase(CaseParts):
    """One run of the recursion: its comparisons' outcomes, and what it recorded."""

    explorer: Explorer
    statements: tuple[Statement, ...]
    segments: tuple[str, ...]
    bound: dict[str, dict[Any, str]]  # kind -> layer (symbolic) -> name
    generic_from: int
    reads: dict[str, tuple[str, sp.Expr]] = field(default_factory=dict)  # ops.tangent(l)

    @property
    def where(self) -> str:
        return condition(self.explorer)


@dataclass
class GenericCurvatureProgram:
    """The recursion for every depth and width: its cases."""

    cases: list[CurvatureCase]
    name: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        text = "\n\n".join(f"{c.explorer.relations}\n" + "\n".join(
            f"{seg} {s.text()}" for s, seg in zip(c.statements, c.segments))
            for c in self.cases) + "\n" + "\n".join(self.problems)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def instance(self, K: int, width: Callable[[int], int], context: str = "") -> CurvatureProgram:
        """The program of a network of depth K (ProgramError when the cases do not make one)."""
        return _Instance(self, K, width).program(context)


class _Instance:
    """Writes one instance: the prelude, the loop up (layer 1, then the generic part for
    m = 2..K) and what follows it of the case that holds at L = K, its output layer, then
    for m = K - 1..1 the generic part of the case that holds at l = m."""

    def __init__(self, g: GenericCurvatureProgram, K: int, width: Callable[[int], int]):
        if g.problems:
            raise ProgramError(f"the recursion breaks {g.problems[0]}")
        self.K, self.width, self.name = K, width, g.name
        heads = [c for c in g.cases if c.prefix_holds(K)]
        if not heads:
            raise ProgramError(f"no case of the recursion holds at depth {K}")
        head = heads[0]
        self.reads = {name: read for c in g.cases for name, read in c.reads.items()}
        self.statements: list[Statement] = []
        self.bound: dict[str, dict[int, str]] = {k: {} for k in (*CARRIED, "row", "tangent")}
        self.bound_by: dict[tuple[str, int], int] = {}
        self.weight: dict[int, str] = {}
        self.bias: dict[int, str] = {}
        self.count = 0
        before: dict[str, str] = {}  # names bound outside the loops: read anywhere after
        self._write(head.part(PRELUDE), {DEPTH: K}, before, K, {})
        self._write(head.part(UP_FIRST), {DEPTH: K}, dict(before), 1, {})
        for m in range(2, K + 1):  # the loop up takes one step for every l >= 2 (no split)
            self._write(head.part(UP), {DEPTH: K, LAYER: m}, dict(before), m, {})
        self._write(head.part(BETWEEN), {DEPTH: K}, before, K, {})
        self._write(head.part(TOP), {DEPTH: K}, dict(before), K, {})
        top = {s.target for s in head.part(TOP)}
        carried = {name: (kind, layer) for kind in CARRIED
                   for layer, name in head.bound.get(kind, {}).items()
                   if name in top}
        for m in range(K - 1, 0, -1):
            case = next((c for c in heads if c.holds(K, m)), None)
            if case is None:
                raise ProgramError(f"no case of the recursion holds at layer {m} of depth {K}")
            here = {name: (kind, at(layer, (m + 1, 0))) for name, (kind, layer) in
                    carried.items()}
            self._write(case.part(GENERIC), {DEPTH: K, LAYER: m}, dict(before), m, here)

    def _arg(self, a: str, point: dict, names: dict[str, str], iteration: int,
             carried: dict[str, tuple[str, int]]) -> str:
        if a in carried:
            kind, layer = carried[a]
            if self.bound_by.get((kind, layer)) != iteration + 1:
                raise ProgramError(f"at depth {self.K}, layer {iteration} reads {kind} {layer}, "
                                   "which the layer above does not bind")
            return self.bound[kind][layer]
        if a in self.reads:  # ops.tangent(m): the ż an earlier step bound at m
            kind, expr = self.reads[a]
            layer = int(sp.sympify(expr).xreplace(point))
            if layer not in self.bound[kind]:
                raise ProgramError(f"at depth {self.K}, layer {iteration} reads {kind} {layer}, "
                                   "which no earlier step binds")
            return self.bound[kind][layer]
        if a in names:
            return names[a]
        raise ProgramError(f"at depth {self.K}, layer {iteration} reads {a}, a value of "
                           "another layer that it does not bind; the loop down may carry only "
                           "δ, Ω, Γ and δ̇, the loop up nothing")

    def _write(self, statements: list[Statement], point: dict, names: dict[str, str],
               iteration: int, carried: dict[str, tuple[str, int]]) -> None:
        for s in statements:
            args = [self._arg(a, point, names, iteration, carried) for a in s.args]
            at: Any = None if s.layer is None else int(sp.sympify(s.layer).xreplace(point))
            binds = _KINDS.get(s.op)
            if s.op == "gradient":  # an R-operator's (H v)_(W_l), (H v)_(b_l)
                if at in self.weight:
                    raise ProgramError(f"at depth {self.K} the recursion gives layer {at}'s "
                                       "H v twice")
                target = ""
                self.weight[at], self.bias[at] = args[0], args[1]
            elif binds is not None:
                if at in self.bound[binds]:
                    raise ProgramError(f"at depth {self.K} the recursion binds {binds} {at} "
                                       "twice")
                target = "" if binds == "row" else f"{_PREFIX[binds]}{at}"
                self.bound[binds][at] = args[0] if binds == "row" else target
                self.bound_by[(binds, at)] = iteration
            else:
                self.count += 1
                target = f"t{self.count}"
            if s.target and target:
                names[s.target] = target
            self.statements.append(Statement(target, s.op, at, tuple(args),
                                             (self._size(s.shape[0], point),
                                              self._size(s.shape[1], point)), s.constant))

    def _size(self, n: Any, point: dict) -> int:
        value = sp.sympify(n.expr if isinstance(n, Size) else n).xreplace(point)
        if isinstance(value, sp.Indexed):
            k = int(value.indices[0])
            if value.base == PARAMS_FROM:
                return sum(self.width(m) * (self.width(m - 1) + 1) for m in range(k, self.K + 1))
            return self.width(k)
        return int(value.xreplace({i: self.width(int(i.indices[0]))
                                   for i in value.atoms(sp.Indexed)}))

    def program(self, context: str) -> CurvatureProgram:
        missing = [m for m in range(1, self.K + 1)
                   if m not in self.bound["row"] and m not in self.weight]
        if missing:
            raise ProgramError(f"at depth {self.K} the recursion gives no block row (or H v) "
                               f"for layer {missing[0]}")
        bound = {k: dict(self.bound[k])
                 for k in ("curvature", "cross", "row", "tangent", "tangent_delta")}
        return CurvatureProgram(tuple(self.statements), dict(self.bound["delta"]),
                                dict(self.weight), dict(self.bias), context=context,
                                name=self.name, bound=bound)


_KINDS = {"bind_delta": "delta", "bind_curvature": "curvature", "bind_cross": "cross",
          "hessian_row": "row", "bind_tangent": "tangent",
          "bind_tangent_delta": "tangent_delta"}
_PREFIX = {"delta": "delta", "curvature": "omega", "cross": "cross", "tangent": "rz",
           "tangent_delta": "rdelta"}


def record_curvature_generic(function: Callable[[Any], None]) -> GenericCurvatureProgram:
    """Run ``function`` once per case on a ``GenericCurvatureRecorder``. ``Concrete`` when it
    reads a concrete depth or width; a case that raises anything else is a problem of it."""
    name = getattr(function, "__name__", None)
    name = name if isinstance(name, str) else type(function).__name__
    cases: list[CurvatureCase] = []
    problems: list[str] = []
    forced: list[bool] = []
    while True:
        if len(cases) + len(problems) >= MAX_CASES:
            raise Concrete(f"the recursion takes more than {MAX_CASES} cases")
        explorer = Explorer(forced)
        ops = GenericCurvatureRecorder(explorer, name)
        try:
            function(ops)
            if (ops.looped and not ops.completed) or ops.up == "running":
                raise Concrete("the recursion leaves its loop over ops.layers() or "
                               "ops.layers_up() early")
        except (Concrete, ConcreteSize) as refusal:
            raise Concrete(str(refusal)) from None
        except Exception as error:  # a case that breaks: a failed claim, not a crash
            problems.append(f"{condition(explorer)}: {type(error).__name__}: {error}")
        else:
            bound = {"delta": dict(ops.deltas), **{k: dict(v) for k, v in ops.bound.items()}}
            prefix = explorer.generic_from
            cases.append(CurvatureCase(explorer, tuple(ops.statements), tuple(ops.segments),
                                       bound, len(explorer.relations) if prefix is None
                                       else prefix, dict(ops.reads)))
        flip = [i for i, v in enumerate(explorer.made) if v]
        if not flip:
            break
        forced = [*explorer.made[: flip[-1]], False]
    return GenericCurvatureProgram(cases, name, problems)


__all__ = ["AFTER", "BOX", "GenericCurvatureProgram", "record_curvature_generic"]

"""A curvature program recorded once for every depth and width (``generic`` for second order).

``record_curvature_generic`` runs a curvature recursion on ``GenericCurvatureRecorder``:
``core.generic``'s recorder (depth the symbol L, widths n_l, ``ops.layers()`` yielding L,
then a generic l; comparisons of layers explored case by case) with the operations of
``curvature_program``. P_(≥l), the parameters of layers l..L, is the symbol P_l.

The loop may carry from one layer to the next exactly what the program binds: δ_l, Ω_l
and Γ_l (``bind_delta``, ``bind_curvature``, ``bind_cross``). ``instance(K, widths)`` writes
the program a network of depth K runs, named as ``CurvatureRecorder`` names it, so that it
equals the per-network recording exactly when both are the same program.
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
    CaseParts,
    Concrete,
    Explorer,
    GenericRecorder,
)
from .generic_layers import at, condition
from .program import ConcreteSize, ProgramError, Size, Statement

CARRIED = ("delta", "curvature", "cross")  # what the loop may carry, by binding kind


class GenericCurvatureRecorder(CurvatureRecorder, GenericRecorder):
    """``CurvatureRecorder`` on symbolic layers and widths, tagged by segment (dense layers
    only: L, then the generic l ≤ L - 1)."""

    second_apart = False

    def __init__(self, explorer: Explorer, name: str = ""):
        GenericRecorder.__init__(self, explorer, name)
        self.bound = {k: {} for k in ("curvature", "cross", "row", "tangent", "tangent_delta")}

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
    """Writes one instance: the prelude and output layer of the case that holds at L = K,
    then for m = K - 1..1 the generic part of the case that holds at l = m."""

    def __init__(self, g: GenericCurvatureProgram, K: int, width: Callable[[int], int]):
        if g.problems:
            raise ProgramError(f"the recursion breaks {g.problems[0]}")
        self.K, self.width, self.name = K, width, g.name
        heads = [c for c in g.cases if c.prefix_holds(K)]
        if not heads:
            raise ProgramError(f"no case of the recursion holds at depth {K}")
        self.statements: list[Statement] = []
        self.bound: dict[str, dict[int, str]] = {k: {} for k in (*CARRIED, "row")}
        self.bound_by: dict[tuple[str, int], int] = {}
        self.count = 0
        before: dict[str, str] = {}
        self._write(heads[0].part(PRELUDE), {DEPTH: K}, before, K, {})
        self._write(heads[0].part(TOP), {DEPTH: K}, dict(before), K, {})
        top = {s.target for s in heads[0].part(TOP)}
        carried = {name: (kind, layer) for kind in CARRIED
                   for layer, name in heads[0].bound.get(kind, {}).items()
                   if name in top}
        for m in range(K - 1, 0, -1):
            case = next((c for c in heads if c.holds(K, m)), None)
            if case is None:
                raise ProgramError(f"no case of the recursion holds at layer {m} of depth {K}")
            here = {name: (kind, at(layer, (m + 1, 0))) for name, (kind, layer) in
                    carried.items()}
            self._write(case.part(GENERIC), {DEPTH: K, LAYER: m}, dict(before), m, here)

    def _write(self, statements: list[Statement], point: dict, names: dict[str, str],
               iteration: int, carried: dict[str, tuple[str, int]]) -> None:
        for s in statements:
            args = []
            for a in s.args:
                if a in carried:
                    kind, layer = carried[a]
                    if self.bound_by.get((kind, layer)) != iteration + 1:
                        raise ProgramError(f"at depth {self.K}, layer {iteration} reads {kind} "
                                           f"{layer}, which the layer above does not bind")
                    args.append(self.bound[kind][layer])
                elif a in names:
                    args.append(names[a])
                else:
                    raise ProgramError(f"at depth {self.K}, layer {iteration} reads {a}, a "
                                       "value of the layer above that it does not bind; the "
                                       "loop may carry only δ, Ω and Γ")
            at: Any = None if s.layer is None else int(sp.sympify(s.layer).xreplace(point))
            binds = _KINDS.get(s.op)
            if binds is not None:
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
        missing = [m for m in range(1, self.K + 1) if m not in self.bound["row"]]
        if missing:
            raise ProgramError(f"at depth {self.K} the recursion gives no block row for layer "
                               f"{missing[0]}")
        bound = {"curvature": dict(self.bound["curvature"]), "cross": dict(self.bound["cross"]),
                 "row": dict(self.bound["row"]), "tangent": {}, "tangent_delta": {}}
        return CurvatureProgram(tuple(self.statements), dict(self.bound["delta"]), {}, {},
                                context=context, name=self.name, bound=bound)


_KINDS = {"bind_delta": "delta", "bind_curvature": "curvature", "bind_cross": "cross",
          "hessian_row": "row"}
_PREFIX = {"delta": "delta", "curvature": "omega", "cross": "cross"}


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
            if ops.looped and not ops.completed:
                raise Concrete("the recursion leaves its loop over ops.layers() early")
        except (Concrete, ConcreteSize) as refusal:
            raise Concrete(str(refusal)) from None
        except Exception as error:  # a case that breaks: a failed claim, not a crash
            problems.append(f"{condition(explorer)}: {type(error).__name__}: {error}")
        else:
            bound = {"delta": dict(ops.deltas), **{k: dict(v) for k, v in ops.bound.items()}}
            prefix = explorer.generic_from
            cases.append(CurvatureCase(explorer, tuple(ops.statements), tuple(ops.segments),
                                       bound, len(explorer.relations) if prefix is None
                                       else prefix))
        flip = [i for i, v in enumerate(explorer.made) if v]
        if not flip:
            break
        forced = [*explorer.made[: flip[-1]], False]
    return GenericCurvatureProgram(cases, name, problems)


__all__ = ["AFTER", "BOX", "GenericCurvatureProgram", "record_curvature_generic"]

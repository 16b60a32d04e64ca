"""The recursion's steps for the general theorem, as index formulas grouped into lemmas.

The recursion is recorded once for a symbolic depth L and widths n_l (``core.generic``):
a few cases, each a program in L and a generic layer l. Each case is replayed on
``IndexOps``; every δ it binds, and every gradient it gives, is one step: δ_L the base
case, δ_(L-1) and δ_(l-1) a step back (relabelled as δ_l from δ_(l+1)), ∂C/∂W and ∂C/∂b
the parameters. Equal steps are grouped (``trace_groups``): one lemma each. Writing the
cases out at depths 1..BOX checks that every layer's δ and gradients are bound exactly once
at every depth (every combination of the cases' comparisons occurs up to BOX), so the
grouped lemmas are all there is to prove: the trace claim is "proved".

A recursion that reads a concrete depth or width (a loop over ``range(ops.L, 0, -1)``,
``len(v)``) cannot be recorded for all of them. It is then traced at depths 1..``depths``
only, on symbolic widths, and its trace claim is "checked" there, never "proved".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import sympy as sp

from ..core import registry
from ..core.generic import (
    BOX,
    DENSE,
    DEPTH,
    GENERIC,
    LAYER,
    PRELUDE,
    SECOND,
    TOP,
    Case,
    Concrete,
    GenericProgram,
    GenericRecorder,
    Template,
    record_generic,
)
from ..core.program import ConcreteSize, ProgramError, Size, replay
from ..core.recorder import record
from ..core.status import Status
from . import kind_lemmas
from .index_entries import DELTA, G, I, IndexMatrix, IndexVector, J, K, fresh, same_shape, shape_of
from .indexed import WIDTH, IndexOps, IndexTrace
from .trace_groups import Group, Groups, add, add_identity


@dataclass
class Traced:
    """The grouped steps, what went wrong, and how far the trace reaches."""

    groups: Groups
    problems: list[str]
    status: Status  # proved: recorded for every depth; checked: only at the depths run
    how: str
    cases: int = 0


def trace(recursion: Callable[[Any], None], hidden, out, cost, depths: int,
          layers: tuple[Template, ...] | None = None, depth: int | None = None) -> Traced:
    """The recursion's steps, grouped by kind ("base", "step", "W", "b"; and for other layer
    kinds "pass back" and each parameter). ``depth`` K: ``layers`` are one network's K layers,
    recorded at depth K only (every size symbolic)."""
    templates = layers or (DENSE, DENSE)
    dense = all(t.kind.name == "dense" for t in templates) and depth is None
    try:
        program = record_generic(recursion, templates, depth)
    except Concrete as refusal:
        if not dense:
            recorded = "for every depth" if depth is None else f"at depth {depth}"
            return Traced({}, [f"the recursion is not recorded {recorded}: {refusal}"],
                          Status.FAILED, "refused")
        return _at_depths(recursion, hidden, out, cost, depths, str(refusal))
    groups: Groups = {"base": {}, "step": {}, "W": {}, "b": {}}
    problems = list(program.problems)
    for case in program.cases:
        recorder, ops = case_ops(case, templates, depth, hidden, out, cost)
        try:
            replay_case(case, ops)
            if dense:
                _group_dense(case, ops, groups)
            else:
                _group_kinds(case, ops, groups, recorder, cost)
        except Exception as error:  # a step IndexOps cannot form: a failed claim, not a crash
            problems.append(f"{_where(case)}: {type(error).__name__}: {error}")
    problems += _coverage(program)
    cases = len(program.cases)
    if depth is not None:
        how = (f"recorded once at depth {depth} with every size symbolic, layer m as "
               f"L - ({depth} - m) at L = {depth}; written out at depth {depth}, it binds "
               "every layer's δ and gradients exactly once")
        return Traced(groups, problems, Status.PROVED, how, cases)
    how = (f"recorded once for a symbolic depth L and widths n_l: {cases} case"
           f"{'s' if cases != 1 else ''} ({'; '.join(_where(c) for c in program.cases)}); "
           f"written out at every depth 1..{BOX}, each binds every layer's δ and gradients "
           f"exactly once (its comparisons of layers with constants up to 3 take every "
           f"combination of values by depth {BOX})")
    return Traced(groups, problems, Status.PROVED, how, cases)


def case_ops(case: Case, templates: tuple[Template, ...], depth: int | None, hidden, out,
             cost) -> tuple[GenericRecorder, IndexOps]:
    """A recorded case's recorder, and the index notation its steps are replayed on."""
    recorder = GenericRecorder(case.explorer, "", templates, depth)
    return recorder, IndexOps(hidden, out, cost, structure=recorder._at, width=recorder.width_at,
                              shape=recorder.shape_at,
                              activation_at=_activation_at(recorder, hidden, out))


def _where(case: Case) -> str:
    """The case's comparisons as one range per quantity: "L ≥ 3", "L = 2"."""
    if case.explorer.depth is not None:
        return f"L = {case.explorer.depth}"
    bounds: dict[sp.Expr, list] = {}  # quantity -> [lowest, highest], integers or None
    for difference, relation, outcome in case.explorer.relations:
        relation = relation if outcome else _NOT[relation]
        constant = difference.as_coeff_Add()[0]
        quantity, value = difference - constant, -constant
        low, high = bounds.setdefault(quantity, [1 if quantity.is_positive else None, None])
        if relation in (">", ">=", "=="):
            value_low = value + 1 if relation == ">" else value
            bounds[quantity][0] = value_low if low is None else max(low, value_low)
        if relation in ("<", "<=", "=="):
            value_high = value - 1 if relation == "<" else value
            bounds[quantity][1] = value_high if high is None else min(high, value_high)
        if relation == "!=":  # never made by the recorder; said as it is
            return " and ".join(_condition(*r) for r in case.explorer.relations)
    said = [_range(quantity, low, high) for quantity, (low, high) in bounds.items()]
    return " and ".join(said) if said else "every depth"


def _range(quantity: sp.Expr, low, high) -> str:
    if low is not None and low == high:
        return f"{quantity} = {low}"
    if high is None:
        return f"{quantity} ≥ {low}"
    return f"{quantity} ≤ {high}" if low is None else f"{low} ≤ {quantity} ≤ {high}"


_SAY = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠"}
_NOT = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}


def _condition(difference: sp.Expr, relation: str, outcome: bool) -> str:
    """``L - 1 > 0`` as "L > 1", read the way the outcome went."""
    relation = relation if outcome else _NOT[relation]
    constant = difference.as_coeff_Add()[0]
    return f"{difference - constant} {_SAY[relation]} {-constant}"


def _coverage(program: GenericProgram) -> list[str]:
    problems = []
    for depth in (range(1, BOX + 1) if program.depth is None else [program.depth]):
        try:
            program.instance(depth, lambda m: 2)
        except ProgramError as error:
            problems.append(str(error))
            break
    return problems


def replay_case(case: Case, ops: IndexOps) -> None:
    """The case's statements on ``ops``: before the loop, layer L, layer L - 1, then the
    generic layer l, which reads what L - 1 bound as layer l + 1's."""
    before = replay(case.part(PRELUDE), ops)
    top = replay(case.part(TOP), ops, before)
    second = replay(case.part(SECOND), ops, top)
    above = {DEPTH: LAYER + 2}
    carried = {name: ops.delta(layer.xreplace(above))
               for layer, name in case.deltas.items() if name in second and name not in top}
    carried.update({name: ops.grad(layer.xreplace(above))
                    for layer, name in case.grads.items() if name in second and name not in top})
    replay(case.part(GENERIC), ops, {**before, **carried})


def _group_dense(case: Case, ops: IndexOps, groups: Groups) -> None:
    where = _where(case)
    trace = ops.trace
    for layer, value in trace.deltas.items():
        base = sp.sympify(layer) == DEPTH
        add(groups["base" if base else "step"], _vector(value, WIDTH[layer], K),
            layer if not base else None, where)
    for layer, value in trace.weight.items():
        add(groups["W"], _matrix(value, (WIDTH[layer], WIDTH[layer - 1])), layer, where)
    for layer, value in trace.bias.items():
        add(groups["b"], _vector(value, WIDTH[layer], J), layer, where)


def _activation_at(recorder: GenericRecorder, hidden, out) -> Callable[[sp.Expr], Any]:
    """A layer's σ: at one depth, each layer's own (its template's); in a family, the
    theorem's hidden one below L and its output one at L."""
    def act(e: sp.Expr) -> Any:
        if recorder.depth is not None:
            return registry.activation(dict(recorder._at(e).layer.options)["activation"])
        return out if sp.sympify(e) == DEPTH else hidden
    return act


def _group_kinds(case: Case, ops: IndexOps, groups: Groups, recorder: GenericRecorder,
                 cost) -> None:
    """Every quantity the case bound, with the truth it must equal (``kind_lemmas``)."""
    where = _where(case)
    trace = ops.trace
    layers = kind_lemmas.Layers(recorder._at, recorder.shape_at, remember=True)
    act = ops.act

    def binds_g(e: sp.Expr) -> bool:  # a layer whose skip passes ∂C/∂a back binds it
        return layers.maps(e).skip is not None

    def passed(e: sp.Expr) -> Callable[[tuple], sp.Expr]:
        """∂C/∂a^{(e)}_j by the chain rule: the cost's gradient at L, else what e + 1 passes
        back of its δ and g."""
        if sp.sympify(e) == DEPTH:
            return lambda j: kind_lemmas.cost_gradient(cost, j, layers)
        return lambda j: kind_lemmas.passed_back(layers, e, j, binds_g(e + 1))

    def g_true(e: sp.Expr) -> Callable[[tuple], sp.Expr]:
        """∂C/∂a^{(e)}_j as layer e's step reads it: its bound symbol g, else as passed."""
        return (lambda j: G[(e, *j)]) if binds_g(e) else passed(e)

    for e, value in trace.grads.items():
        shape = layers.shape(e)
        index = free_indices(len(shape), (K,))
        add_identity(groups, "pass back" if sp.sympify(e) != DEPTH else "base", e,
                     entry_at(value, shape, index), passed(e)(index), index_ranges(index, shape),
                     where)
    for e, value in trace.deltas.items():
        shape = layers.z_shape(e)
        index = free_indices(len(shape), (K,))
        truth = kind_lemmas.delta_truth(layers, e, index, g_true(e), act(e))
        name = "base" if sp.sympify(e) == DEPTH and e not in trace.grads else "step"
        add_identity(groups, name, e, entry_at(value, shape, index), truth,
                     index_ranges(index, shape), where)
    for (e, name), value in trace.param_grads.items():
        tensor = next(p for p in layers.maps(e).params if p.name == name)
        shape = layers.axes(e, tensor)
        index = free_indices(len(shape), (J,))
        truth = kind_lemmas.parameter_truth(layers, e, name, index, g_true(e), act(e))
        add_identity(groups, name, e, entry_at(value, shape, index), truth,
                     index_ranges(index, shape), where)


def free_indices(rank: int, one: tuple) -> tuple:
    """The free indices of a lemma about a tensor of ``rank`` axes: k for a vector (j for a
    bias), j, k for a matrix, j, k, i beyond."""
    return one if rank == 1 else (J, K, I)[:rank]


def index_ranges(index: tuple, shape: tuple) -> dict:
    return {i: (1, n) for i, n in zip(index, shape)}


def entry_at(v: object, shape: tuple, index: tuple) -> tuple[sp.Expr | None, str]:
    """The entry at ``index`` of a quantity the recursion bound, if it has ``shape``."""
    found = (v.shape if isinstance(v, IndexMatrix) else shape_of(v))
    if found is not None and same_shape(tuple(found), shape):
        return v.at(*index), ""  # type: ignore[attr-defined]
    return None, f"a tensor of shape {shape} expected, got {found or type(v).__name__}"


def _vector(v: object, length: sp.Expr, index: sp.Symbol) -> tuple[sp.Expr | None, str]:
    if isinstance(v, IndexVector) and v.length == length:
        return v.at(index), ""
    got = f"length {v.length}" if isinstance(v, IndexVector) else type(v).__name__
    return None, f"a vector of length {length} expected, got {got}"


def _matrix(v: object, shape: tuple) -> tuple[sp.Expr | None, str]:
    if isinstance(v, IndexMatrix) and v.shape == shape:
        return v.at(J, K), ""
    got = f"shape {v.shape}" if isinstance(v, IndexMatrix) else type(v).__name__
    return None, f"a matrix of shape {shape} expected, got {got}"


# ---------------------------------------------------------------- at concrete depths only


def _at_depths(recursion: Callable[[Any], None], hidden, out, cost, depths: int,
               refusal: str) -> Traced:
    """The recursion recorded at depths 1..``depths`` on symbolic widths, each layer m of
    depth K labelled L - (K - m): what it does at other depths is not seen."""
    groups: Groups = {"base": {}, "step": {}, "W": {}, "b": {}}
    problems: list[str] = []
    for depth in range(1, depths + 1):
        try:
            found = at_depth(recursion, depth, IndexOps(hidden, out, cost))
        except ConcreteSize as error:
            problems.append(str(error))
            break
        except Exception as error:  # a broken recursion is a failed claim, not a crash
            problems.append(f"at depth {depth} it raises {type(error).__name__}: {error}")
            continue
        missing = [m for m in range(1, depth + 1) if _label(depth, m) not in found.deltas
                   or _label(depth, m) not in found.weight]
        if missing:
            problems.append(f"at depth {depth} it defines no delta or gradient for layer "
                            f"{missing[0]}")
            continue
        where = f"depth {depth}"
        for m in range(1, depth + 1):
            layer = _label(depth, m)
            base = m == depth
            add(groups["base" if base else "step"],
                 _vector(found.deltas[layer], WIDTH[layer], K), None if base else layer, where)
            add(groups["W"], _matrix(found.weight[layer], (WIDTH[layer], WIDTH[layer - 1])),
                 layer, where)
            add(groups["b"], _vector(found.bias[layer], WIDTH[layer], J), layer, where)
    how = (f"not recorded for every depth ({refusal}); traced at depths 1..{depths} only, "
           "so checked there, not proved. A loop over ops.layers() that uses no concrete "
           "depth or width is recorded once for all of them")
    return Traced(groups, problems, Status.CHECKED, how)


def _label(depth: int, m: int) -> sp.Expr:
    return DEPTH - (depth - m)


def at_depth(recursion: Callable[[Any], None], depth: int, ops: IndexOps) -> IndexTrace:
    """``recursion`` recorded at one concrete depth on symbolic widths and replayed on
    ``ops``, layer m labelled L - (depth - m); its trace in index notation."""
    program = record(recursion, depth, lambda m: Size(WIDTH[_label(depth, m)]))
    replay([replace(s, layer=None if s.layer is None else _label(depth, s.layer))
            for s in program.statements], ops)
    return ops.trace


__all__ = ["DELTA", "Group", "Groups", "Traced", "fresh", "trace"]

"""H v by the R-operator, for every depth and width: the program the generated ``hvp`` runs
is D_v ∇C.

``curvature_recursions.pearlmutter_hvp`` runs a loop up (the tangents ż_l over ``ops.layers_up()``)
and then one down (δ_l, δ̇_l and (H v)_(θ_l) over ``ops.layers()``), each step reading an
earlier tangent by its layer (``ops.tangent``). The argument, by induction over the
statements the program binds, in the order it binds them:

1. **trace**: the program is recorded once for a symbolic depth L and widths n_l
   (``core.curvature_generic``): layer 1 of the loop up, its generic layer l (2 <= l <= L,
   the same steps at every such l), the output layer L of the loop down and its generic
   layer l (l <= L - 1), a few cases, each replayed on entry formulas
   (``hvp_lemmas.HvpIndexOps``), each step relabelled at the symbolic layer l (δ_L and δ̇_L
   stay at L) and grouped: equal steps, one lemma. Written out at every depth 1..``BOX``,
   where every case of its comparisons occurs, it binds every layer's ż, δ, δ̇ and
   (H v) exactly once, each tangent it reads bound before.
2. **premise**: the program's own δ_L and δ_l steps are ∂C/∂z (the first-order base and
   step lemmas, ``general``), so δ_l = ∂C/∂z_l as a function of θ.
3. **lemmas** (``hvp_lemmas.identities``, symbolic identities in the widths and the layer,
   also written out at small widths): each bound tangent is the directional derivative
   D_v of what its primal stands for, given the tangents it reads: ż_1, then ż_l from
   ż_(l-1); δ̇_L from ż_L; δ̇_l from δ̇_(l+1) and ż_l; (H v)_(θ_l) from δ̇_l and ż_(l-1).
4. **induction**: forward over l for ż, then backward for δ̇, each hypothesis the lemma
   before; so (H v)_(θ_l) = D_v ∂C/∂θ_l = Σ_q ∂²C/∂θ_l ∂θ_q v_q, row l of H v, for every v
   and every depth.

A program that reads a concrete depth, branches inside its loop up, or carries a value
from one step of the loop up to another (rather than reading ż by its layer) cannot be
recorded for every depth: its trace is "not compared" and nothing is proved. The claims
speak for a network whose hvp program is the instance, at its depth and widths, of the
one recorded (``covers_hvp``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import sympy as sp

from ..core import curvature_recursions
from ..core.curvature_generic import CurvatureCase, record_curvature_generic
from ..core.curvature_program import replay
from ..core.generic import BOX, DEPTH, GENERIC, LAYER, PRELUDE, TOP, Concrete
from ..core.generic_layers import BETWEEN, UP, UP_FIRST, at
from ..core.program import ProgramError
from . import curvature_truths, general
from .claims import Claim, concluded
from .curvature_truths import Truths
from .grouped import group_claim, group_key, relabel
from .hvp_lemmas import DDOT, FIRST, STATEMENTS, STEP, ZDOT, HvpIndexOps, identities
from .index_entries import named

HVP = curvature_recursions.pearlmutter_hvp
PREMISE = {"delta base": curvature_truths.STATEMENTS["delta base"],
           "delta step": curvature_truths.STATEMENTS["delta step"]}


def _points(case: CurvatureCase, segment: str) -> list[tuple[int, int]]:
    """(K, m): each depth K <= BOX at which the case runs ``segment``, and its layer l = m
    there (1 for layer 1 of the loop up, read at l; 0 where l does not occur)."""
    depths = [K for K in range(1, BOX + 1) if case.prefix_holds(K)]
    if segment == UP:
        return [(K, m) for K in depths for m in range(2, K + 1)]
    if segment == GENERIC:
        return [(K, m) for K in depths for m in range(1, K) if case.holds(K, m)]
    return [(K, 1 if segment == UP_FIRST else 0) for K in depths]


def _at_l(statements: list) -> list:
    """Layer 1 of the loop up read at the symbolic l (its input a_0 as a_(l-1)): its lemma
    is the one step ż_1 = V_1 x + v_(b_1), relabelled as the other layers' are."""
    return [s if s.layer is None or not sp.sympify(s.layer).is_Integer else
            dataclasses.replace(s, layer=s.layer + LAYER - 1) for s in statements]


def _tables(ops: HvpIndexOps) -> dict[str, dict]:
    return {"tangent": ops.tangents, "delta": ops.trace.deltas, "rdelta": ops.rdeltas,
            "row": ops.trace.weight}  # a row is (H v)_(W_l) with (H v)_(b_l)


def _replayed(case: CurvatureCase, t: Truths) -> list[tuple[str, str, Any, Any]]:
    """(segment, kind, layer, value) for every value the case binds, on entry formulas."""
    ops = HvpIndexOps(t.hidden, t.out, t.cost)
    reads = {name: named(ZDOT, layer, (ops.width(layer),))
             for name, (_, layer) in case.reads.items()}
    found: list[tuple[str, str, Any, Any]] = []

    def run(segment: str, statements: list, values: dict) -> dict:
        seen = {k: dict(v) for k, v in _tables(ops).items()}
        values = replay(statements, ops, values)
        found.extend((segment, kind, layer,
                      (value, ops.trace.bias[layer]) if kind == "row" else value)
                     for kind, table in _tables(ops).items()
                     for layer, value in table.items() if seen[kind].get(layer) is not value)
        return values

    before = run(PRELUDE, case.part(PRELUDE), reads)
    run(UP_FIRST, _at_l(case.part(UP_FIRST)), before)
    run(UP, case.part(UP), before)
    before = run(BETWEEN, case.part(BETWEEN), before)
    top = run(TOP, case.part(TOP), before)
    carried = {}
    for kind, base in (("delta", None), ("tangent_delta", DDOT)):
        for layer, name in case.bound.get(kind, {}).items():
            if name in top and name not in before:  # read at l as the layer above's
                below = layer.xreplace({DEPTH: LAYER + 1})
                carried[name] = ops.delta(below) if base is None else \
                    named(base, below, (ops.width(below),))
    run(GENERIC, case.part(GENERIC), {**before, **carried})
    return found


def _coverage(program: Any) -> list[str]:
    """Each depth 1..BOX written out: every layer's ż, δ, δ̇ and H v bound (once)."""
    for depth in range(1, BOX + 1):
        try:
            p = program.instance(depth, lambda m: 2)
        except ProgramError as error:
            return [str(error)]
        for kind, table in (("tangent", p.bound["tangent"]), ("delta", p.deltas),
                            ("tangent delta", p.bound["tangent_delta"]), ("H v", p.weight)):
            missing = [m for m in range(1, depth + 1) if m not in table]
            if missing:
                return [f"depth {depth}: no {kind} at layer {missing[0]}"]
    return []


def _groups(program: Any, t: Truths) -> tuple[dict, list[str]]:
    """Every bound value, relabelled at l (δ_L, δ̇_L at L), by group: a value bound at layer
    1 takes the "first" lemma, one at a layer above the "step" one (both where it is both)."""
    groups: dict[str, dict[str, tuple[Any, list[str]]]] = {}
    problems = list(program.problems)
    for case in program.cases:
        try:
            found = _replayed(case, t)
        except Exception as error:  # a step the index ops cannot form: a failed claim
            problems.append(f"{case.where}: {type(error).__name__}: {error}")
            continue
        for segment, kind, layer, value in found:
            points = [(p[0], at(layer, p)) for p in _points(case, segment)]
            if kind in ("delta", "rdelta"):
                names = [f"{kind} base"] * any(m == K for K, m in points) + \
                    [f"{kind} step"] * any(m < K for K, m in points)
            else:
                names = [f"{kind} {FIRST}"] * any(m == 1 for _, m in points) + \
                    [f"{kind} {STEP}"] * any(m > 1 for _, m in points)
            place = {UP_FIRST: "layer 1 of the loop up", UP: "layer l >= 2 of the loop up"}.get(
                segment, f"layer {layer} ({case.where})")
            for name in names:
                v = value if name.endswith("base") else relabel(value, layer)
                places = groups.setdefault(name, {}).setdefault(group_key(v), (v, []))[1]
                places += [place] if place not in places else []
    return groups, problems


def _lemma(title: str, name: str, value: Any, places: list[str], t: Truths) -> Claim:
    started = time.perf_counter()
    if name in PREMISE:
        found = [(w, i) for w, i, _ in curvature_truths.identities(name, value, t)]
        text, tex = PREMISE[name]
        text = "the hvp program's own " + text
    else:
        found = identities(name, value, t)
        text, tex = STATEMENTS[name]
    outcomes = [(what, general.check(identity)) for what, identity in found]
    return group_claim(title, name, text, tex, outcomes, places, started)


ORDER = ("delta base", "delta step", "tangent first", "tangent step", "rdelta base",
         "rdelta step", "row first", "row step")


def _trace(title: str, function: Callable, t: Truths) -> tuple[Claim, dict]:
    started = time.perf_counter()
    try:
        program = record_curvature_generic(function)
    except Concrete as refusal:
        return Claim(f"{title}: the R-operator program is recorded for every depth", "",
                     "general", "not compared", "it reads a concrete depth or width, or "
                     "carries a value through its loop up", name=f"{title} trace",
                     residual=str(refusal)[:300]), {}
    groups, problems = _groups(program, t)
    problems += _coverage(program)
    counts = ", ".join(f"{len(groups[k])} {k}" for k in ORDER if k in groups)
    cases = "; ".join(c.where for c in program.cases)
    return Claim(f"{title}: the R-operator program binds every layer's zdot, delta, deltadot "
                 "and (H v) exactly once, at every depth, for every width", "", "general",
                 "failed" if problems else "proved",
                 f"recorded once for a symbolic depth L and widths n_l: {len(program.cases)} "
                 f"cases ({cases}); written out at every depth 1..{BOX}; steps: {counts}",
                 name=f"{title} trace", residual="; ".join(problems)[:300],
                 seconds=time.perf_counter() - started), groups


def hvp_claims(hidden, out, cost, function: Callable = HVP,
               premises: Sequence[Claim] = (), checks: Sequence[Claim] = ()) -> list[Claim]:
    """The trace, the δ premise and the tangent lemmas of ``function`` (the hvp program),
    the caller's ``checks`` (its per-network cross-check), then the induction, which rests on
    all of them and on ``premises`` (σ', σ'' and the cost's gradient as registered, claimed
    by the caller elsewhere): H v for every depth and width."""
    title = "Hv"
    t = Truths(hidden, out, cost, True)
    trace, groups = _trace(title, function, t)
    claims = [trace]
    for name in ORDER:
        for value, places in groups.get(name, {}).values():
            claims.append(_lemma(title, name, value, places, t))
    claims += checks
    claims.append(induction([*claims, *premises]))
    return claims


def induction(premises: list[Claim]) -> Claim:
    status, first = concluded(premises)
    return Claim(
        "for every depth L, all widths n_0..n_L and every direction v, the R-operator "
        "program gives H v",
        r"\forall L,\ n_0, \dots, n_L,\ v:\quad R\{\nabla_\theta C\} = H v",
        "general", status,
        "induction over the statements as the program binds them: ż_l forward from ż_1, then "
        "δ̇_l backward from δ̇_L, each the directional derivative D_v of its primal given the "
        "tangents it reads; with δ_l = ∂C/∂z_l (the premise), (H v)_(θ_l) = D_v ∂C/∂θ_l, "
        "row l of H v; the trace shows these are the only steps the program takes",
        name="Hv theorem", culprit="" if first is None else first.label,
        residual="" if first is None else first.residual)


def covers_hvp(d: Any) -> str:
    """"" when the Hv claims speak for ``d``'s hvp program: it is the instance, at d's depth
    and widths, of symbp's own program as recorded for every depth."""
    widths = d.net.widths
    try:
        program = record_curvature_generic(HVP).instance(
            d.L, lambda m: widths[m], context=f"hvp\n{d.net.meaning()}")
    except (Concrete, ProgramError) as reason:
        return f"the hvp program is not recorded for every depth: {reason}"
    if program.fingerprint != d.programs["hvp"].fingerprint:
        return "this network's hvp program differs from the one recorded for every depth"
    return ""

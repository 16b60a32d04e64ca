"""H v by the R-operator, for every width: the program the generated ``hvp`` runs is D_v ∇C.

``curvature.pearlmutter_hvp`` runs a forward loop (the tangents ż_l, l = 1..L) and then a
backward one (δ_l, δ̇_l and (H v)_(θ_l), l = L..1). The argument, by induction over the
statements the program binds, in the order it binds them:

1. **trace**: the program is recorded at each depth K = 1..``DEPTHS`` with every width a
   symbol n_l (``core.program.Size``: it may not read a width as a number), so what is
   recorded is the program at that depth for every width; it binds ż_l, δ_l, δ̇_l and
   (H v)_(θ_l) once for each layer. Replayed on entry formulas (``hvp_lemmas.HvpIndexOps``),
   layer m of depth K named L - (K - m), each step relabelled at the symbolic layer l (the
   output layer's δ and δ̇ stay at L) and grouped: equal steps, one lemma.
2. **premise**: the program's own δ_L and δ_l steps are ∂C/∂z (the first-order base and
   step lemmas, ``general``), so δ_l = ∂C/∂z_l as a function of θ.
3. **lemmas** (``hvp_lemmas.identities``, symbolic identities in the widths and the layer,
   also written out at small widths): each bound tangent is the directional derivative
   D_v of what its primal stands for, given the tangents it reads: ż_1, then ż_l from
   ż_(l-1); δ̇_L from ż_L; δ̇_l from δ̇_(l+1) and ż_l; (H v)_(θ_l) from δ̇_l and ż_(l-1).
4. **induction**: forward over l for ż, then backward for δ̇, each hypothesis the lemma
   before; so (H v)_(θ_l) = D_v ∂C/∂θ_l = Σ_q ∂²C/∂θ_l ∂θ_q v_q, row l of H v, for every v.

What this does not give: a depth past ``DEPTHS``. The forward loop runs ``range(1, L + 1)``,
which the generic recorder (``core.generic``, one backward loop over ``ops.layers()``)
refuses; so H v is proved for every width at the depths recorded, and the claims speak for
a network of such a depth whose hvp program is the one recorded there (``covers_hvp``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import sympy as sp

from ..core import curvature
from ..core.curvature_program import record_curvature, replay
from ..core.generic import DEPTH, WIDTH
from ..core.program import ConcreteSize, ProgramError, Size
from . import curvature_truths, general
from .claims import Claim, concluded
from .curvature_truths import Truths
from .grouped import group_claim, group_key, relabel
from .hvp_lemmas import FIRST, STATEMENTS, STEP, HvpIndexOps, identities

DEPTHS = 12  # the depths the program is recorded at, each for every width (cheap: ~0.2 s each)
HVP = curvature.pearlmutter_hvp
PREMISE = {"delta base": curvature_truths.STATEMENTS["delta base"],
           "delta step": curvature_truths.STATEMENTS["delta step"]}


def _label(depth: int, m: int) -> sp.Expr:
    return DEPTH - (depth - m)


def record_hvp(function: Callable, depth: int):
    """The hvp program at ``depth`` for every width (each n_l a ``Size``)."""
    return record_curvature(function, depth, lambda m: Size(WIDTH[_label(depth, m)]))


def _replayed(function: Callable, depth: int, t: Truths) -> tuple[HvpIndexOps, list[str]]:
    program = record_hvp(function, depth)
    problems = []
    for kind, table in (("tangent", program.bound["tangent"]), ("delta", program.deltas),
                        ("tangent delta", program.bound["tangent_delta"]),
                        ("(H v) of W", program.weight), ("(H v) of b", program.bias)):
        missing = [m for m in range(1, depth + 1) if m not in table]
        if missing:
            problems.append(f"depth {depth}: no {kind} at layer {missing[0]}")
    statements = [s if s.layer is None else dataclasses.replace(s, layer=_label(depth, s.layer))
                  for s in program.statements]
    ops = HvpIndexOps(t.hidden, t.out, t.cost)
    replay(statements, ops)
    return ops, problems


def _groups(function: Callable, t: Truths) -> tuple[dict, list[str]]:
    """Every bound value of depths 1..DEPTHS, relabelled at l (δ_L, δ̇_L at L), by group."""
    groups: dict[str, dict[str, tuple[Any, list[str]]]] = {}
    problems: list[str] = []
    for depth in range(1, DEPTHS + 1):
        try:
            ops, missing = _replayed(function, depth, t)
        except (ConcreteSize, ProgramError) as error:
            problems.append(f"depth {depth}: {error}")
            continue
        except Exception as error:  # a step the index ops cannot form: a failed claim
            problems.append(f"depth {depth}: {type(error).__name__}: {error}")
            continue
        problems += missing
        rows = {layer: (w, ops.trace.bias[layer]) for layer, w in ops.trace.weight.items()}
        for kind, table in (("tangent", ops.tangents), ("delta", ops.trace.deltas),
                            ("rdelta", ops.rdeltas), ("row", rows)):
            for layer, value in table.items():
                m = depth - int(DEPTH - layer)
                if kind in ("delta", "rdelta"):
                    name = f"{kind} {'base' if m == depth else 'step'}"
                else:
                    name = f"{kind} {FIRST if m == 1 else STEP}"
                if not name.endswith("base"):
                    value = relabel(value, layer)
                places = groups.setdefault(name, {}).setdefault(group_key(value), (value, []))[1]
                places.append(f"layer {m} of depth {depth}")
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


def hvp_claims(hidden, out, cost, function: Callable = HVP,
               premises: Sequence[Claim] = (), checks: Sequence[Claim] = ()) -> list[Claim]:
    """The trace, the δ premise and the tangent lemmas of ``function`` (the hvp program),
    the caller's ``checks`` (its per-network cross-check), then the induction, which rests on
    all of them and on ``premises`` (σ', σ'' and the cost's gradient as registered, claimed
    by the caller elsewhere): H v for every width at depths 1..DEPTHS."""
    title = "Hv"
    t = Truths(hidden, out, cost, True)
    started = time.perf_counter()
    groups, problems = _groups(function, t)
    counts = ", ".join(f"{len(groups[k])} {k}" for k in ORDER if k in groups)
    claims = [Claim(f"{title}: the R-operator program binds every layer's zdot, delta, deltadot "
                    f"and (H v) exactly once, at every depth 1..{DEPTHS}, for every width",
                    "", "general", "failed" if problems else "proved",
                    f"recorded at depths 1..{DEPTHS} with symbolic widths n_l; steps: {counts}",
                    name=f"{title} trace", residual="; ".join(problems)[:300],
                    seconds=time.perf_counter() - started)]
    for name in ORDER:
        for value, places in groups.get(name, {}).values():
            claims.append(_lemma(title, name, value, places, t))
    claims += checks
    claims.append(induction([*claims, *premises]))
    return claims


def induction(premises: list[Claim]) -> Claim:
    status, first = concluded(premises)
    return Claim(
        f"for every depth L <= {DEPTHS}, all widths n_0..n_L and every direction v, the "
        "R-operator program gives H v",
        rf"\forall L \le {DEPTHS},\ n_0, \dots, n_L,\ v:\quad R\{{\nabla_\theta C\}} = H v",
        "general", status,
        "induction over the statements as the program binds them: ż_l forward from ż_1, then "
        "δ̇_l backward from δ̇_L, each the directional derivative D_v of its primal given the "
        "tangents it reads; with δ_l = ∂C/∂z_l (the premise), (H v)_(θ_l) = D_v ∂C/∂θ_l, "
        "row l of H v; the trace shows these are the only steps the program takes",
        name="Hv theorem", culprit="" if first is None else first.label,
        residual="" if first is None else first.residual)


def covers_hvp(d: Any) -> str:
    """"" when the Hv claims speak for ``d``'s hvp program: its depth is one recorded and its
    statements are those of the recording for every width."""
    if d.L > DEPTHS:
        return (f"the hvp program is proved for every width at depths 1..{DEPTHS}; this "
                f"network has depth {d.L}")
    try:
        general_program = record_hvp(HVP, d.L)  # the program the claims are about
    except (ConcreteSize, ProgramError) as reason:
        return f"the hvp program is not recorded for every width: {reason}"
    plain = lambda p: [(s.target, s.op, s.layer, s.args) for s in p.statements]  # noqa: E731
    if plain(general_program) != plain(d.programs["hvp"]):
        return "this network's hvp program differs from the one recorded for every width"
    return ""

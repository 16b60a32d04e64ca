"""The second-order theorem: for every depth L and all widths, the curvature program gives
the Hessian ∂²C/∂θ_l ∂θ_m, and the Gauss–Newton program gives Jᵀ H_C J, block by block.

As the first-order theorem (``theorem``), by induction over the layers from the output down:

1. **trace**: each program is recorded once for a symbolic depth L and widths n_l
   (``core.curvature_generic``), a few cases, each replayed on index formulas
   (``CurvatureIndexOps``); written out at every depth 1..BOX, each case binds every
   layer's δ, Ω, Γ and block row exactly once. The steps it takes are grouped.
2. **lemmas**, symbolic identities in the widths and the layer (``general.check``, also
   written out at small widths): the base case and the step of δ and of Ω (the chain rule,
   twice: Ω_l = (∂z_(l+1)/∂z_l)ᵀ Ω_(l+1) ∂z_(l+1)/∂z_l + Σ_i δ_(l+1),i ∂²z_(l+1),i/∂z_l²; the
   Gauss–Newton program without the second sum), Γ_l = ∂δ_l/∂θ_(≥l) in the columns of θ_l,
   θ_(l+1) and θ_M for M > l + 1 (the column's layer M a symbol), and the block row
   ∂²C/∂θ_l ∂θ_(≥l) = Σ_i Γ_l,i ∂z_l,i/∂θ_l + Σ_i δ_l,i ∂²z_l,i/∂θ_l ∂θ_(≥l).
3. **function lemmas**: those of the first-order theorem and σ'' = d/dz σ'.
4. **cross-check**: the per-network second-order prover (method local) on small networks.
5. **induction**, proved when every claim above is.

Then H v (``hvp_theorem``): the R-operator program, for every depth and width (its loop up
recorded as the loop down is), with its own claims and induction.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import sympy as sp

from ..core import curvature, curvature_recursions, registry
from ..core.curvature_generic import GenericCurvatureProgram, record_curvature_generic
from ..core.curvature_program import replay
from ..core.deadline import check_seconds, stopping
from ..core.generic import BOX, DEPTH, GENERIC, LAYER, PRELUDE, TOP, Concrete
from ..core.network import Network
from ..core.program import ProgramError
from ..core.second_order import SecondDerivation
from . import general, kept
from .claims import Claim, Proof, concluded, time_claim
from .curvature import prove_second_order
from .curvature_indexed import (
    OMEGA,
    CurvatureIndexOps,
    bound_cross,
)
from .curvature_truths import GN_STATEMENTS, STATEMENTS, Truths, identities
from .exact import first_difference
from .grouped import group_claim, group_key, relabel
from .hvp_theorem import HVP, hvp_claims
from .index_entries import IndexMatrix, fresh
from .registry_lemmas import function_claims
from .theorem import cross_check_widths, entries

PROGRAMS = {"hessian": ("H", curvature_recursions.backprop_curvature, True),
            "gauss_newton": ("G", curvature_recursions.backprop_gauss_newton, False)}


# ---------------------------------------------------------------- trace and groups


def _bound_value(kind: str, layer: sp.Expr, ops: CurvatureIndexOps) -> Any:
    if kind == "delta":
        return ops.delta(layer)
    if kind == "curvature":
        j, k = fresh(), fresh()
        n = ops.width(layer)
        return IndexMatrix(OMEGA[layer, j, k], j, k, (n, n))
    return bound_cross(layer, ops.width(layer))


def _groups(program: GenericCurvatureProgram, hidden, out, cost) -> tuple[dict, list[str]]:
    """Each case replayed on index formulas; its bindings relabelled at the symbolic layer l
    (the output layer's stays at L) and grouped by kind: equal steps, one lemma."""
    groups: dict[str, dict[str, tuple[Any, list[str]]]] = {}
    problems = list(program.problems)
    for case in program.cases:
        ops = CurvatureIndexOps(hidden, out, cost)
        try:
            before = replay(case.part(PRELUDE), ops)
            top = replay(case.part(TOP), ops, before)
            carried = {name: _bound_value(kind, layer.xreplace({DEPTH: LAYER + 1}), ops)
                       for kind in ("delta", "curvature", "cross")
                       for layer, name in case.bound.get(kind, {}).items()
                       if name in top and name not in before}
            replay(case.part(GENERIC), ops, {**before, **carried})
        except Exception as error:  # a step the index ops cannot form: a failed claim
            problems.append(f"{case.where}: {type(error).__name__}: {error}")
            continue
        trace: Any = ops.trace
        for kind, table in (("delta", trace.deltas), ("curvature", trace.curvature),
                            ("cross", trace.cross), ("row", trace.rows)):
            for layer, value in table.items():
                base = sp.sympify(layer) == DEPTH and kind != "row"
                name = f"{kind} {'base' if base else 'step'}"
                relabelled = value if base else relabel(value, layer)
                key = group_key(relabelled)
                place = f"layer {layer} ({case.where})"
                groups.setdefault(name, {}).setdefault(key, (relabelled, []))[1].append(place)
    return groups, problems


def _coverage(program: GenericCurvatureProgram) -> list[str]:
    for depth in range(1, BOX + 1):
        try:
            program.instance(depth, lambda m: 2)
        except ProgramError as error:
            return [str(error)]
    return []


# ---------------------------------------------------------------- lemmas


def _lemma_claims(title: str, groups: dict, t: Truths) -> list[Claim]:
    claims = []
    texts = {**STATEMENTS, **(GN_STATEMENTS if not t.residual else {})}
    for name in ("delta base", "delta step", "curvature base", "curvature step", "cross base",
                 "cross step", "row step"):
        for value, places in groups.get(name, {}).values():
            started = time.perf_counter()
            outcomes = [(what, general.check(identity, widths)) for what, identity, widths in
                        identities(name, value, t)]
            claims.append(group_claim(title, name, *texts[name], outcomes, places, started))
    return claims


# ---------------------------------------------------------------- the theorem


def _trace_claims(title: str, function: Callable, t: Truths) -> list[Claim]:
    started = time.perf_counter()
    try:
        program = record_curvature_generic(function)
    except Concrete as refusal:
        return [Claim(f"{title}: the program is recorded for every depth", "", "general",
                      "not compared", "it reads a concrete depth or width", name=f"{title} trace",
                      residual=str(refusal)[:300])]
    groups, problems = _groups(program, t.hidden, t.out, t.cost)
    problems += _coverage(program)
    cases = "; ".join(c.where for c in program.cases)
    counts = ", ".join(f"{len(v)} {k}" for k, v in groups.items())
    trace = Claim(f"{title}: the program binds every layer's delta, Omega, Gamma and block row "
                  "exactly once, at every depth", "", "general",
                  "failed" if problems else "proved",
                  f"recorded once for a symbolic depth L and widths n_l: {len(program.cases)} "
                  f"cases ({cases}); written out at every depth 1..{BOX}; steps: {counts}",
                  name=f"{title} trace", residual="; ".join(problems)[:300],
                  seconds=time.perf_counter() - started)
    return [trace, *_lemma_claims(title, groups, t)]


def _second_claims(hidden, out) -> list[Claim]:
    claims = []
    for act in {a.name: a for a in (hidden, out)}.values():
        if not act.elementwise or act.formula is None or act.derivative is None:
            continue
        z = sp.Dummy("z")
        forms = curvature.second(act)
        assert forms.formula is not None
        diff = sp.diff(sp.sympify(act.derivative(z)), z)
        ok = first_difference(sp.sympify(forms.formula(z)), diff) is None
        claims.append(Claim(f"{act.name}: sigma'' = d/dz sigma', from the registered sigma'",
                            rf"{act.latex}''(z) = \frac{{d}}{{dz}} {act.latex}'(z)", "general",
                            "proved" if ok else "failed", "symbolic identity in z (exact)",
                            name=f"{act.name}''"))
    return claims


def _cross_check(hidden, out, cost, programs: dict) -> tuple[Claim, Claim]:
    """The per-network prover (method local) on small networks: its H and G rows, then its
    Hv rows (a premise of the H v induction only)."""
    started = time.perf_counter()
    problems: dict[str, list[str]] = {"H": [], "Hv": []}
    nets = cross_check_widths(hidden, out, cost)[:2]
    for widths in nets:
        L = len(widths) - 1
        net = Network(widths, activation=[hidden.name] * (L - 1) + [out.name], cost=cost.name)
        d = SecondDerivation(net, curvature=programs["hessian"],
                             gauss_newton=programs["gauss_newton"], hvp=programs["hvp"])
        proof = prove_second_order(d, "local")
        for key, prefixes in (("H", ("H row", "G row")), ("Hv", ("Hv ",))):
            bad = next((c for c in proof.claims if c.name.startswith(prefixes)
                        and not c.proved), None)
            if bad is not None:
                problems[key].append(f"widths {widths}: {bad.label}: "
                                     f"{bad.residual or bad.culprit}")
    listed = "; ".join(", ".join(map(str, w)) for w in nets)
    seconds = time.perf_counter() - started
    return tuple(Claim(  # type: ignore[return-value]
        f"the per-network second-order prover agrees: it proves the {what} (method local) for "
        f"widths {listed}", r"\text{per network: widths }" + listed, "general",
        "failed" if problems[key] else "proved",
        "the per-network prover (exact, in layered symbols), independent of the index "
        "notation", name=name, residual="; ".join(problems[key])[:300], seconds=seconds)
        for key, what, name in (("H", "H and G rows", "cross-check"),
                                ("Hv", "R-operator's H v", "Hv cross-check")))


def induction(premises: list[Claim]) -> Claim:
    status, first = concluded(premises)
    return Claim(
        "for every depth L and all widths n_0..n_L, the curvature program gives every block "
        "d2C/d theta_l d theta_m and the Gauss-Newton program every block of J^T H_C J",
        r"\forall L,\ n_0, \dots, n_L:\quad \frac{\partial^2 C}{\partial \theta_l\, "
        r"\partial \theta_m} = J_l^{T}\, \Gamma_l \big|_{\theta_m}, \quad G = J^{T} H_C J",
        "general", status,
        "induction over l from L down to 1: the base cases give Ω_L, Γ_L and δ_L; the steps "
        "give Ω_l, Γ_l and δ_l from layer l + 1, because C depends on z_l and θ_(>l) only "
        "through z_(l+1), θ_(>l) and the layers above; the row lemma gives the block row, "
        "whose transpose is the block column (second derivatives commute); the trace shows "
        "these are the only steps the programs take",
        name="theorem", culprit="" if first is None else first.label,
        residual="" if first is None else first.residual)


def prove_second_order_theorem(activation: str = "generic", cost: str = "mse", *,
                               output: str | None = None, timeout: float | None = None,
                               programs: dict | None = None) -> Proof:
    """The theorem for ``activation`` (hidden), ``output`` and ``cost``, uncached."""
    hidden, out, cost_entry = entries(activation, cost, output)
    curvature.supported(Network([2] * 2 + [max(2, cost_entry.min_outputs)],
                                activation=[hidden.name, out.name], cost=cost_entry.name))
    programs = {**{k: v[1] for k, v in PROGRAMS.items()}, "hvp": HVP, **(programs or {})}
    timeout = check_seconds(timeout)
    start = time.perf_counter()
    claims: list[Claim] = []
    hv: list[Claim] = []  # H v by the R-operator: its own claims and induction, after H and G
    with stopping(timeout) as limit:
        for name, (title, _, residual) in PROGRAMS.items():
            claims += _trace_claims(title, programs[name],
                                    Truths(hidden, out, cost_entry, residual))
        functions = function_claims(hidden, out, cost_entry)  # what the first order rests on
        functions += _second_claims(hidden, out)
        claims += functions
        checked, hv_checked = _cross_check(hidden, out, cost_entry, programs)
        claims.append(checked)
        hv = hvp_claims(hidden, out, cost_entry, programs["hvp"], functions, [hv_checked])
    if limit.stopped:
        claims.append(time_claim("general", timeout))
    claims.append(induction(claims))
    claims += [] if limit.stopped else hv
    return Proof("general", claims, seconds=time.perf_counter() - start,
                 network=f"second order, every depth and width: activation={hidden.name!r}, "
                         f"output={out.name!r}, cost={cost_entry.name!r}",
                 note="programs " + ", ".join(getattr(f, "__name__", "?")
                                              for f in programs.values()))


_CACHE: dict[tuple, Proof] = {}


def second_order_theorem(activation: str = "generic", cost: str = "mse", *,
                         output: str | None = None, timeout: float | None = None) -> Proof:
    """The theorem for symbp's own programs, kept per process and between runs (``kept``; a
    copy per call)."""
    hidden, out, cost_entry = entries(activation, cost, output)
    key = tuple(registry.meaning(e, 3) for e in (hidden, out, cost_entry))
    if key not in _CACHE:
        text = kept.key_text(("second order", *key), (hidden, out, cost_entry))
        proof = kept.load(text)
        if proof is None:
            proof = prove_second_order_theorem(activation, cost, output=output, timeout=timeout)
            if proof.status == "timed out":
                return proof
            kept.keep(text, proof)
        _CACHE[key] = proof
    return copy.deepcopy(_CACHE[key])


def covers_second_order(d: SecondDerivation) -> str:
    """"" when the theorem speaks for ``d``'s curvature and Gauss–Newton programs: each is the
    instance, at d's depth and widths, of the program the theorem recorded for every depth
    (symbp's own, not ``d``'s function: a program passed in was not proved there)."""
    widths = d.net.widths
    for name, (_, proved, _) in PROGRAMS.items():
        try:
            g = record_curvature_generic(proved)
            inst = g.instance(d.L, lambda m: widths[m], context=f"{name}\n{d.net.meaning()}")
        except (Concrete, ProgramError) as reason:
            return f"the {name} program is not recorded for every depth: {reason}"
        if inst.fingerprint != d.programs[name].fingerprint:
            return (f"this network's {name} program differs from the one recorded for every "
                    "depth")
    return ""


def second_order_summary(proof: Proof) -> str:
    """One short line for the second-order theorem: verdict, what, the claim count."""
    done = sum(c.proved for c in proof.claims)
    what = proof.network.removeprefix("second order, every depth and width: ")
    verdict = {"proved": "proved", "failed": "NOT proved"}.get(proof.status, "not proved")
    hv = next((c for c in proof.claims if c.name == "Hv theorem"), None)
    rop = (", and the R-operator program gives H v for every v" if hv is not None and hv.proved
           else "; H v: not proved for every depth" if hv is not None else "")
    line = (f"{verdict} (general): for every depth L and all widths n_0..n_L, the curvature "
            f"program gives every block of the Hessian and the Gauss-Newton program every block "
            f"of J^T H_C J{rop} ({what}); {done} of {len(proof.claims)} claims proved")
    failures = proof.failures
    return line + (f"; first failure: {failures[0]}" if failures else "")

"""The general theorem: for every depth L and all widths n_0..n_L, the δ recursion is the gradient.

For one activation and one cost, by induction over the layers from the output down:

1. **trace**: the recursion function (the one ``prove`` and the code generator run) is
   run on ``IndexOps`` at depths 1..``DEPTHS``; every layer of every trace is relabelled
   as the symbolic layer l, and its steps are grouped into the distinct generic steps
   it takes (for ``backprop_deltas``: one output step, one hidden step, one parameter
   step). This part is instantiated: the recursion is Python code, read by running it.
2. **lemmas**, each a symbolic identity in the widths and the layer (``general.check``,
   which also writes each one out at every width 1..4): base case δ^{(L)} = ∂C/∂z^{(L)},
   step δ^{(l)} = ∂C/∂z^{(l)} given δ^{(l+1)} = ∂C/∂z^{(l+1)}, and parameters
   ∂C/∂w^{(l)}_{jk} = δ^{(l)}_j a^{(l-1)}_k, ∂C/∂b^{(l)}_j = δ^{(l)}_j.
3. **function lemmas** (``registry_lemmas``): σ', the cost gradient, the softmax Jacobian.
4. **cross-check**: the per-network prover (``prove``, method local) on small networks
   with the same recursion.
5. **induction**: C depends on z^{(l)} only through z^{(l+1)}, and on W_l, b_l only
   through z_l, so the base case and the step give δ^{(l)} = ∂C/∂z^{(l)} for l = L..1,
   and the parameter lemmas the gradients. Proved when every claim above is.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sympy as sp

from ..core import registry
from ..core.deadline import TimedOut, check_seconds, deadline
from ..core.derivation import derive
from ..core.network import Network
from ..core.recursion import RecursionFunction, backprop_deltas
from . import general
from .claims import Claim, Proof
from .indexed import IndexMatrix, IndexOps, IndexVector, J, K, generic, softmax_unit
from .prove import prove
from .registry_lemmas import function_claims, per_width
from .statements import lemma_statement
from .sums import normal

DEPTHS = 5  # the recursion is traced at depths 1..DEPTHS
LEMMAS = {"base": "base case", "step": "step", "W": "dC/dW_l", "b": "dC/db_l"}  # claim names
NETWORKS = ((3, 1), (2, 1, 3), (1, 3, 2, 2))  # small widths for the per-network cross-check
STATUS_ORDER = ("failed", "timed out", "screened")  # the worst status among the premises


def entries(activation: str, cost: str, output: str | None = None):
    """Registry entries: hidden activation, output activation (the cost's, if any), cost."""
    hidden, cost_entry = registry.activation(activation), registry.cost(cost)
    out = registry.activation(output or cost_entry.output or activation)
    if cost_entry.output and out.name != cost_entry.output:
        raise ValueError(f"cost {cost!r} needs output activation {cost_entry.output!r}, "
                         f"got {out.name!r}")
    return hidden, out, cost_entry


def prove_theorem(activation: str = "generic", cost: str = "mse", *, output: str | None = None,
                  recursion: RecursionFunction = backprop_deltas, depths: int = DEPTHS,
                  timeout: float | None = None) -> Proof:
    """The general theorem for ``activation`` (hidden layers), ``output`` and ``cost``, uncached."""
    hidden, out, cost_entry = entries(activation, cost, output)
    if not callable(recursion):
        raise ValueError(f"recursion must be a function of one RecursionOps, got {recursion!r}")
    if isinstance(depths, bool) or not isinstance(depths, int) or not 1 <= depths <= 12:
        raise ValueError(f"depths must be an integer from 1 to 12, got {depths!r}")
    timeout = check_seconds(timeout)
    start = time.perf_counter()
    claims: list[Claim] = []
    try:
        with deadline(timeout):
            claims += structural_claims(recursion, hidden, out, cost_entry, depths)
            claims += function_claims(hidden, out, cost_entry)
            claims.append(cross_check(recursion, hidden, out, cost_entry))
    except TimedOut:
        claims.append(Claim("the proof finished in time", "", "general", "timed out",
                            f"stopped after {timeout:g} s", name="time"))
    claims.append(induction(claims, depths))
    name = getattr(recursion, "__name__", repr(recursion))
    return Proof("general", claims, seconds=time.perf_counter() - start,
                 network=f"every depth and width: activation={hidden.name!r}, "
                         f"output={out.name!r}, cost={cost_entry.name!r}",
                 note=f"recursion {name}, traced at depths 1..{depths}")


# ---------------------------------------------------------------- the trace and its lemmas


@dataclass
class Group:
    """The traced instances (depth, layer) of one generic step, and that step's entry formula."""

    expr: sp.Expr | None
    instances: list[tuple[int, int]] = field(default_factory=list)
    problem: str = ""  # why the traced quantity is not what it should be


Groups = dict[str, dict[str, Group]]


def trace_groups(recursion: RecursionFunction, hidden, out, cost,
                 depths: int) -> tuple[Groups, list[str]]:
    """Run the recursion at depths 1..``depths``; its steps, relabelled and grouped by kind."""
    groups: Groups = {"base": {}, "step": {}, "W": {}, "b": {}}
    problems: list[str] = []
    for depth in range(1, depths + 1):
        ops = IndexOps(depth, hidden, out, cost)
        try:
            recursion(ops)
        except Exception as error:  # a broken recursion is a failed claim, not a crash
            problems.append(f"at depth {depth} it raises {type(error).__name__}: {error}")
            continue
        trace = ops.trace
        for m in range(1, depth + 1):
            missing = [name for name, table in (("delta", trace.deltas), ("dC/dW", trace.weight),
                                                ("dC/db", trace.bias)) if m not in table]
            if missing:
                problems.append(f"at depth {depth} it defines no {' or '.join(missing)} "
                                f"for layer {m}")
                continue
            kind = "base" if m == depth else "step"
            # the output step stays at layer L; every other step becomes layer l
            _add(groups[kind], _vector(trace.deltas[m], ops.width(m), K), depth, m,
                 relabel=kind == "step")
            shape = (ops.width(m), ops.width(m - 1))
            _add(groups["W"], _matrix(trace.weight[m], shape), depth, m)
            _add(groups["b"], _vector(trace.bias[m], ops.width(m), J), depth, m)
    return groups, problems


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


def _add(table: dict[str, Group], found: tuple[sp.Expr | None, str], depth: int, m: int,
         relabel: bool = True) -> None:
    entry, problem = found
    expr = entry if entry is None or not relabel else generic(entry, depth, m)
    problem = f"layer {m} of depth {depth}: {problem}" if problem else ""
    key = problem or sp.srepr(normal(expr, {}))
    table.setdefault(key, Group(expr, problem=problem)).instances.append((depth, m))


def structural_claims(recursion: RecursionFunction, hidden, out, cost,
                      depths: int) -> list[Claim]:
    """The trace claim and one lemma claim per distinct generic step the recursion took."""
    started = time.perf_counter()
    groups, problems = trace_groups(recursion, hidden, out, cost, depths)
    counts = "; ".join(
        f"{sum(len(g.instances) for g in groups[kind].values())} {label}, "
        f"{len(groups[kind])} distinct" for kind, label in (
            ("base", "output steps"), ("step", "hidden steps"), ("W", "weight gradients"),
            ("b", "bias gradients")))
    claims = [Claim(
        f"the recursion runs on index objects at depths 1..{depths} and defines delta_l, "
        "dC/dW_l and dC/db_l at every layer",
        rf"\text{{the recursion defines }} \delta_l,\ \partial C/\partial W_l,\ "
        rf"\partial C/\partial b_l \text{{ at every layer, depths }} 1, \dots, {depths}",
        "general", "failed" if problems else "proved",
        f"traced at depths 1..{depths} (the recursion is Python code, read by running it): "
        + counts, name="trace", residual="; ".join(problems)[:300],
        seconds=time.perf_counter() - started)]
    unit_out = None if out.elementwise else softmax_unit(out)
    unit_hidden = None if hidden.elementwise else softmax_unit(hidden)
    builders: dict[str, Callable[[sp.Expr], general.Identity]] = {
        "base": lambda e: general.base_case(e, out, cost, unit_out),
        "step": lambda e: general.step(e, hidden, unit_hidden),
        "W": lambda e: general.parameter(e, "W"),
        "b": lambda e: general.parameter(e, "b"),
    }
    for kind, build in builders.items():
        claims += [lemma_claim(LEMMAS[kind], group, build) for group in groups[kind].values()]
    return claims


def lemma_claim(name: str, group: Group, build: Callable[[sp.Expr], general.Identity]) -> Claim:
    started = time.perf_counter()
    identity = None if group.expr is None else build(group.expr)
    text, tex, parameter = lemma_statement(name, group.expr,
                                           None if identity is None else identity.ranges)
    where = ", ".join(f"layer {m} of {d}" for d, m in group.instances[:4])
    more = "" if len(group.instances) <= 4 else f" and {len(group.instances) - 4} more"
    traced = f"traced at {where}{more}"
    claim = Claim(text, tex, "general", "failed", traced, parameter=parameter, name=name,
                  residual=group.problem)
    if identity is not None:
        outcome = general.check(identity)
        claim.status, claim.how = outcome.status, f"{outcome.how}; {traced}"
        claim.residual, claim.entry = outcome.residual, outcome.entry
    claim.seconds = time.perf_counter() - started
    return claim


# ---------------------------------------------------------------- cross-check and induction


def cross_check_widths(hidden, out, cost) -> list[list[int]]:
    """``NETWORKS``, each width raised to what its layer's activation and the cost need."""
    found = []
    for widths in NETWORKS:
        L = len(widths) - 1
        acts = [hidden] * (L - 1) + [out]
        need = [1] + [1 if a.elementwise else 2 for a in acts]
        need[-1] = max(need[-1], cost.min_outputs)
        found.append([max(n, m) for n, m in zip(widths, need)])
    return found


def cross_check(recursion: RecursionFunction, hidden, out, cost) -> Claim:
    """The per-network prover on small networks (method local, same recursion) and its
    function lemmas at each width 1..4: independent code that must agree."""
    started = time.perf_counter()
    problems = [f"{lem.name}: {lem.residual}" for lem in per_width(hidden, out, cost)
                if not lem.holds]
    networks = cross_check_widths(hidden, out, cost)
    for widths in networks:
        L = len(widths) - 1
        net = Network(widths, activation=[hidden.name] * (L - 1) + [out.name], cost=cost.name)
        proof = prove(derive(net, recursion=recursion), method="local")
        if not proof.holds:
            first = str(proof.failures[0]) if proof.failures else proof.status
            problems.append(f"widths {widths}: {first}")
    listed = "; ".join(", ".join(map(str, w)) for w in networks)
    return Claim(
        f"the per-network prover agrees: it proves the recursion (method local) for widths "
        f"{listed}, and the function lemmas at each width",
        r"\text{per network: widths }" + listed, "general",
        "failed" if problems else "proved",
        "the per-network prover (exact, in layered symbols), independent of the index notation",
        name="cross-check", residual="; ".join(problems)[:300],
        seconds=time.perf_counter() - started)


def induction(premises: list[Claim], depths: int) -> Claim:
    """The theorem itself: proved exactly when every premise is."""
    statuses = {c.status for c in premises}
    status = "proved" if statuses == {"proved"} else next(
        (s for s in STATUS_ORDER if s in statuses), "failed")
    first = next((c for c in premises if not c.proved), None)
    return Claim(
        "for every depth L and all widths n_0..n_L, the recursion's delta_l is dC/dz_l and its "
        f"dC/dW_l, dC/db_l are the gradients (the recursion taking at every depth the steps "
        f"it takes at depths 1..{depths})",
        r"\forall L \ge 1,\ n_0, \dots, n_L \ge 1:\quad "
        r"\delta_l = \frac{\partial C}{\partial z_l},\quad "
        r"\frac{\partial C}{\partial W_l} = \delta_l\, a_{l-1}^{T},\quad "
        r"\frac{\partial C}{\partial b_l} = \delta_l \quad (l = 1, \dots, L)",
        "general", status,
        "induction over l from L down to 1: the base case gives l = L; the step gives l from "
        "l + 1, because C depends on z_l only through z_(l+1); the parameter lemmas give the "
        "gradients, because C depends on W_l and b_l only through z_l. That the recursion "
        f"takes these same steps at every depth is traced at depths 1..{depths}.",
        name="theorem", culprit="" if first is None else first.label,
        residual="" if first is None else first.residual)


# ---------------------------------------------------------------- the public entry point

_CACHE: dict[tuple, Proof] = {}


def theorem(activation: str = "generic", cost: str = "mse", *, output: str | None = None,
            recursion: RecursionFunction = backprop_deltas,
            timeout: float | None = None) -> Proof:
    """Prove, for every depth L and all widths n_0..n_L, that ``recursion`` gives ∂C/∂W_l, ∂C/∂b_l.

    ``activation`` is that of the hidden layers; ``output`` that of layer L (by
    default the cost's own, softmax for ``softmax_ce``, else ``activation``). The
    result is a ``Proof`` of "general" claims, method "general": the trace of the
    recursion, the base case, step and parameter lemmas in index notation, the
    function lemmas, the per-network cross-checks and the induction itself.

    Results are kept per process, keyed on everything the proof reads (the registry
    entries, the recursion function), so repeated documents cost nothing; a
    timed-out result is not kept. Each call returns its own copy.
    """
    hidden, out, cost_entry = entries(activation, cost, output)
    key = (hidden, out, cost_entry, recursion, registry.softmax_jacobian_entry)
    if key not in _CACHE:
        proof = prove_theorem(activation, cost, output=output, recursion=recursion,
                              timeout=timeout)
        if proof.status == "timed out":
            return proof
        _CACHE[key] = proof
    return copy.deepcopy(_CACHE[key])


def general_summary(proof: Proof) -> str:
    """One short line for a general proof: the verdict, what was proved, the claim count."""
    done = sum(c.proved for c in proof.claims)
    what = proof.network.removeprefix("every depth and width: ")
    verdict = {"proved": "proved", "failed": "NOT proved"}.get(proof.status, "not proved")
    line = (f"{verdict} (general): for every depth L and all widths n_0..n_L, the recursion "
            f"gives dC/dW_l and dC/db_l ({what}; its steps as traced at depths 1..{DEPTHS}); "
            f"{done} of {len(proof.claims)} claims proved")
    failures = proof.failures
    if failures:
        line += f"; first failure: {failures[0]}"
    return line


def general_table(proof: Proof) -> str:
    """The claims of a general proof, one per line: status, name, how it was established."""
    width = max((len(c.label) for c in proof.claims), default=5)
    lines = [f"{'status':10}  {'claim':{width}}  how"]
    lines += [f"{c.status:10}  {c.label:{width}}  {c.how}" for c in proof.claims]
    lines += [f"failure: {f}" for f in proof.failures]
    return "\n".join(lines)

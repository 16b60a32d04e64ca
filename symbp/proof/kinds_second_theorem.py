"""The second-order theorem for a network of layer kinds: at its depth K, for every size, the
curvature recursion gives every block of the Hessian, and without its residual terms every
block of the Gauss–Newton matrix Jᵀ H_C J.

Why this design. Per network the recursion (``core.kinds_curvature``) eliminates the graph's
nodes from the output down, each by one step, Jᵀ Ω J + Σ_i g_i ∂²f_i with the cross terms
Ω_rv J, and nothing in it depends on the sizes but the nodes it is handed. So the theorem runs
that same step (``curvature=``, the per-network route's) on the nodes of every size: one
layer's statements as the kind's maps write them, each variable a whole tensor
(``curvature_blocks``). At each cut between layers the live variables are a^{(e)} and the
parameters above; what the recursion holds there, Ω^{(e)} = ∂²C/∂a^{(e)}², the cross block
Γ^{(e)} = ∂²C/∂a^{(e)} ∂θ_(>e) and g^{(e)} = ∂C/∂a^{(e)}, are symbols. One lemma per
layer (``kinds_second_lemmas``):

    the step run on the layer's nodes (a^{(e)}, then z^{(e)}; a^{(e-1)} read by both the map
    and the skip, so the cross terms between them) gives Ω^{(e-1)}, Γ^{(e-1)}, g^{(e-1)} and
    the block row of θ_e, and those equal the chain rule through the layer's composed map
    F(a^{(e-1)}, θ_e) = post(σ(pre(a^{(e-1)}; θ_e))) + skip(a^{(e-1)}; θ_e) given the symbols,
    SymPy's derivatives of F (never of the node split)

(the Gauss–Newton lemma: the step without residual terms, the chain rule without Σ g ∂²F). With
the base case (the recursion starts from H_C and ∂C/∂a^{(K)}, which equal the cost formula's
derivatives; where the cost absorbs σ_K, softmax_ce, from ∂²C/∂z^{(K)}² and δ^{(K)}, and
layer K's lemma is through its pre map alone: ``kinds_second_lemmas``) the induction from K
down to 1 gives every block: C depends on a^{(e-1)} and θ_e only through a^{(e)} = F. Each
lemma is an identity in index notation with the sizes as symbols (``general.check``, also
written out at small sizes). A recurrent layer's nodes are its steps, as many as the sequence
is long: its lemmas are one per kind of node, a step at a symbolic t among them, and induction
over the steps (``kinds_second_steps``), the layer giving its last state or every state.

The R-operator route differentiates the δ program; the first-order theorem at depth K proves
that program is ∂C/∂θ for every size (a premise here, so a wrong δ program fails this theorem
too). That the R-operator then gives H v is proved for every size too: its rule (``tangent=``)
run on each layer's statements in index notation, the forward ones and the δ program's, is D_v
of each given the tangents it reads (``kinds_hvp_lemmas``, one Hv claim per layer, a kind in
its ``NOT_TAKEN`` compared per network only and said so). A norm's √(v + ε) is one atom in the
lemmas, its derivative the chain rule (``norm_roots``); an attention layer's whole pre map is
one, its first and second derivatives opaque, the step's result on the layer's own node bridged
to the atoms' (``pre_atoms``). The cross-check (``kinds_cross_check``) is the per-network
route on the network, or on a small one of its kinds where its symbolic Hessian is past the
limit: every H and G block of the recursion, and H v of the R-operator.
What is not covered (``refusal``): a kind second order does not take, and a kind in
``NOT_FOR_EVERY_SIZE``.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Callable
from typing import Any

from ..core import registry
from ..core.deadline import check_seconds, stopping
from ..core.generic import Template
from ..core.kinds_curvature import CurvatureStep, push_curvature
from ..core.kinds_second_scope import supported
from ..core.kinds_tangent import TangentRule, chain_tangent
from ..core.network import Network
from ..core.recursion import RecursionFunction, backprop_deltas
from . import kept
from .claims import Claim, Proof, concluded, time_claim
from .kinds_cross_check import cross_check_claim
from .kinds_hvp_lemmas import hvp_claims, hvp_refused
from .kinds_second_lemmas import (
    Checked,
    Sequence,
    base_identities,
    layer_identities,
    lemma_claim,
)
from .kinds_second_steps import KINDS as STEP_KINDS
from .kinds_second_steps import Kind, every_state, step_identities
from .kinds_theorem import _code, kinds_meaning
from .theorem import behaviour, general_summary, theorem

# kinds whose lemmas this version does not close in reasonable time, and why (refused up front)
NOT_FOR_EVERY_SIZE: dict[str, str] = {}  # (attention's lemmas read its pre map as an atom)


def refusal(net: Network) -> str:
    """Why the theorem does not take ``net`` ("" when it does)."""
    try:
        supported(net)
    except ValueError as error:
        return str(error)
    slow = next((r for r in net.resolved if r.kind.name in NOT_FOR_EVERY_SIZE), None)
    if slow is not None:
        return (f"layer {slow.index} is {slow.kind.name}: the second-order theorem for every "
                f"size does not take it in this version ({NOT_FOR_EVERY_SIZE[slow.kind.name]}); "
                "prove it per network (symbp prove --order 2)")
    return ""


# ---------------------------------------------------------------- the claims


def base_claim(s: Sequence) -> Claim:
    """The recursion starts from H_C and ∂C/∂a^{(K)}: the cost formula's derivatives (at
    z^{(K)} from H_C and δ_K where the cost absorbs σ_K)."""
    cost, act = s.net.cost_entry, s.act(s.K)
    if s.absorbed:
        return lemma_claim("base", f"the recursion starts at z_L ({cost.name} absorbs "
                            f"{act.name}) from H_C = d2C/dz_L^2 and delta_L = dC/dz_L, for "
                            "every width", base_identities(s), f"the closed delta_L of "
                            f"{cost.name} and its derivative through the registered {act.name} "
                            "Jacobian against SymPy's derivatives of the cost formula through "
                            f"{act.name}")
    return lemma_claim("base", f"the recursion starts from H_C = d2C/da_L^2 ({cost.name}), "
                        "for every size", base_identities(s), "the registered cost Hessian's "
                        "diagonal against SymPy's derivatives of the cost formula")


def layer_claims(s: Sequence, m: int, step: CurvatureStep, residual: bool,
                 kinds: tuple[Kind, ...] = STEP_KINDS) -> list[Claim]:
    """Layer m's lemma; a recurrent layer's, one per kind of its nodes (``kinds``, every one
    unless told: ``kinds_second_steps``)."""
    r = s.net.resolved[m - 1]
    matrix = "H" if residual else "G"
    what = ("J^T Omega J + sum_i g_i d2F_i, the chain rule through" if residual else
            "J^T Omega J (no residual terms), Gauss-Newton's chain rule through")
    layer = f"{matrix} step, layer {m} ({r.kind.described(r.layer)})"
    if r.kind.maps(r.layer).pre.own is None:
        nodes, composed = ((f"its node z_{m} alone (the cost absorbs its {s.act(m).name})",
                            "its pre map") if s.fused(m) else
                           (f"its nodes a_{m} then z_{m}", "its composed map"))
        text = (f"{layer}: the curvature step run on {nodes} gives Omega, Gamma and g below it "
                f"and the block row of theta_{m} as {what} {composed}, at depth {s.K}, for "
                "every size")
        return [_stepped_claim(f"{matrix} step {m}", text, m, step,
                               lambda: layer_identities(s, m, step, residual))]
    every = every_state(s, m)
    return [_stepped_claim(
        f"{matrix} step {m}, {kind.name}", f"{layer}, {kind.at(every)}: the curvature step run on "
        f"this node gives Omega and g over what is live after it as {what} the node, at depth "
        f"{s.K}, for every size and every number of steps T", m, step,
        functools.partial(step_identities, s, m, kind, step, residual)) for kind in kinds]


def _stepped_claim(name: str, text: str, m: int, step: CurvatureStep,
                   build: Callable[[], list[Checked]]) -> Claim:
    started = time.perf_counter()
    try:
        checked = build()
    except Exception as error:  # a step that breaks on blocks: a failed claim
        return Claim(text, "", "general", "failed", "the step run on the layer's blocks",
                     name=name, residual=f"{type(error).__name__}: {error}"[:300],
                     seconds=time.perf_counter() - started)
    claim = lemma_claim(name, text, checked, f"the step function "
                         f"{getattr(step, '__name__', '?')} itself, run on the layer's nodes of "
                         "every size")
    claim.layer = m
    return claim


def first_order_claim(net: Network, recursion: RecursionFunction,
                      timeout: float | None) -> Claim:
    """The δ program the R-operator differentiates is ∂C/∂θ for every size (first order)."""
    started = time.perf_counter()
    proof = theorem(network=net, recursion=recursion, timeout=timeout)
    first = proof.failures[0] if proof.failures else ""
    summary = " ".join(general_summary(proof).split())
    return Claim(f"first order: the delta program (what the R-operator differentiates) is "
                 f"dC/dtheta at depth {net.L}, for every size", "", "general", proof.status
                 if proof.status in ("proved", "failed", "timed out") else "failed",
                 f"the first-order theorem: {summary}"[:400], name="first order",
                 residual=str(first)[:300], seconds=time.perf_counter() - started)


def induction(premises: list[Claim], K: int, sequence: str, recurrent: bool,
              fused: bool = False, every: bool = False, hv: str = "") -> Claim:
    """The theorem's claim; ``hv``: the layers the R-operator's lemmas do not take ("" when
    they take every one: then H v for every v is in the statement)."""
    status, first = concluded(premises)
    return Claim(
        f"at depth {K} (this network's sequence of kinds: {sequence}), for every size, the "
        "curvature recursion gives every block d2C/d theta_l d theta_m of the Hessian and, "
        "without its residual terms, every block of J^T H_C J; " + (
            "the R-operator program on the delta program gives H v for every direction v"
            if not hv else "the delta program the R-operator differentiates is dC/dtheta (the "
            f"R-operator itself compared per network only: {hv})"),
        rf"L = {K},\ \text{{all sizes}}:\quad \frac{{\partial^2 C}}{{\partial \theta_l\, "
        r"\partial \theta_m}} = \Omega\big|_{\theta_l \theta_m},\quad G = J^{T} H_C J",
        "general", status,
        f"induction over the layers from {K} down to 1: the base case gives what the recursion "
        "holds above layer K; each layer's step lemma gives Omega, Gamma and g below it and "
        "the block row of its parameters, because C depends on a_(l-1) and theta_l only "
        "through a_l = F(a_(l-1), theta_l); the parameters' rows are final once their layer "
        "is passed (nothing below reads them), and the rows' transposes are the columns"
        + (f"; the cost absorbs layer {K}'s activation, so the base case holds d2C/dz_{K}^2 "
           f"and delta_{K} = dC/dz_{K}, layer {K}'s lemma is through z_{K} = "
           f"pre(a_{K - 1}; theta_{K}) alone and J^T H_C J is in J = dz_{K}/dtheta"
           if fused else "")
        + ("; in a recurrent layer, induction over its steps from T down to 1: the output "
           "lemma, the last step, each step t, the first step (the only one where T = 1), "
           "because C depends on z_(t-1) and the layer's W, U, b only through z_t and what is "
           "live beside it, one step at a time" if recurrent else "")
        + ("; where it gives every state, the output lemma leaves Omega and g over every state "
           "z_1..z_T, and before step t the states z_(<t) are live beside z_t (the same entries "
           "as one block): the step adds its term at z_(t-1), which it reads, to the output's "
           "there, and its cross terms to every earlier state" if every else "")
        + ("" if hv else "; the R-operator: with the first-order premise (the delta program "
           "is dC/dtheta), induction forward over the layers for zdot and adot (x has no "
           "tangent), then backward over the delta program's statements for gdot, deltadot "
           "and (H v)_theta, each the Hv step lemma of its layer, gives R{dC/dtheta} = D_v "
           "dC/dtheta = H v"),
        name="theorem", culprit="" if first is None else first.label,
        residual="" if first is None else first.residual)


def prove_kinds_second_order_theorem(net: Network, *, curvature: CurvatureStep = push_curvature,
                                     recursion: RecursionFunction = backprop_deltas,
                                     tangent: TangentRule = chain_tangent,
                                     timeout: float | None = None) -> Proof:
    """The theorem for ``net``'s sequence of kinds at its depth, every size (module text)."""
    reason = refusal(net)
    if reason:
        raise ValueError(reason)
    timeout = check_seconds(timeout)
    start = time.perf_counter()
    s = Sequence(net)
    claims: list[Claim] = []
    with stopping(timeout) as limit:
        claims.append(base_claim(s))
        for residual in (True, False):
            claims += [c for m in range(s.K, 0, -1)
                       for c in layer_claims(s, m, curvature, residual)]
        claims += hvp_claims(s, tangent, recursion)
        claims.append(first_order_claim(net, recursion, timeout))
        claims.append(cross_check_claim(net, curvature, recursion, tangent))
    if limit.stopped:
        claims.append(time_claim("general", timeout))
    sequence = ", ".join(r.kind.name for r in net.resolved)
    scans = [r.index for r in net.resolved if r.kind.maps(r.layer).pre.own is not None]
    claims.append(induction(claims, s.K, sequence, bool(scans), s.absorbed,
                            any(every_state(s, m) for m in scans), hvp_refused(net)))
    return Proof("general", claims, seconds=time.perf_counter() - start,
                 network=f"second order, depth {s.K}, this network's sequence of kinds, every "
                         f"size: layers={list(s.specs)!r}, cost={net.cost!r}",
                 note=f"step {getattr(curvature, '__name__', '?')}, recursion "
                      f"{getattr(recursion, '__name__', '?')}, tangent rule "
                      f"{getattr(tangent, '__name__', '?')}")


def kinds_second_order_summary(proof: Proof) -> str:
    """One short line: verdict, what is proved for every size, the claim count."""
    done = sum(c.proved for c in proof.claims)
    K = proof.network.split("depth ", 1)[1].split(",", 1)[0] if "depth " in proof.network else "?"
    verdict = {"proved": "proved", "failed": "NOT proved"}.get(proof.status, "not proved")
    theorem = next((c for c in proof.claims if c.name == "theorem"), None)
    hv = "" if theorem is None else theorem.statement.split("J^T H_C J; ", 1)[-1]
    line = (f"{verdict} (general): at depth {K} (this network's sequence of kinds), for every "
            "size, the curvature recursion gives every block of the Hessian and, without its "
            f"residual terms, every block of J^T H_C J; {hv}; "
            f"{done} of {len(proof.claims)} claims proved")
    failures = proof.failures
    return line + (f"; first failure: {failures[0]}" if failures else "")


_CACHE: dict[tuple, Proof] = {}


def kinds_second_order_theorem(net: Network, *, curvature: CurvatureStep = push_curvature,
                               recursion: RecursionFunction = backprop_deltas,
                               tangent: TangentRule = chain_tangent,
                               timeout: float | None = None) -> Proof:
    """The theorem for ``net``'s sequence of kinds, kept per process and between runs
    (``kept``, as the first-order theorem: keyed on the kinds' maps, the registry entries, what
    the step and the recursion are; a copy per call)."""
    reason = refusal(net)
    if reason:
        raise ValueError(reason)
    layers = Sequence(net).specs
    entries: tuple[Any, ...] = (*dict.fromkeys(net.activation(l) for l in range(1, net.L + 1)),
                                net.cost_entry)
    key = ("second order kinds", *entries, *(registry.meaning(e, 3) for e in entries), layers,
           kinds_meaning(layers), tuple(net.input_shape), _code(curvature), _code(tangent),
           behaviour(recursion, tuple(Template.of(x) for x in layers), net.L))
    if key not in _CACHE:
        text = kept.key_text(key, entries, layers)
        proof = kept.load(text)
        if proof is None:
            proof = prove_kinds_second_order_theorem(net, curvature=curvature,
                                                     recursion=recursion, tangent=tangent,
                                                     timeout=timeout)
            if proof.status == "timed out":
                return proof
            kept.keep(text, proof)
        _CACHE[key] = proof
    return copy.deepcopy(_CACHE[key])

"""The section "For every width and depth" as plain data.

The general theorem for this network's activations and cost: its three lemmas in index
notation, the induction, and how each part was checked.

The theorem is proved once per process for each (hidden activation, output activation, cost,
recursion) and kept (``symbp.theorem``), so every document can carry it at no cost after the first.
A network whose hidden layers mix activations gets one theorem per hidden activation.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..core.derivation import Derivation
from ..proof.general import cost_term
from ..proof.indexed import DEPTH, LAYER, WIDTH, A, B, J, K, W, Z, latex
from ..proof.theorem import DEPTHS, LEMMAS, theorem

MAX_FAILURES = 3
TITLES = {  # claim name: how the section introduces it
    LEMMAS["base"]: "Lemma 1 (the output layer)",
    LEMMAS["step"]: "Lemma 2 (one step back)",
    LEMMAS["W"]: "Lemma 3 (the weights)",
    LEMMAS["b"]: "Lemma 3 (the biases)",
}


@dataclass(frozen=True)
class GeneralClaim:
    name: str  # plain text: "step", "sigmoid'", "cross-check"
    statement: str  # LaTeX for a display
    status: str  # proved | failed | screened | not compared | timed out
    how: str  # plain text


@dataclass(frozen=True)
class GeneralPart:
    activation: str  # plain text: the hidden layers' activation(s)
    output: str  # plain text: the output layer's activation
    cost: str  # plain text
    layer_map: str  # LaTeX display: one layer, entry by entry, with symbolic widths
    cost_map: str  # LaTeX display: the cost as a sum over the output units
    next_map: str  # LaTeX display: z^{(l+1)} in terms of z^{(l)}
    base: list[GeneralClaim]  # Lemma 1, one per distinct output step the recursion took
    step: list[GeneralClaim]  # Lemma 2
    parameters: list[GeneralClaim]  # Lemma 3, weights then biases
    theorem: str  # LaTeX display: the statement proved by induction
    checks: list[GeneralClaim]  # every other claim: trace, function lemmas, cross-check
    status: str
    holds: bool
    depths: str  # plain text: "1 to 5", the depths the recursion was traced at
    failures: list[str]  # plain text, the first MAX_FAILURES
    others: list[tuple[str, str]]  # more hidden activations: (name, status of its theorem)


def general_part(d: Derivation) -> GeneralPart:
    """The section's data for ``d``'s activations, cost and recursion function."""
    net = d.net
    out = net.activations[-1]
    hidden = list(dict.fromkeys(net.activations[:-1])) or [out]
    proofs = [theorem(h, net.cost, output=out, recursion=d.recursion_function) for h in hidden]
    first = proofs[0]
    claims = [GeneralClaim(c.label, c.latex, c.status, c.how) for c in first.claims]
    named = {name: [c for c in claims if c.name == name] for name in TITLES}
    last = next(c for c in first.claims if c.name == "theorem")
    failures = [str(f) for p in proofs for f in p.failures]
    return GeneralPart(
        activation=", ".join(hidden), output=out, cost=net.cost,
        layer_map=_layer_map(net.activation(1) if net.L > 1 else net.activation(net.L)),
        cost_map=rf"C = {latex(sp.Sum(cost_term(net.cost_entry, J), (J, 1, WIDTH[DEPTH])))}",
        next_map=_next_map(net.activation(1) if net.L > 1 else net.activation(net.L)),
        base=named[LEMMAS["base"]], step=named[LEMMAS["step"]],
        parameters=named[LEMMAS["W"]] + named[LEMMAS["b"]],
        theorem=last.latex,
        checks=[c for c in claims if c.name not in TITLES and c.name != "theorem"],
        status=_worst([p.status for p in proofs]), holds=all(p.holds for p in proofs),
        depths=f"1 to {DEPTHS}", failures=failures[:MAX_FAILURES],
        others=[(h, p.status) for h, p in zip(hidden[1:], proofs[1:])],
    )


def _worst(statuses: list[str]) -> str:
    order = ("failed", "timed out", "not proved", "screened", "proved")
    return min(statuses, key=order.index)


def _activated(act, layer: sp.Expr, index: sp.Expr) -> str:
    """σ(z^{(l)}_j), or the softmax formula, in LaTeX."""
    z = latex(Z[layer, index])
    if act.elementwise:
        return rf"{act.latex}\bigl({z}\bigr)"
    m = sp.Symbol("m")
    return (rf"\frac{{e^{{{z}}}}}{{\sum_{{m=1}}^{{{latex(WIDTH[layer])}}} "
            rf"e^{{{latex(Z[layer, m])}}}}}")


def _layer_map(act) -> str:
    l = LAYER
    z = sp.Sum(W[l, J, K] * A[l - 1, K], (K, 1, WIDTH[l - 1])) + B[l, J]
    return (rf"{latex(Z[l, J])} = {latex(z)}, \qquad "
            rf"{latex(A[l, J])} = {_activated(act, l, J)}, \qquad a^{{(0)}}_k = x_k")


def _next_map(act) -> str:
    l, i = LAYER, sp.Symbol("i")
    total = rf"\sum_{{k=1}}^{{{latex(WIDTH[l])}}} {latex(W[l + 1, i, K])}\, {_activated(act, l, K)}"
    return rf"{latex(Z[l + 1, i])} = {total} + {latex(B[l + 1, i])}"


"""The section "For every width and depth" as plain data.

The general theorem for this network's activations and cost: its three lemmas in index
notation, the induction, and how each part was checked.

The theorem is proved once per process for each (hidden activation, output activation, cost,
recursion) and kept (``symbp.theorem``), so every document can carry it at no cost after the first.
A network whose hidden layers mix activations gets one theorem per hidden activation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from ..core.derivation import Derivation
from ..printing import forms
from ..printing.latex import aligned
from ..proof.claims import Claim
from ..proof.general import cost_term
from ..proof.index_entries import A, B, J, K, W, Z
from ..proof.indexed import DEPTH, LAYER, WIDTH, latex
from ..proof.theorem import DEPTHS, LEMMAS, covers, theorem
from .checks import established, title
from .text import iverson

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
    title: str  # mixed: what the claim is about ("the derivative of tanh")
    established: str  # mixed: how it was settled ("as a symbolic identity, ..."), or ""


@dataclass(frozen=True)
class Derivations:
    """Each lemma derived step by step, in index notation, with this network's activations and
    cost (LaTeX displays). The proved statement of each lemma is its claim; these are the
    steps that lead a reader to it."""

    base: str  # ∂C/∂z^{(L)}_k by the chain rule over the output units, down to the lemma
    base_elementwise: bool  # the output activation is elementwise: a bracket [j = k] collapses
    jacobian: str  # ∂z^{(l+1)}_i/∂z^{(l)}_k, the bracket keeping one term of the sum
    step: str  # ∂C/∂z^{(l)}_k by the chain rule over the next layer, down to (W^T δ)_k σ'
    step_elementwise: bool  # the hidden activation is elementwise
    vector: str  # the step for all k at once: δ_l = (W_{l+1}^T δ_{l+1}) ⊙ σ'(z_l)
    weights: str  # ∂C/∂w^{(l)}_{jk} = Σ_i δ_i [i = j] a_k = δ_j a_k
    biases: str  # ∂C/∂b^{(l)}_j = Σ_i δ_i [i = j] = δ_j
    matrices: str  # ∂C/∂W_l = δ_l a_{l-1}^T, ∂C/∂b_l = δ_l


@dataclass(frozen=True)
class GeneralPart:
    activation: str  # plain text: the hidden layers' activation(s)
    output: str  # plain text: the output layer's activation
    cost: str  # plain text
    layer_map: str  # LaTeX display: one layer, entry by entry, with symbolic widths
    cost_map: str  # LaTeX display: the cost as a sum over the output units
    next_map: str  # LaTeX display: z^{(l+1)} in terms of z^{(l)}
    derived: Derivations  # each lemma step by step
    base: list[GeneralClaim]  # Lemma 1, one per distinct output step the recursion took
    step: list[GeneralClaim]  # Lemma 2
    parameters: list[GeneralClaim]  # Lemma 3, weights then biases
    theorem: str  # LaTeX display: the statement proved by induction
    checks: list[GeneralClaim]  # every other claim: trace, function lemmas, cross-check
    status: str
    holds: bool
    depths: str  # plain text: "1 to 5", the depths the recursion was traced at
    traced: str  # mixed: the steps the trace found, "one output step, one hidden step, ..."
    recorded: bool  # the recursion was recorded once for every depth (else traced at depths)
    cases: str  # plain text: the cases of that recording, "L ≥ 2; L < 2"
    covers: str  # plain text: "" when this network's program is that recording's instance
    failures: list[str]  # plain text, the first MAX_FAILURES
    others: list[tuple[str, str]]  # more hidden activations: (name, status of its theorem)


def general_part(d: Derivation) -> GeneralPart:
    """The section's data for ``d``'s activations, cost and recursion function."""
    net = d.net
    out = net.activations[-1]
    hidden = list(dict.fromkeys(net.activations[:-1])) or [out]
    proofs = [theorem(h, net.cost, output=out, recursion=d.recursion_function) for h in hidden]
    first = proofs[0]
    claims = [GeneralClaim(c.label, c.latex, c.status, title(c.label), established(c.how))
              for c in first.claims]
    named = {name: [c for c in claims if c.name == name] for name in TITLES}
    last = next(c for c in first.claims if c.name == "theorem")
    failures = [str(f) for p in proofs for f in p.failures]
    return GeneralPart(
        activation=", ".join(hidden), output=out, cost=net.cost,
        layer_map=_layer_map(net.activation(1) if net.L > 1 else net.activation(net.L)),
        cost_map=rf"C = {latex(sp.Sum(cost_term(net.cost_entry, J), (J, 1, WIDTH[DEPTH])))}",
        next_map=_next_map(net.activation(1) if net.L > 1 else net.activation(net.L)),
        derived=derivations(net.activation(1) if net.L > 1 else net.activation(net.L),
                            net.activation(net.L), net.cost_entry),
        base=named[LEMMAS["base"]], step=named[LEMMAS["step"]],
        parameters=named[LEMMAS["W"]] + named[LEMMAS["b"]],
        theorem=last.latex,
        checks=[c for c in claims if c.name not in TITLES and c.name != "theorem"],
        status=_worst([p.status for p in proofs]), holds=all(p.holds for p in proofs),
        depths=f"1 to {DEPTHS}", traced=_traced(named), failures=failures[:MAX_FAILURES],
        recorded=_trace(first).status == "proved" or _trace(first).how.startswith("recorded"),
        cases=_cases(_trace(first).how), covers=covers(d),
        others=[(h, p.status) for h, p in zip(hidden[1:], proofs[1:])],
    )


def _trace(proof) -> Claim:
    return next(c for c in proof.claims if c.name == "trace")


def _cases(how: str) -> str:
    """The cases a recording for every depth made, as its claim names them."""
    found = re.search(r"\d+ cases? \(([^)]*)\)", how)
    return found.group(1) if found else ""


def _traced(named: dict[str, list[GeneralClaim]]) -> str:
    """The distinct steps the trace found, one lemma claim each, as words."""
    words = ["no", "one", "two", "three", "four", "five"]
    parts = []
    for name, what in ((LEMMAS["base"], "output step"), (LEMMAS["step"], "hidden step"),
                       (LEMMAS["W"], "weight gradient"), (LEMMAS["b"], "bias gradient")):
        n = len(named[name])
        parts.append(f"{words[n] if n < len(words) else n} {what}{'' if n == 1 else 's'}")
    return ", ".join(parts[:-1]) + " and " + parts[-1]


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
    """z^{(l+1)}_i as a sum over the units j of layer l (the lemma differentiates it by z_k)."""
    l, i = LAYER, sp.Symbol("i")
    total = rf"\sum_{{j=1}}^{{{latex(WIDTH[l])}}} {latex(W[l + 1, i, J])}\, {_activated(act, l, J)}"
    return rf"{latex(Z[l + 1, i])} = {total} + {latex(B[l + 1, i])}"



# ---------------------------------------------------------------- the lemmas, step by step

_Z_L = {i: f"z^{{(L)}}_{{{i}}}" for i in "ijk"}
_A_L = {i: f"a^{{(L)}}_{{{i}}}" for i in "ijk"}


def _entry(tex: str, index: str) -> str:
    """A registry formula in a_j, y_j (and a_k) as output unit ``index`` of layer L."""
    tex = re.sub(r"\ba_k\b", _A_L["k"], tex)
    tex = re.sub(r"\ba_j\b", _A_L[index], tex)
    return re.sub(r"\by_j\b", f"y_{{{index}}}", tex)


def _paren(tex: str) -> str:
    """``tex`` in parentheses sized for what it holds (a fraction needs the larger ones)."""
    return rf"\Bigl({tex}\Bigr)" if r"\frac" in tex else rf"\bigl({tex}\bigr)"


def _partial(top: str, bottom: str) -> str:
    return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"


def derivations(hidden, out, cost) -> Derivations:
    """The three lemmas derived by the chain rule, for hidden activation ``hidden``, output
    activation ``out`` and ``cost`` (registry entries)."""
    C_a = {i: _partial("C", _A_L[i]) for i in "jk"}
    chain = rf"\sum_{{j=1}}^{{n_L}} {C_a['j']}\, {_partial(_A_L['j'], _Z_L['k'])}"
    if out.elementwise:
        s = out.latex
        rows = [(_partial("C", _Z_L["k"]), chain),
                ("", rf"\sum_{{j=1}}^{{n_L}} {C_a['j']}\, {s}'\bigl({_Z_L['j']}\bigr)\, [j = k]"),
                ("", rf"{C_a['k']}\, {s}'\bigl({_Z_L['k']}\bigr)"),
                ("", rf"{_paren(_entry(forms.cost_gradient(cost), 'k'))}\, "
                     rf"{s}'\bigl({_Z_L['k']}\bigr)")]
    else:  # softmax: every output unit depends on every input
        jacobian = _entry(iverson(forms.activation_derivative(out).split("=", 1)[1].strip()), "j")
        rows = [(_partial("C", _Z_L["k"]), chain),
                ("", rf"\sum_{{j=1}}^{{n_L}} {_paren(_entry(forms.cost_gradient(cost), 'j'))}\, "
                     rf"{jacobian}")]
    base = aligned(rows)
    l, m = "l", "l+1"
    sigma = hidden.latex
    z_k, z_j, z_next = f"z^{{({l})}}_{{k}}", f"z^{{({l})}}_{{j}}", f"z^{{({m})}}_{{i}}"
    if hidden.elementwise:
        jac = aligned([(_partial(f"z^{{({m})}}_{{i}}", z_k),
                        rf"\sum_{{j=1}}^{{n_l}} w^{{({m})}}_{{ij}}\, {sigma}'\bigl({z_j}\bigr)\, "
                        r"[j = k]"),
                       ("", rf"w^{{({m})}}_{{ik}}\, {sigma}'\bigl({z_k}\bigr)")])
        local = rf"w^{{({m})}}_{{ik}}\, {sigma}'\bigl({z_k}\bigr)"
        step = aligned([
            (_partial("C", z_k), rf"\sum_{{i=1}}^{{n_{{l+1}}}} {_partial('C', z_next)}\, "
                                 rf"{_partial(z_next, z_k)}"),
            ("", rf"\sum_{{i=1}}^{{n_{{l+1}}}} \delta^{{({m})}}_{{i}}\, {local}"),
            ("", rf"{sigma}'\bigl({z_k}\bigr) \sum_{{i=1}}^{{n_{{l+1}}}} w^{{({m})}}_{{ik}}\, "
                 rf"\delta^{{({m})}}_{{i}}"),
            ("", rf"{sigma}'\bigl({z_k}\bigr) \bigl(W_{{l+1}}^{{T}} \delta_{{l+1}}\bigr)_{{k}}")])
        vector = rf"\delta_{{l}} = \bigl(W_{{l+1}}^{{T}} \delta_{{l+1}}\bigr) \odot {sigma}'(z_l)"
    else:
        a = f"a^{{({l})}}_{{j}}"
        jac = rf"{_partial(z_next, z_k)} = \sum_{{j=1}}^{{n_l}} w^{{({m})}}_{{ij}}\, " \
              rf"{_partial(a, z_k)}"
        step = aligned([
            (_partial("C", z_k), rf"\sum_{{i=1}}^{{n_{{l+1}}}} \delta^{{({m})}}_{{i}}\, "
                                 rf"{_partial(f'z^{{({m})}}_{{i}}', z_k)}"),
            ("", rf"\sum_{{j=1}}^{{n_l}} {_partial(a, z_k)} \bigl(W_{{l+1}}^{{T}} "
                 rf"\delta_{{l+1}}\bigr)_{{j}}")])
        vector = rf"\delta_{{l}} = \Bigl({_partial('a_l', 'z_l')}\Bigr)^{{T}} W_{{l+1}}^{{T}} " \
                 r"\delta_{l+1}"
    d_i, a_k = r"\delta^{(l)}_{i}", r"a^{(l-1)}_{k}"
    weights = aligned([(_partial("C", "w^{(l)}_{jk}"),
                        rf"\sum_{{i=1}}^{{n_l}} {_partial('C', 'z^{(l)}_{i}')}\, "
                        rf"{_partial('z^{(l)}_{i}', 'w^{(l)}_{jk}')}"),
                       ("", rf"\sum_{{i=1}}^{{n_l}} {d_i}\, [i = j]\, {a_k}"),
                       ("", rf"\delta^{{(l)}}_{{j}}\, {a_k}")])
    biases = rf"{_partial('C', 'b^{(l)}_{j}')} = \sum_{{i=1}}^{{n_l}} {d_i}\, [i = j] " \
             r"= \delta^{(l)}_{j}"
    matrices = r"\frac{\partial C}{\partial W_l} = \delta_l\, a_{l-1}^{T}, \qquad " \
               r"\frac{\partial C}{\partial b_l} = \delta_l"
    return Derivations(base, out.elementwise, jac, step, hidden.elementwise, vector, weights,
                       biases, matrices)

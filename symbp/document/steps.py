"""Backpropagation step by step, as plain data: one Step per layer, output layer first.

Each step follows the seed: the chain rule for ∂C/∂W_l, its factors one by one,
the error δ_l (from ∂C/∂a_L for the output layer, from δ_{l+1} otherwise), the
gradients δ_l a_{l-1}ᵀ and δ_l, and the update rule. The explicit entries are
the recursion's own trace (``d.recursion``) in layered symbols. The update rules
and the closing summary (backprop as vector-Jacobian products) live here too.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..core.derivation import Derivation
from ..core.naming import vector_latex as vec
from ..core.recursion import Recursion
from ..printing import forms
from ..printing.latex import Printer, aligned
from ..printing.width import matrix_width, width
from ..proof.exact import equivalent
from .text import iverson, rich


@dataclass(frozen=True)
class Step:
    """One layer's step. LaTeX unless noted; a display is the body of a display-math block."""

    number: int
    l: int
    title: str  # plain text
    output: bool  # the output layer (step 1)
    first: bool  # layer 1, whose input a_0 is x
    elementwise: bool  # the layer's activation is elementwise (⊙), not a full Jacobian
    sym: dict[str, str]  # inline LaTeX names: W, b, z, a, delta, a_prev, dW, W_next, ...
    chain: str  # display: the chain rule for ∂C/∂W_l
    cost_gradient: str  # display (output step): ∂C/∂a_L entry by entry and as a vector
    activation_jacobian: str  # display: ∂a_L/∂z_L (output) or ∂z_{l+1}/∂z_l (hidden)
    input_derivative: str  # display: ∂z^{(l)}_j/∂w^{(l)}_{jk} = a^{(l-1)}_k
    derivative: str  # inline: σ'(z) = ... (or the softmax Jacobian entry); "" if unknown
    note: list[tuple[bool, str]]  # rich text from the registry, once per activation; may be empty
    delta_rule: str  # display: δ_l in vectors
    delta_index: str  # display: δ^{(l)}_j entry by entry
    delta_explicit: str  # display: δ_l with this network's entries
    delta_simplified: str  # display (softmax with cross-entropy): a_L Σ y − y; else ""
    weight_rule: str  # inline: ∂C/∂W_l = δ_l a_{l-1}ᵀ
    weight_explicit: str  # display
    bias_rule: str  # inline: ∂C/∂b_l = δ_l
    bias_explicit: str  # display
    update: str  # display: W_l ← ..., b_l ← ...


# ---------------------------------------------------------------- LaTeX names


def partial(top: str, bottom: str) -> str:
    """∂top/∂bottom as a display fraction."""
    return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"


def slash(top: str, bottom: str) -> str:
    """∂top/∂bottom for running text, where a fraction would be cramped."""
    return rf"\partial {top}/\partial {bottom}"


def prime(d: Derivation, l: int) -> str:
    """σ_l'(z_l), with layer l's own activation name."""
    return rf"{d.net.activation(l).latex}'({vec('z', l)})"


def _names(d: Derivation, l: int) -> dict[str, str]:
    act = d.net.activation(l)
    names = {
        "l": str(l), "W": vec("W", l), "b": vec("b", l), "z": vec("z", l), "a": vec("a", l),
        "delta": vec("delta", l), "a_prev": "x" if l == 1 else vec("a", l - 1),
        "sigma": act.latex, "prime": prime(d, l),
        "dW": slash("C", vec("W", l)), "db": slash("C", vec("b", l)),
        "da": slash("C", vec("a", l)), "jacobian": slash(vec("a", l), vec("z", l)),
        "dz_dW": slash(vec("z", l), vec("W", l)),
        "w_jk": rf"w^{{({l})}}_{{jk}}", "delta_j": rf"\delta^{{({l})}}_{{j}}",
    }
    if l < d.L:
        names.update({"W_next": vec("W", l + 1), "b_next": vec("b", l + 1),
                      "z_next": vec("z", l + 1), "delta_next": vec("delta", l + 1),
                      "dz_next": slash(vec("z", l + 1), vec("a", l))})
    return names


# ---------------------------------------------------------------- the steps


def backprop_steps(d: Derivation, P: Printer) -> list[Step]:
    trace = recursion_trace(d)
    return [_step(d, P, trace, l, number)
            for number, l in enumerate(range(d.L, 0, -1), start=1)]


def recursion_trace(d: Derivation) -> Recursion:
    """The recursion's trace; empty if it crashed (the proof section reports how)."""
    try:
        return d.recursion
    except Exception:  # a broken recursion still gets its document, with the failure in it
        return Recursion()


def _step(d: Derivation, P: Printer, trace: Recursion, l: int, number: int) -> Step:
    s = _names(d, l)
    act = d.net.activation(l)
    output = l == d.L
    dW, db = partial("C", s["W"]), partial("C", s["b"])
    if output:
        title = f"Step {number}: the output layer (layer {l})"
        chain = rf"{dW} = {partial('C', s['a'])} \cdot {partial(s['a'], s['z'])} \cdot " \
                rf"{partial(s['z'], s['W'])}"
    else:
        title = f"Step {number}: propagate back to layer {l}"
        chain = rf"{dW} = {partial('C', s['z'])} \cdot {partial(s['z'], s['W'])} " \
                rf"= {s['delta']}\, {s['a_prev']}^{{T}}"
    a_prev_k = "x_{k}" if l == 1 else rf"a^{{({l - 1})}}_{{k}}"
    dz_dw = partial(f"z^{{({l})}}_{{j}}", s["w_jk"])
    derivative = iverson(forms.activation_derivative(act)) if not act.elementwise else \
        (rf"{act.latex}'(z) = {forms.activation_derivative(act)}" if act.formula is not None
         else "")
    first_use = output or d.net.activations[l] != act.name  # activations[l] is layer l + 1's
    return Step(
        number=number, l=l, title=title, output=output, first=l == 1,
        elementwise=act.elementwise, sym=s, chain=chain,
        cost_gradient=_cost_gradient(d, P) if output else "",
        activation_jacobian=_activation_jacobian(d, P, l),
        input_derivative=rf"{dz_dw} = {a_prev_k}, \qquad "
                         rf"{partial(f'z^{{({l})}}_{{i}}', s['w_jk'])} = 0 \quad (i \neq j)",
        derivative=derivative,
        note=rich(act.note) if first_use else [],
        delta_rule=_delta_rule(d, l),
        delta_index=_delta_index(d, l),
        delta_explicit=_defined(P, s["delta"], trace.deltas.get(l)),
        delta_simplified=_softmax_ce_delta(d, P, trace) if output else "",
        weight_rule=rf"{s['dW']} = {s['delta']}\, {s['a_prev']}^{{T}}",
        weight_explicit=_outer(d, P, trace, l),
        bias_rule=rf"{s['db']} = {s['delta']}",
        bias_explicit=_defined(P, db, trace.bias.get(l)),
        update=_block([_update_row(d, l)]),
    )


def _defined(P: Printer, lhs: str, value) -> str:
    if value is None:  # a broken recursion: the proof section says where
        return rf"{lhs} = \text{{(not computed by the recursion)}}"
    return P.defined(lhs, value)


def _cost_gradient(d: Derivation, P: Printer) -> str:
    """∂C/∂a_L entry by entry (the registry's formula), then as this network's vector."""
    cost = d.net.cost_entry
    column = sp.Matrix(cost.gradient(list(d.a_symbols(d.L)), list(d.y)))
    a_j = f"a^{{({d.L})}}_{{j}}"
    return aligned([(partial("C", a_j), forms.cost_gradient(cost).replace("a_j", a_j)),
                    *P.defined_rows(partial("C", vec("a", d.L)), column)])


def _activation_jacobian(d: Derivation, P: Printer, l: int) -> str:
    """∂a_L/∂z_L for the output step; ∂z_{l+1}/∂z_l for a hidden step."""
    act = d.net.activation(l)
    z, a = list(d.z_symbols(l)), list(d.a_symbols(l))
    if l == d.L:
        lhs = partial(vec("a", l), vec("z", l))
        if act.elementwise:
            return f"{lhs} = {P.diag([act.prime(zj) for zj in z], budget=P.room(lhs))}"
        return P.defined(lhs, act.jacobian(z, a))
    lhs = partial(vec("z", l + 1), vec("z", l))
    if act.elementwise:
        return rf"{lhs} = {vec('W', l + 1)}\, \operatorname{{diag}}\bigl({prime(d, l)}\bigr)"
    return rf"{lhs} = {vec('W', l + 1)}\, {partial(vec('a', l), vec('z', l))}"


def _delta_rule(d: Derivation, l: int) -> str:
    act = d.net.activation(l)
    delta, z = vec("delta", l), vec("z", l)
    if l == d.L:
        head = rf"{delta} = {partial('C', z)}"
        incoming = partial("C", vec("a", l))
    else:
        head = rf"{delta} = {partial('C', z)} = \Bigl({partial(vec('z', l + 1), z)}\Bigr)^{{T}}" \
               rf" {vec('delta', l + 1)}"
        incoming = rf"\bigl({vec('W', l + 1)}^{{T}} {vec('delta', l + 1)}\bigr)"
    if act.elementwise:
        return rf"{head} = {incoming} \odot {prime(d, l)}"
    return rf"{head} = \Bigl({partial(vec('a', l), z)}\Bigr)^{{T}} {incoming}"


def _delta_index(d: Derivation, l: int) -> str:
    act = d.net.activation(l)
    if l == d.L:
        incoming = {i: partial("C", f"a^{{({l})}}_{{{i}}}") for i in "ij"}
    else:
        incoming = {i: rf"\sum_k w^{{({l + 1})}}_{{k{i}}}\, \delta^{{({l + 1})}}_{{k}}"
                    for i in "ij"}
    if act.elementwise:
        return rf"\delta^{{({l})}}_{{j}} = {act.latex}'\bigl(z^{{({l})}}_{{j}}\bigr)\, " \
               rf"{incoming['j']}"
    jacobian = partial(f"a^{{({l})}}_{{i}}", f"z^{{({l})}}_{{j}}")
    inner = incoming["i"] if l == d.L else rf"\Bigl({incoming['i']}\Bigr)"
    return rf"\delta^{{({l})}}_{{j}} = \sum_i {jacobian}\, {inner}"


def _outer(d: Derivation, P: Printer, trace: Recursion, l: int) -> str:
    """∂C/∂W_l = δ_l a_{l-1}ᵀ: the two vectors, then their outer product entry by entry."""
    gradient = trace.weight.get(l)
    dW = partial("C", vec("W", l))
    if gradient is None:
        return rf"{dW} = \text{{(not computed by the recursion)}}"
    a_prev = "x" if l == 1 else vec("a", l - 1)
    rule = rf"{vec('delta', l)}\, {a_prev}^{{T}}"
    delta, row = P.matrix(d.delta_symbols(l)), P.matrix(d.a_symbols(l - 1).T)
    beside = width(f"{rule} =") + matrix_width(delta) + matrix_width(row)
    rows = [(dW, f"{rule} = {delta} {row}" if beside <= P.room(dW) else rule)]
    entries = P.defined_rows(dW, gradient)
    return aligned(rows + [("" if lhs == dW else lhs, rhs) for lhs, rhs in entries])


def _softmax_ce_delta(d: Derivation, P: Printer, trace: Recursion) -> str:
    """δ_L = a_L Σ_j y_j − y for softmax with cross-entropy, if proved equal to the trace."""
    if d.net.cost != "softmax_ce" or d.L not in trace.deltas:
        return ""
    a, y = d.a_symbols(d.L), d.y
    total = sp.Add(*y)
    simple = sp.Matrix([a[j] * sp.UnevaluatedExpr(total) - y[j] for j in range(len(y))])
    if not equivalent(trace.deltas[d.L], simple.doit()):
        return ""
    lhs = vec("delta", d.L)
    rows = [(lhs, rf"{vec('a', d.L)} \textstyle\sum_j y_j - y")]
    return aligned(rows + [("", rhs) for _, rhs in P.defined_rows(lhs, simple)])


# ---------------------------------------------------------------- update rules and summary


def _update_row(d: Derivation, l: int) -> str:
    W, b = vec("W", l), vec("b", l)
    return rf"{W} &\leftarrow {W} - \eta\, {partial('C', W)}, & \qquad " \
           rf"{b} &\leftarrow {b} - \eta\, {partial('C', b)}"


def update_rules(d: Derivation) -> str:
    """W_l ← W_l − η ∂C/∂W_l and b_l ← b_l − η ∂C/∂b_l for every layer, output first."""
    return _block([_update_row(d, l) for l in range(d.L, 0, -1)])


def element_update_rules(d: Derivation) -> str:
    """The same rules entry by entry, with the errors δ^{(l)}_j."""
    rows = []
    for l in range(d.L, 0, -1):
        w, b, delta = rf"w^{{({l})}}_{{jk}}", rf"b^{{({l})}}_{{j}}", rf"\delta^{{({l})}}_{{j}}"
        a_k = "x_{k}" if l == 1 else rf"a^{{({l - 1})}}_{{k}}"
        rows.append(rf"{w} &\leftarrow {w} - \eta\, {delta}\, {a_k}, & \qquad "
                    rf"{b} &\leftarrow {b} - \eta\, {delta}")
    return _block(rows)


def backprop_rows(d: Derivation) -> list[tuple[str, str, str]]:
    """Backprop as vector-Jacobian products, one (lhs, rhs, what it is) per move, output first."""
    rows = []
    for l in range(d.L, 0, -1):
        act = d.net.activation(l)
        incoming = slash("C", vec("a", l))
        if act.elementwise:
            diag = rf"\operatorname{{diag}}\bigl({prime(d, l)}\bigr)"
            rows.append((vec("delta", l), rf"{incoming} \odot {prime(d, l)}",
                         rf"\text{{through }} {diag}"))
        else:
            jacobian = slash(vec("a", l), vec("z", l))
            rows.append((vec("delta", l), rf"\bigl({jacobian}\bigr)^{{T}} {incoming}",
                         rf"\text{{through }} {jacobian}"))
        a_prev = "x" if l == 1 else vec("a", l - 1)
        rows.append((slash("C", vec("W", l)),
                     rf"{vec('delta', l)}\, {a_prev}^{{T}}, \quad "
                     rf"{slash('C', vec('b', l))} = {vec('delta', l)}",
                     rf"\text{{gradients of layer {l}}}"))
        if l > 1:
            rows.append((slash("C", vec("a", l - 1)), rf"{vec('W', l)}^{{T}} {vec('delta', l)}",
                         rf"\text{{through }} {slash(vec('z', l), vec('a', l - 1))} = "
                         rf"{vec('W', l)}"))
    return rows


def backprop_summary(d: Derivation) -> str:
    """Backprop as vector-Jacobian products, one row per move, output layer first."""
    return _block([rf"{lhs} &= {rhs} && \qquad {note}" for lhs, rhs, note in backprop_rows(d)])


def _block(rows: list[str]) -> str:
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

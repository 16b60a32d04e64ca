"""The worked example as plain data: the derivation's steps with this example's numbers.

The numbers come from ``document.numbers`` (exact where possible); here they become
displays of LaTeX, in the order of the symbolic sections: the forward pass layer by
layer, the cost, the δ steps from the output back, the gradients and one step of
gradient descent, and a central-difference check of one weight. ``worked_json`` is
the same numbers as ``worked.json``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import sympy as sp

from ..core.derivation import Derivation
from ..core.naming import vector_latex as vec
from ..printing import forms
from ..printing.latex import Printer, aligned, number_latex
from ..printing.width import width
from .example import Example
from .numbers import PRECISION, Numbers, decimal_text, evaluate, rounded
from .steps import partial, prime

MAX_ENTRY_TERMS = 4  # terms of z^{(l)}_1 = Σ_k w a + b written out before ⋯


@dataclass(frozen=True)
class WorkedLayer:
    """Layer l of the forward pass in numbers. LaTeX displays."""

    l: int
    forward: str  # z_l = W_l a_{l-1} + b_l = (numbers)
    entry: str  # z^{(l)}_1 written out term by term, then in numbers
    activate: str  # a_l = σ(z_l) = (numbers)


@dataclass(frozen=True)
class WorkedStep:
    """One backward step in numbers, output layer first. LaTeX displays."""

    l: int
    output: bool
    delta: str  # δ_l from the incoming gradient and the activation's derivative
    weight: str  # ∂C/∂W_l = δ_l a_{l-1}ᵀ = (numbers); ∂C/∂b_l = δ_l
    update: str  # W_l and b_l after one step of gradient descent


@dataclass(frozen=True)
class WorkedPart:
    digits: int
    precision: int  # significant digits carried for values that are not rational
    given: str  # display: x, y and η
    parameters: str  # display: every W_l and b_l
    layers: list[WorkedLayer]
    cost: str  # display
    steps: list[WorkedStep]
    weight: str  # LaTeX name of the checked weight
    step_size: str  # LaTeX: the h of the central difference
    check: str  # display: the difference quotient and backpropagation's value
    agree: bool  # both round to the same digits
    difference: str  # LaTeX number: backprop − quotient
    count: int  # parameters checked the same way: every weight and every bias
    all_agree: bool  # every one of them rounds to backpropagation's digits
    worst: str  # LaTeX: the largest |backprop − quotient| over all of them
    disagree: list[str]  # LaTeX names of the parameters whose digits differ


def worked_part(d: Derivation, P: Printer, example: Example | dict) -> WorkedPart:
    """The worked-example section of ``d`` for ``example`` (ValueError for a bad example)."""
    n = evaluate(d, example)
    show = _Shower(P, n.example.digits)
    ex = n.example
    given = [f"x = {show.column(ex.x)}", f"y = {show.column(ex.y)}",
             rf"\eta = {show.number(ex.learning_rate)}"]
    parameters = [(vec("W", l), show.matrix(W, budget=P.line / 2 - 40))
                  for l, W in enumerate(ex.weights, 1)]
    rows = [(W, rf"{M}, \qquad {vec('b', l)} = {show.column(ex.biases[l - 1])}")
            for l, (W, M) in enumerate(parameters, 1)]
    check = n.check
    w = P(d.weights(check.l)[check.j - 1, check.k - 1])
    quotient, backprop = (show.number(v) for v in (check.quotient, check.backprop))
    return WorkedPart(
        digits=ex.digits, precision=PRECISION,
        given=r", \qquad ".join(given) if width(", ".join(given)) < P.line
        else aligned([(g.split(" = ", 1)[0], g.split(" = ", 1)[1]) for g in given]),
        parameters=aligned(rows),
        layers=[_layer(d, P, show, n, l) for l in d.layers],
        cost=f"C = {forms.cost_formula(d.net.cost_entry)} = {show.number(n.cost)}",
        steps=[_step(d, P, show, n, l) for l in range(d.L, 0, -1)],
        weight=w, step_size=show.number(check.h),
        check=aligned([(r"\frac{C(w + h) - C(w - h)}{2h}", quotient),
                       (partial("C", w), rf"{backprop} \quad \text{{(backpropagation)}}")]),
        agree=rounded(check.quotient, ex.digits) == rounded(check.backprop, ex.digits),
        difference=number_latex(decimal_text(check.backprop - check.quotient, 2)),
        count=len(n.checks), all_agree=not _disagreeing(n, ex.digits),
        worst=number_latex(decimal_text(max(abs(c.backprop - c.quotient) for c in n.checks),
                                        2)),
        disagree=[P(_parameter(d, c)) for c in _disagreeing(n, ex.digits)][:6],
    )


def _disagreeing(n, digits: int) -> list:
    return [c for c in n.checks if rounded(c.quotient, digits) != rounded(c.backprop, digits)]


def _parameter(d: Derivation, c) -> sp.Symbol:
    return d.weights(c.l)[c.j - 1, c.k - 1] if c.wrt == "W" else d.biases(c.l)[c.j - 1]


def worked_json(d: Derivation, example: Example | dict) -> str:
    """worked.json: the example's numbers to its digits, per layer, layer 1 first."""
    n = evaluate(d, example)
    digits = n.example.digits

    def number(v: sp.Expr) -> float:
        return float(decimal_text(v, digits))

    def matrix(M: sp.Matrix) -> list:
        return [[number(M[i, j]) for j in range(M.cols)] for i in range(M.rows)]

    def vector(M: sp.Matrix) -> list:
        return [number(v) for v in M]

    check = n.check
    data = {
        "digits": digits, "learning_rate": number(n.example.learning_rate),
        "cost": number(n.cost), "z": [vector(z) for z in n.z], "a": [vector(a) for a in n.a],
        "delta": [vector(v) for v in n.delta],
        "grad": {"W": [matrix(g) for g in n.grad_W], "b": [vector(g) for g in n.grad_b]},
        "updated": {"W": [matrix(W) for W in n.updated_W], "b": [vector(b) for b in n.updated_b]},
        "check": {"layer": check.l, "row": check.j, "column": check.k, "h": float(check.h),
                  "central_difference": number(check.quotient),
                  "backprop": number(check.backprop)},
        "checks": [{"parameter": c.wrt, "layer": c.l, "row": c.j, "column": c.k,
                    "central_difference": number(c.quotient), "backprop": number(c.backprop)}
                   for c in n.checks],
    }
    text = json.dumps(data, indent=2)
    # a list of numbers (a vector, a matrix row) on one line
    return _NUMBER_LIST.sub(lambda m: "[" + " ".join(m.group(1).split()) + "]", text) + "\n"


_NUMBER_LIST = re.compile(r"\[\s*((?:-?[0-9][0-9.e+-]*,?\s*)+)\]")


class _Shower:
    """Numbers as LaTeX, to the example's digits."""

    def __init__(self, P: Printer, digits: int):
        self.P, self.digits = P, digits

    def text(self, value: sp.Expr) -> str:
        return decimal_text(value, self.digits)

    def number(self, value: sp.Expr) -> str:
        return number_latex(self.text(value))

    def factor(self, value: sp.Expr) -> str:
        """A number inside a product or a sum: a negative one in parentheses."""
        tex = self.number(value)
        return rf"({tex})" if tex.startswith("-") else tex

    def column(self, M: sp.Matrix, budget: float | None = None) -> str:
        return self.P.numbers(M, self.text, budget)

    def matrix(self, M: sp.Matrix, budget: float | None = None) -> str:
        return self.P.numbers(M, self.text, budget)


def _equal(lhs: str, parts: list[str], P: Printer) -> str:
    """``lhs = p_1 = p_2 = ...`` on one line if it fits, else one part per row."""
    line = " = ".join([lhs, *parts])
    if width(line) <= P.line:
        return line
    return aligned([(lhs, parts[0]), *(("", part) for part in parts[1:])])


def _matrix_rows(P: Printer, show: _Shower, lhs: str, rule: str,
                 M: sp.Matrix) -> list[tuple[str | None, str]]:
    """``lhs = rule = M`` as one row if M fits there whole, else M on a row of its own."""
    beside = show.matrix(M, budget=P.room(lhs) - width(f"{rule} ="))
    if r"\cdots" not in beside and r"\vdots" not in beside:
        return [(lhs, f"{rule} = {beside}")]
    return [(lhs, rule), ("", show.matrix(M, budget=P.room(lhs)))]


def _equal_matrix(P: Printer, show: _Shower, lhs: str, rule: str, M: sp.Matrix) -> str:
    rows = _matrix_rows(P, show, lhs, rule, M)
    return f"{lhs} = {rows[0][1]}" if len(rows) == 1 else aligned(rows)


def _layer(d: Derivation, P: Printer, show: _Shower, n: Numbers, l: int) -> WorkedLayer:
    a_prev = "x" if l == 1 else vec("a", l - 1)
    previous = n.example.x if l == 1 else n.a[l - 2]
    W, b = n.example.weights[l - 1], n.example.biases[l - 1]
    symbols = [P(d.weights(l)[0, k]) + " " + P(d.a_symbols(l - 1)[k]) for k in range(W.cols)]
    values = [rf"{show.factor(W[0, k])} \cdot {show.factor(previous[k])}" for k in range(W.cols)]
    if len(symbols) > MAX_ENTRY_TERMS:  # first two, ⋯, last
        symbols = [*symbols[:2], r"\cdots", symbols[-1]]
        values = [*values[:2], r"\cdots", values[-1]]
    z_1 = P(d.z_symbols(l)[0])
    entry = aligned([(z_1, " + ".join([*symbols, P(d.biases(l)[0])])),
                     ("", " + ".join([*values, show.factor(b[0])])),
                     ("", show.number(n.z[l - 1][0]))])
    act = d.net.activation(l)
    return WorkedLayer(
        l,
        forward=_equal(vec("z", l), [rf"{vec('W', l)}\, {a_prev} + {vec('b', l)}",
                                     show.column(n.z[l - 1])], P),
        entry=entry,
        activate=_equal(vec("a", l), [rf"{act.latex}({vec('z', l)})", show.column(n.a[l - 1])],
                        P),
    )


def _step(d: Derivation, P: Printer, show: _Shower, n: Numbers, l: int) -> WorkedStep:
    act = d.net.activation(l)
    delta = show.column(n.delta[l - 1])
    if l == d.L:
        incoming, incoming_value = partial("C", vec("a", l)), n.cost_gradient
    else:
        incoming = rf"{vec('W', l + 1)}^{{T}} {vec('delta', l + 1)}"
        incoming_value = n.backward[l - 1]
    if act.elementwise:
        derivative = sp.Matrix(list(n.jacobians[l - 1].diagonal()))
        rule = rf"{incoming} \odot {prime(d, l)}"
        if l < d.L:
            rule = rf"\bigl({incoming}\bigr) \odot {prime(d, l)}"
        shown = rf"{show.column(incoming_value)} \odot {show.column(derivative)}"
        rows = _equal(vec("delta", l), [rule, shown, delta], P)
    else:
        jacobian = partial(vec("a", l), vec("z", l))
        rows = aligned([
            (jacobian, show.matrix(n.jacobians[l - 1], budget=P.room(jacobian))),
            (incoming, show.column(incoming_value)),
            (vec("delta", l), rf"\Bigl({jacobian}\Bigr)^{{T}} {incoming} = {delta}"),
        ])
    a_prev = "x" if l == 1 else vec("a", l - 1)
    dW, W, b = partial("C", vec("W", l)), vec("W", l), vec("b", l)
    weight = _equal_matrix(P, show, dW, rf"{vec('delta', l)}\, {a_prev}^{{T}}", n.grad_W[l - 1])
    new_W, new_b = rf"{W}^{{\text{{new}}}}", rf"{b}^{{\text{{new}}}}"
    update = aligned([*_matrix_rows(P, show, new_W, rf"{W} - \eta\, {dW}", n.updated_W[l - 1]),
                      (new_b, rf"{b} - \eta\, {partial('C', b)} = "
                       + show.column(n.updated_b[l - 1]))])
    return WorkedStep(l, l == d.L, rows, weight, update)


"""Second order of a network of layer kinds with numbers: the worked example's Hessian.

The example's numbers (exact where they can be, else ``PRECISION`` digits, as in
``document.numbers``) are put into every node of the curvature recursion's own graph
(``d.curvature_graph``: each node's Jacobian and second derivatives) and into H_C and
∂C/∂s at the split; then the recursion's own step (``push_curvature``) sweeps them, node by
node, from the output down. What arrives at each layer's input is recorded on the way; what
is left at the end is the Hessian (with the residual terms) or G (without them). A central
difference of the first-order gradient checks one entry and shares nothing with the sweep.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..core.curvature import absorbs_output
from ..core.kinds_curvature import LiveCurvature, Node, push_curvature, start
from ..core.kinds_second_order import KindsSecondDerivation
from ..printing.latex import Printer, aligned, number_latex
from .kinds_numbers import LayerExample, check_layers
from .numbers import decimal_text, settle
from .second_numbers import agree


@dataclass(frozen=True)
class SecondLayerNumbers:
    """The example's second-order values, in the order of ``d.parameters()``."""

    split: sp.Matrix  # H_C at the split
    arriving: list[tuple[int, sp.Matrix]]  # (l, ∂²C/∂a_l²) for l = L-1 .. 1, as swept
    hessian: sp.Matrix  # (P, P)
    gauss_newton: sp.Matrix
    check: tuple[sp.Expr, sp.Expr, sp.Rational]  # (H_11 swept, central difference, h)
    digits: int


def evaluate_kinds_second(d: KindsSecondDerivation,
                          example: LayerExample | dict) -> SecondLayerNumbers:
    """The curvature recursion on the example's numbers: H, G, and what reaches each layer."""
    ex = check_layers(example, d.net.resolved)
    values: dict[sp.Symbol, sp.Expr] = {**dict(zip(d.x, ex.x)), **dict(zip(d.y, ex.y))}
    for l in d.layers:
        for name, M in d.layer_parameters(l).items():
            values.update(zip(M, ex.params[l - 1][name]))
    memo: dict[sp.Basic, sp.Expr] = {}

    def number(e: sp.Expr) -> sp.Expr:
        return _at(sp.sympify(e), values, memo)

    nodes = [Node(n.layer, n.name, n.symbols, n.reads,
                  tuple({u: number(e) for u, e in J.items()} for J in n.jacobian),
                  tuple({k: number(e) for k, e in S.items()} for S in n.second))
             for n in d.curvature_graph]
    split = _start(d, number)
    swept = {residual: _sweep(d, nodes, _copy(split), residual) for residual in (True, False)}
    absorbed = absorbs_output(d.net.cost_entry)
    s = list(d.z_symbols(d.L) if absorbed else d.a_symbols(d.L))
    theta = d.parameters()
    H, arriving = swept[True]
    return SecondLayerNumbers(
        sp.Matrix(len(s), len(s), lambda i, j: split.entry(s[int(i)], s[int(j)])),
        arriving, H, swept[False][0], _check(d, values, theta[0], H[0, 0], ex.digits),
        ex.digits)


def _at(e: sp.Basic, values: dict, memo: dict) -> sp.Expr:
    """``e`` at the point ``values``, each shared subexpression once (the composed expressions
    share much; a tree walk, as ``evalf`` does, repeats it)."""
    found = memo.get(e)
    if found is None:
        if e in values:
            found = values[e]
        elif not e.args:
            found = e
        else:
            found = settle(e.func(*[_at(a, values, memo) for a in e.args]), "a second derivative")
        memo[e] = found
    return found


def _start(d: KindsSecondDerivation, number) -> LiveCurvature:
    live = start(d)
    numbered = LiveCurvature()
    for r, row in live.omega.items():
        for u, e in row.items():
            numbered.add(r, u, number(e))
    numbered.grad.update({u: number(e) for u, e in live.grad.items()})
    return numbered


def _copy(live: LiveCurvature) -> LiveCurvature:
    return LiveCurvature({r: dict(row) for r, row in live.omega.items()}, dict(live.grad))


def _sweep(d: KindsSecondDerivation, nodes: list[Node], live: LiveCurvature,
           residual: bool) -> tuple[sp.Matrix, list[tuple[int, sp.Matrix]]]:
    """The recursion's own step over the numbered nodes, from the output down; Ω over a_(l-1)
    recorded when layer l's nodes are all gone."""
    arriving = []
    order = list(reversed(nodes))
    for i, node in enumerate(order):
        push_curvature(live, node, residual)
        last = i + 1 == len(order) or order[i + 1].layer != node.layer
        if last and node.layer > 1:
            arriving.append((node.layer - 1, _omega(live, list(d.a_symbols(node.layer - 1)))))
    return _omega(live, d.parameters()), arriving


def _omega(live: LiveCurvature, over: list[sp.Symbol]) -> sp.Matrix:
    """Ω restricted to ``over``, in that order."""
    return sp.Matrix([[settle(live.entry(r, u)) for u in over] for r in over])


def _check(d: KindsSecondDerivation, values: dict, p: sp.Symbol, swept: sp.Expr,
           digits: int) -> tuple[sp.Expr, sp.Expr, sp.Rational]:
    """(∂C/∂p(p + h) − ∂C/∂p(p − h)) / 2h for the first parameter p, from the gradient's
    formula (the recursion's, first order)."""
    h = sp.Rational(1, 10 ** (digits // 2 + 4))
    name = next(iter(d.layer_parameters(1)))
    gradient = d.grad(1, "recursion", name)[0]
    sides = [_at(gradient, {**values, p: values[p] + sign * h}, {}) for sign in (1, -1)]
    return swept, settle((sides[0] - sides[1]) / (2 * h)), h


@dataclass(frozen=True)
class KindsWorkedSecond:
    """The worked example in numbers: LaTeX displays and plain facts."""

    digits: int
    split: str  # display: H_C at the example
    arriving: list[str]  # displays: ∂²C/∂a_l², l = L-1 .. 1
    hessian: list[str]  # displays: one per parameter tensor, its rows from the diagonal on
    gauss_newton: str  # display: G on the output layer's block
    check: str  # display
    agree: bool
    weight: str  # LaTeX: the first parameter
    step_size: str  # LaTeX number


def kinds_worked_second(d: KindsSecondDerivation, P: Printer,
                        example: LayerExample | dict) -> KindsWorkedSecond:
    numbers = evaluate_kinds_second(d, example)
    digits = numbers.digits
    shown = min(digits, 4)  # blocks of 4-digit numbers fit two to a line

    def text(v: sp.Expr) -> str:
        return decimal_text(v, shown)

    def named(l: int, name: str) -> str:
        return f"{d.net.resolved[l - 1].kind.words.get(name, name)}_{{{l}}}"

    parts, at = [], 0
    for l in d.layers:
        for name, M in d.layer_parameters(l).items():
            parts.append((named(l, name), at, len(M)))
            at += len(M)
    hessian = []
    for i, (p, begin, size) in enumerate(parts):
        rows: list[tuple[str | None, str]] = []
        for q, begin2, size2 in parts[i:]:
            lhs = rf"H_{{{p} {q}}}"
            block = numbers.hessian[begin:begin + size, begin2:begin2 + size2]
            rows.append((lhs, P.numbers(block, text, budget=P.room(lhs))))
        hessian.append(aligned(rows))
    L = d.L
    last = slice(d.offset(L), d.offset(L) + d.params(L))
    lhs = rf"G_{{\theta_{{{L}}} \theta_{{{L}}}}}"
    gauss_newton = aligned([(lhs, P.numbers(numbers.gauss_newton[last, last], text,
                                            budget=P.room(lhs)))])
    value, quotient, h = numbers.check
    p = P(d.parameters()[0])
    check = aligned([(rf"\frac{{\partial C/\partial {p}\,({p} + h) - \partial C/\partial {p}"
                      rf"\,({p} - h)}}{{2h}}", number_latex(decimal_text(quotient, digits))),
                     (rf"\frac{{\partial^2 C}}{{\partial ({p})^2}}",
                      rf"{number_latex(decimal_text(value, digits))} \quad "
                      r"\text{(the curvature recursion)}")])
    split = aligned([(r"H_C", P.numbers(numbers.split, text))])
    arriving = [aligned([(rf"\frac{{\partial^2 C}}{{\partial a_{{{l}}}^2}}",
                          P.numbers(M, text))]) for l, M in numbers.arriving]
    return KindsWorkedSecond(shown, split, arriving, hessian, gauss_newton, check,
                             agree(value, quotient, digits), p,
                             number_latex(decimal_text(h, 2)))

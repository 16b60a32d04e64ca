"""The worked example's check that does not use the chain rule, for a network of layer kinds.

For a parameter entry p, the central difference (C(p + h) − C(p − h)) / 2h runs only the
forward pass, through each kind's own maps (``kinds_numbers.forward_layers``), twice; it
approximates ∂C/∂p with an error of order h². Every entry of every parameter is checked
against the recursion's gradient when there are at most ``EVERY`` of them; past that, the
first entry of each parameter tensor, and the document says which.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..core.derivation import Derivation
from ..printing.latex import aligned, number_latex
from .kinds_numbers import LayerNumbers, forward_layers
from .numbers import decimal_text, rounded
from .numbers import settle as settled

EVERY = 120  # parameter entries checked one by one at most (two forward passes each)


@dataclass(frozen=True)
class EntryCheck:
    """One parameter entry: layer l, parameter ``name``, (row, column) of its matrix as the
    derivation holds it (1-based); the quotient against the recursion's value."""

    l: int
    name: str
    row: int
    column: int
    h: sp.Rational
    quotient: sp.Expr
    backprop: sp.Expr


def central_differences(d: Derivation, n: LayerNumbers) -> tuple[list[EntryCheck], bool]:
    """The checks, and whether they cover every parameter entry (else the first of each)."""
    ex = n.example
    h = sp.Rational(1, 10 ** (ex.digits // 2 + 4))  # its h² error stays below the digits
    entries = [(l, name, i, j) for l, params in enumerate(ex.params, 1)
               for name, M in params.items() for i in range(M.rows) for j in range(M.cols)]
    every = len(entries) <= EVERY
    if not every:
        entries = [(l, name, 0, 0) for l, params in enumerate(ex.params, 1) for name in params]
    checks = []
    inputs = [ex.x, *forward_layers(d, ex.x, ex.params)[1]]  # a nudge in layer l leaves the
    for l, name, i, j in entries:  # layers below it as they were: each pass starts at l
        costs = []
        for sign in (1, -1):
            params = [dict(p) for p in ex.params]
            nudged = params[l - 1][name].copy()
            nudged[i, j] += sign * h
            params[l - 1][name] = nudged
            a = forward_layers(d, inputs[l - 1], params, first=l)[1]
            costs.append(settled(d.net.cost_entry.formula(a[-1], ex.y), "the cost"))
        quotient = settled((costs[0] - costs[1]) / (2 * h), "the central difference")
        checks.append(EntryCheck(l, name, i + 1, j + 1, h, quotient,
                                 n.grads[l - 1][name][i, j]))
    return checks, every


@dataclass(frozen=True)
class CheckPart:
    """The check as the templates show it (plain strings)."""

    entry: str  # LaTeX: the entry shown, e.g. (K_{1})_{1,1}
    step_size: str  # LaTeX number: h
    check: str  # display: the quotient and the recursion's value
    agree: bool  # both round to the same digits
    difference: str  # LaTeX number: backprop − quotient
    count: int  # entries checked the same way
    every: bool  # they are every entry of every parameter (else the first of each)
    all_agree: bool
    worst: str  # LaTeX number: the largest |backprop − quotient|
    disagree: list[str]  # LaTeX names of entries whose digits differ (at most six)


def check_part(d: Derivation, n: LayerNumbers, show, name_of) -> CheckPart:
    """``show`` prints numbers (``worked._Shower``); ``name_of(l, name)`` a parameter's LaTeX."""
    checks, every = central_differences(d, n)
    digits = n.example.digits

    def entry(c: EntryCheck) -> str:
        return rf"\bigl({name_of(c.l, c.name)}\bigr)_{{{c.row},{c.column}}}"

    def differ(c: EntryCheck) -> bool:
        return rounded(c.quotient, digits) != rounded(c.backprop, digits)

    first = checks[0]
    shown = entry(first)
    return CheckPart(
        entry=shown, step_size=show.number(first.h),
        check=aligned([(r"\frac{C(p + h) - C(p - h)}{2h}", show.number(first.quotient)),
                       (rf"\frac{{\partial C}}{{\partial {shown}}}",
                        rf"{show.number(first.backprop)} \quad \text{{(backpropagation)}}")]),
        agree=not differ(first),
        difference=number_latex(decimal_text(first.backprop - first.quotient, 2)),
        count=len(checks), every=every, all_agree=not any(map(differ, checks)),
        worst=number_latex(decimal_text(max(abs(c.backprop - c.quotient) for c in checks), 2)),
        disagree=[entry(c) for c in checks if differ(c)][:6])

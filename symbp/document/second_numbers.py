"""Second order with numbers: the worked example's curvature, step by step, and its Hessian.

The example's numbers (``numbers.evaluate``: exact where they can be, else 60 digits) run
through the curvature program's own trace, one step at a time: Ω_L, Ω_(L-1), ..., the
cross curvature Γ_l, each block row, and so the whole Hessian; the Gauss–Newton program
alike. A central difference of the first-order gradient checks one entry of H.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..core.second_order import SecondDerivation
from .example import Example
from .numbers import Numbers, decimal_text, evaluate, settle


@dataclass(frozen=True)
class SecondNumbers:
    """The example's second-order values; lists run over layers, layer 1 first."""

    first: Numbers
    curvature: list[sp.Matrix]  # Ω_1 .. Ω_L
    hessian: sp.Matrix  # (P, P)
    gauss_newton: sp.Matrix
    check: tuple[sp.Expr, sp.Expr, sp.Rational]  # (H_11 from the program, central difference, h)


def evaluate_second(d: SecondDerivation, example: Example | dict) -> SecondNumbers:
    """The curvature and Gauss–Newton programs on the example's numbers."""
    n = evaluate(d, example)
    ex = n.example
    values: dict[sp.Symbol, sp.Expr] = {}
    for symbols, numbers_ in ((d.x, ex.x), (d.y, ex.y)):
        values.update(zip(symbols, numbers_))
    for l in d.layers:
        values.update(zip(d.weights(l), ex.weights[l - 1]))
        values.update(zip(d.biases(l), ex.biases[l - 1]))
        values.update(zip(d.z_symbols(l), n.z[l - 1]))
        values.update(zip(d.a_symbols(l), n.a[l - 1]))
        values.update(zip(d.delta_symbols(l), n.delta[l - 1]))
    matrices = {}
    for name in ("hessian", "gauss_newton"):
        matrices[name] = _run(d, name, dict(values))
    curvature = matrices["hessian"][1]
    H = matrices["hessian"][0]
    return SecondNumbers(n, [curvature[l] for l in d.layers], H, matrices["gauss_newton"][0],
                         _check(d, ex, H))


def _settled(M: sp.Matrix) -> sp.Matrix:
    return M.applyfunc(settle)


def _run(d: SecondDerivation, name: str, values: dict) -> tuple[sp.Matrix, dict[int, sp.Matrix]]:
    t = d.trace(name)
    curvature: dict[int, sp.Matrix] = {}
    P = d.params_from(1)
    H = sp.zeros(P, P)
    for l in range(d.L, 0, -1):
        curvature[l] = _settled(t.curvature[l].xreplace(values))
        values.update(zip(d.curvature_symbols(l), curvature[l]))
        cross = _settled(t.cross[l].xreplace(values))
        values.update(zip(d.cross_symbols(l), cross))
        row = _settled(t.rows[l].xreplace(values))
        start = d.offset(l)
        H[start:start + d.params(l), start:] = row
    for i in range(P):  # below the diagonal: the transposes of the block rows
        for j in range(i):
            H[i, j] = H[j, i]
    return H, curvature


def _check(d: SecondDerivation, ex, H: sp.Matrix) -> tuple[sp.Expr, sp.Expr, sp.Rational]:
    """(∂C/∂w(w + h) − ∂C/∂w(w − h)) / 2h for w = w^{(1)}_{11}, from the gradient's formula."""
    h = sp.Rational(1, 10 ** (ex.digits // 2 + 4))
    w = d.weights(1)[0, 0]
    gradient = d.grad(1)[0, 0]
    values: dict[sp.Symbol, sp.Expr] = {}
    for symbols, numbers_ in ((d.x, ex.x), (d.y, ex.y)):
        values.update(zip(symbols, numbers_))
    for l in d.layers:
        values.update(zip(d.weights(l), ex.weights[l - 1]))
        values.update(zip(d.biases(l), ex.biases[l - 1]))
    sides = []
    for sign in (1, -1):
        at = {**values, w: values[w] + sign * h}
        sides.append(settle(gradient.xreplace(at)))
    return H[0, 0], settle((sides[0] - sides[1]) / (2 * h)), h


def agree(value: sp.Expr, other: sp.Expr, digits: int) -> bool:
    return decimal_text(value, digits) == decimal_text(other, digits)

"""A worked example: one training example's numbers through the derivation, exactly where possible.

``Example`` (``example``) holds the input (x, y, every W_l and b_l, the learning rate η,
the digits to show); ``evaluate`` runs the forward pass, the cost, the recursion's own δ
steps (``d.recursion``, in layered symbols, with numbers substituted), the gradients and
one gradient-descent step. Rational input stays rational through every affine map
and every rational activation; a value that is not rational (an exponential, a
logarithm) is carried with ``PRECISION`` significant digits from there on. A
central difference of the cost, from the forward pass alone, checks one weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal

import sympy as sp

from ..core.derivation import Derivation
from ..core.functions import explicit
from .example import Exact, Example

PRECISION = 60  # significant digits carried for values that are not rational
SHOWN_EXPONENT = 100_000  # a value past 10^±this cannot be shown (as a Decimal) or read


@dataclass(frozen=True)
class Check:
    """The central difference (C(p + h) − C(p − h)) / 2h of one parameter against backprop:
    weight w^{(l)}_{jk}, or bias b^{(l)}_j (``wrt`` "b", k = 1)."""

    l: int
    j: int
    k: int
    h: sp.Rational
    quotient: sp.Expr
    backprop: sp.Expr
    wrt: str = "W"


@dataclass(frozen=True)
class Numbers:
    """Every value of one forward and backward pass; lists run over layers, layer 1 first."""

    example: Exact
    z: list[sp.Matrix]
    a: list[sp.Matrix]  # a_1 .. a_L (a_0 is example.x)
    cost: sp.Expr
    cost_gradient: sp.Matrix  # ∂C/∂a_L as a column
    jacobians: list[sp.Matrix]  # ∂a_l/∂z_l: diagonal for an elementwise activation
    backward: list[sp.Matrix | None]  # W_{l+1}ᵀ δ_{l+1} for l < L; None for the output layer
    delta: list[sp.Matrix]
    grad_W: list[sp.Matrix]
    grad_b: list[sp.Matrix]
    updated_W: list[sp.Matrix]
    updated_b: list[sp.Matrix]
    check: Check  # w^{(1)}_{11}, shown in full
    checks: list[Check]  # every weight and bias, layer 1 first

def settle(value: object, where: str = "a value") -> sp.Expr:
    """A Rational stays exact; anything else becomes a Float of PRECISION digits."""
    expr: sp.Expr = explicit(sp.sympify(value))
    if expr.is_Rational:
        return expr
    number = expr.evalf(PRECISION)
    if not number.is_real or not number.is_finite:
        raise ValueError(f"the worked example has no real value for {where} (got "
                         f"{number.evalf(6)}): check that the cost fits the output activation")
    exponent = int(sp.log(abs(number), 10).evalf(15)) if number.is_Float and number else 0
    if abs(exponent) > SHOWN_EXPONENT:
        shown = f"{exponent:,}" if abs(exponent) < 10**9 else f"({float(exponent):.3g})"
        raise ValueError(f"the worked example's {where} is about 10^{shown}, past the "
                         f"10^±{SHOWN_EXPONENT:,} a document can show; use smaller numbers")
    return number


def _settled(M: sp.Matrix, where: str) -> sp.Matrix:
    return M.applyfunc(lambda v: settle(v, where))


def forward(d: Derivation, x: sp.Matrix, W: list[sp.Matrix],
            b: list[sp.Matrix]) -> tuple[list[sp.Matrix], list[sp.Matrix]]:
    """z_l = W_l a_{l-1} + b_l and a_l = σ_l(z_l) for l = 1..L, in numbers."""
    z, a, previous = [], [], x
    for l in d.layers:
        z_l = W[l - 1] * previous + b[l - 1]
        act = d.net.activation(l)
        if act.elementwise and act.formula is None:
            raise ValueError(f"layer {l} uses the {act.name} activation, which has no formula "
                             "to compute with; a worked example needs a concrete activation")
        a_l = _settled(sp.Matrix(act.apply(list(z_l))), f"a_{l}")
        z.append(z_l)
        a.append(a_l)
        previous = a_l
    return z, a


def cost(d: Derivation, a_L: sp.Matrix, y: sp.Matrix) -> sp.Expr:
    return settle(d.net.cost_entry.formula(list(a_L), list(y)), "the cost")


def evaluate(d: Derivation, example: Example | dict, weight: tuple[int, int, int] = (1, 1, 1),
             ) -> Numbers:
    """The worked example of ``d``: forward pass, cost, δ recursion, gradients, one step."""
    ex = Example.from_dict(example).check(d.net.widths)
    z, a = forward(d, ex.x, ex.weights, ex.biases)
    values: dict[sp.Symbol, sp.Expr] = {}
    for symbols, numbers_ in ((d.x, ex.x), (d.y, ex.y)):
        values.update(zip(symbols, numbers_))
    for l in d.layers:
        values.update(zip(d.weights(l), ex.weights[l - 1]))
        values.update(zip(d.biases(l), ex.biases[l - 1]))
        values.update(zip(d.z_symbols(l), z[l - 1]))
        values.update(zip(d.a_symbols(l), a[l - 1]))
    trace = d.recursion
    missing = [l for l in d.layers if l not in trace.deltas or l not in trace.weight]
    if missing:
        raise ValueError(f"the recursion computed no gradient for layer {missing[0]}")
    delta: dict[int, sp.Matrix] = {}
    for l in range(d.L, 0, -1):
        delta[l] = _settled(trace.deltas[l].xreplace(values), f"delta_{l}")
        values.update(zip(d.delta_symbols(l), delta[l]))
    grad_W = [_settled(trace.weight[l].xreplace(values), f"dC/dW_{l}") for l in d.layers]
    grad_b = [_settled(trace.bias[l].xreplace(values), f"dC/db_{l}") for l in d.layers]
    eta = ex.learning_rate
    jacobians = []
    for l in d.layers:
        act = d.net.activation(l)
        jacobians.append(_settled(act.jacobian(list(z[l - 1]), list(a[l - 1])), f"a_{l}'"))
    cost_gradient = _settled(sp.Matrix(d.net.cost_entry.gradient(list(a[-1]), list(ex.y))),
                             "dC/da_L")
    return Numbers(
        ex, z, a, cost(d, a[-1], ex.y), cost_gradient, jacobians,
        [ex.weights[l].T * delta[l + 1] for l in range(1, d.L)] + [None],
        [delta[l] for l in d.layers], grad_W, grad_b,
        [W - eta * g for W, g in zip(ex.weights, grad_W)],
        [b - eta * g for b, g in zip(ex.biases, grad_b)],
        central_difference(d, ex, grad_W, *weight),
        [central_difference(d, ex, grads, l, j, k, wrt)
         for wrt, grads in (("W", grad_W), ("b", grad_b)) for l in d.layers
         for j in range(1, grads[l - 1].rows + 1) for k in range(1, grads[l - 1].cols + 1)],
    )


def central_difference(d: Derivation, ex: Exact, grads: list[sp.Matrix], l: int, j: int,
                       k: int, wrt: str = "W") -> Check:
    """(C(p + h) − C(p − h)) / 2h for p = w^{(l)}_{jk} (or b^{(l)}_j with ``wrt`` "b"), from
    the forward pass alone.

    h = 10^-(digits/2 + 4) keeps the O(h²) error of the quotient below the digits
    shown; PRECISION digits keep the subtraction from cancelling them away.
    """
    h = sp.Rational(1, 10 ** (ex.digits // 2 + 4))
    costs = []
    for sign in (1, -1):
        W = [w.copy() for w in ex.weights]
        b = [v.copy() for v in ex.biases]
        (W if wrt == "W" else b)[l - 1][j - 1, k - 1] += sign * h
        costs.append(cost(d, forward(d, ex.x, W, b)[1][-1], ex.y))
    quotient = settle((costs[0] - costs[1]) / (2 * h), "the central difference")
    return Check(l, j, k, h, quotient, grads[l - 1][j - 1, k - 1], wrt)


# ---------------------------------------------------------------- shown to a number of digits


def rounded(value: sp.Expr, digits: int) -> Decimal:
    """``value`` rounded to ``digits`` significant digits (half to even), as a Decimal."""
    value = sp.sympify(value)
    if value.is_Rational:
        exact = Decimal(int(value.p))
        if value.q != 1:
            exact = Context(prec=PRECISION + 10).divide(exact, Decimal(int(value.q)))
    else:
        exact = Decimal(str(sp.Float(value, PRECISION)))
    return Context(prec=digits).plus(exact)


def decimal_text(value: sp.Expr, digits: int) -> str:
    """``value`` to ``digits`` significant digits: 0.298371109, -1.5, 3.2e-07.

    An exact value that needs fewer digits is shown whole (0.5, 0.3775); fixed-point
    notation from 10^-4 up to 10^6, scientific outside.
    """
    shown = rounded(value, digits)
    value = sp.sympify(value)
    if shown.is_zero():
        return "0"
    if value.is_Rational and sp.Rational(str(shown)) == value:
        shown = shown.normalize()  # exact: no trailing zeros
    exponent = shown.adjusted()
    if -4 <= exponent < 6:
        text = format(shown, "f")
    else:
        mantissa = shown.scaleb(-exponent)
        text = f"{format(mantissa, 'f')}e{exponent:+03d}"
    return text

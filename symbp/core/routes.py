"""Two of the three routes to ∂C/∂W_l and ∂C/∂b_l (the third, the recursion, has its own file).

1. ``expand_chain_rule`` — the path of influence written out: the product of
   explicit local Jacobians, each computed by SymPy from its layer's own map,
   formed separately for every layer (no reuse: the redundancy backprop removes).
   It works in layered symbols (z^{(l)}_j, a^{(l)}_j), as the documents show it.
2. ``differentiate_cost`` — the derivative of the fully composed cost by SymPy's
   own rules (``differentiate``: ``sympy.diff``, reusing shared subexpressions):
   the ground truth, sharing nothing with the other two but the forward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

from .symbols import NetworkSymbols

# ---------------------------------------------------------------- expansion


@dataclass
class ChainRule:
    """The expansion for one layer l: the factors of the path of influence.

    ``cost_gradient`` is ∂C/∂a_L (a row), ``jacobians`` are ∂a_L/∂a_{L-1}, ...,
    ∂a_{l+1}/∂a_l in that order; ``weight``/``bias`` the resulting gradients.
    """

    l: int
    cost_gradient: sp.Matrix
    jacobians: list[tuple[int, sp.Matrix]]
    weight: sp.Matrix
    bias: sp.Matrix


def local_jacobian(s: NetworkSymbols, l: int, wrt: sp.Matrix) -> sp.Matrix:
    """∂a_l/∂(wrt), differentiated by SymPy from layer l's own map σ_l(W_l a_{l-1} + b_l).

    The result is written in layered symbols: the affine map becomes z_l and
    σ_l(z_l) becomes a_l.
    """
    affine = s.weights(l) * s.a_symbols(l - 1) + s.biases(l)
    layer_map = sp.Matrix(s.net.activation(l).apply(list(affine)))
    return layer_map.jacobian(wrt).xreplace(s.layered_map(l, affine))


def cost_row(s: NetworkSymbols) -> sp.Matrix:
    """∂C/∂a_L as a row, the first factor of every chain: SymPy's derivative of the cost formula."""
    a_out = s.a_symbols(s.L)
    return sp.Matrix([s.net.cost_entry.formula(list(a_out), list(s.y))]).jacobian(a_out)


def expand_chain_rule(s: NetworkSymbols, l: int,
                      factor: Callable[[int], sp.Matrix] | None = None) -> ChainRule:
    """∂C/∂W_l = ∂C/∂a_L · ∂a_L/∂a_{L-1} ⋯ ∂a_{l+1}/∂a_l · ∂a_l/∂W_l, formed for layer l alone.

    ``factor(m)`` gives ∂a_m/∂a_{m-1} (a cache shared by every layer's chain);
    by default each is differentiated afresh with ``local_jacobian``.
    """
    if factor is None:
        factor = lambda m: local_jacobian(s, m, s.a_symbols(m - 1))  # noqa: E731
    first = cost_row(s)
    row = first
    jacobians = [(m, factor(m)) for m in range(s.L, l, -1)]
    for _, jacobian in jacobians:
        row = row * jacobian
    W, b = s.weights(l), s.biases(l)
    da_dW = local_jacobian(s, l, sp.Matrix(list(W)))  # column n: ∂a_l/∂(n-th entry of W_l)
    da_db = local_jacobian(s, l, b)
    weight = (row * da_dW).reshape(*W.shape)
    bias = (row * da_db).T
    return ChainRule(l, first, jacobians, weight, bias)


# ---------------------------------------------------------------- direct


def differentiate_cost(s: NetworkSymbols, l: int, wrt: str) -> sp.Matrix:
    """The derivative of the fully composed cost with respect to every entry of W_l or b_l."""
    params = s.weights(l) if wrt == "W" else s.biases(l)
    cost = s.composed_cost()
    return params.applyfunc(lambda p: differentiate(cost, p))


def differentiate(expr: sp.Expr, p: sp.Symbol) -> sp.Expr:
    """∂expr/∂p by SymPy's own rules, applied once per distinct subexpression.

    The same result as ``sympy.diff(expr, p)``; but ``diff`` recomputes the free
    symbols of every subtree at every level and never reuses the derivative of a
    subexpression shared by many paths (σ(z_l) feeds every unit of layer l+1),
    which makes it 25 times slower on a composed cost. Sums, products and integer
    powers follow the sum, product and power rules, a function its own ``fdiff``
    (the chain rule through each argument), anything else ``sympy.diff`` itself.
    """
    contains: dict[sp.Basic, bool] = {}
    done: dict[sp.Basic, sp.Expr] = {}

    def has(e: sp.Basic) -> bool:
        if e not in contains:
            contains[e] = e == p if not e.args else any(has(a) for a in e.args)
        return contains[e]

    def d(e: sp.Expr) -> sp.Expr:
        if not has(e):
            return sp.S.Zero
        if e in done:
            return done[e]
        args = e.args
        if e == p:
            result: sp.Expr = sp.S.One
        elif e.is_Add:
            result = sp.Add(*[d(a) for a in args])
        elif e.is_Mul:
            result = sp.Add(*[sp.Mul(*args[:i], d(a), *args[i + 1:])
                              for i, a in enumerate(args) if has(a)])
        elif e.is_Pow and not has(args[1]):
            result = args[1] * args[0] ** (args[1] - 1) * d(args[0])
        elif isinstance(e, sp.Function):
            result = sp.Add(*[e.fdiff(i + 1) * d(a) for i, a in enumerate(args) if has(a)])
        else:
            result = sp.diff(e, p)
        done[e] = result
        return result

    return d(expr)

"""The three routes to ∂C/∂W_l and ∂C/∂b_l.

1. ``expand_chain_rule`` — the path of influence written out: the product of
   explicit local Jacobians, each computed by SymPy from its layer's own map,
   formed separately for every layer (no reuse: the redundancy backprop removes).
2. ``backprop_deltas`` — the δ recursion, written once against an array algebra
   ``ops``. ``SymbolicOps`` runs it on SymPy matrices for the proof; the code
   generator runs the *same function* to emit NumPy, so the proved recursion is
   what executes.
3. ``differentiate_cost`` — ``sympy.diff`` of the fully composed cost: the ground
   truth, sharing nothing with the other two but the forward pass.

Routes 1 and 2 work in *layered* symbols (z^{(l)}_j, a^{(l)}_j, δ^{(l)}_j), which is
what documents show; ``Derivation.compose`` substitutes the forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sympy as sp

if TYPE_CHECKING:
    from .derivation import Derivation


# ---------------------------------------------------------------- recursion


def backprop_deltas(ops) -> None:
    """Backpropagation, dynamic programming over the chain rule.

    δ_L = J_σ(z_L)ᵀ ∂C/∂a_L          (= ∂C/∂a_L ⊙ σ'(z_L) for an elementwise σ)
    δ_l = J_σ(z_l)ᵀ (W_{l+1}ᵀ δ_{l+1})  (= (W_{l+1}ᵀ δ_{l+1}) ⊙ σ'(z_l))
    ∂C/∂W_l = δ_l a_{l-1}ᵀ,   ∂C/∂b_l = δ_l
    """
    L = ops.L
    delta = ops.bind_delta(L, ops.activation_vjp(L, ops.cost_gradient()))
    for l in range(L, 0, -1):
        ops.gradient(l, weight=ops.outer(delta, ops.activation(l - 1)), bias=delta)
        if l > 1:
            delta = ops.bind_delta(l - 1, ops.activation_vjp(l - 1, ops.transpose_times(l, delta)))


@dataclass
class Recursion:
    """The trace of one run of the recursion, in layered symbols.

    ``deltas[l]`` defines δ_l in terms of δ_{l+1}'s symbols (one step each), so
    every step can be checked on its own; ``weight[l]``/``bias[l]`` are the
    parameter gradients in terms of δ_l's symbols.
    """

    deltas: dict[int, sp.Matrix] = field(default_factory=dict)
    weight: dict[int, sp.Matrix] = field(default_factory=dict)
    bias: dict[int, sp.Matrix] = field(default_factory=dict)


class SymbolicOps:
    """The array algebra of ``backprop_deltas`` on explicit SymPy column vectors."""

    def __init__(self, d: Derivation):
        self.d = d
        self.L = d.L
        self.trace = Recursion()

    def cost_gradient(self) -> sp.Matrix:
        d = self.d
        return sp.Matrix(d.net.cost_entry.gradient(list(d.a_symbols(d.L)), list(d.y)))

    def activation_vjp(self, l: int, v: sp.Matrix) -> sp.Matrix:
        d = self.d
        act = d.net.activation(l)
        z = list(d.z_symbols(l))
        if act.elementwise:  # diag(σ'(z)) v is the Hadamard product v ⊙ σ'(z)
            return sp.Matrix([vj * act.prime(zj) for vj, zj in zip(v, z)])
        return act.jacobian(z, list(d.a_symbols(l))).T * v

    def transpose_times(self, l: int, v: sp.Matrix) -> sp.Matrix:
        return self.d.weights(l).T * v

    def activation(self, l: int) -> sp.Matrix:
        return self.d.a_symbols(l)

    def outer(self, u: sp.Matrix, v: sp.Matrix) -> sp.Matrix:
        return u * v.T

    def bind_delta(self, l: int, value: sp.Matrix) -> sp.Matrix:
        self.trace.deltas[l] = value
        return self.d.delta_symbols(l)

    def gradient(self, l: int, weight: sp.Matrix, bias: sp.Matrix) -> None:
        self.trace.weight[l] = weight
        self.trace.bias[l] = bias


def run_recursion(d: Derivation, recursion=backprop_deltas) -> Recursion:
    ops = SymbolicOps(d)
    recursion(ops)
    return ops.trace


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


def local_jacobian(d: Derivation, l: int, wrt: sp.Matrix) -> sp.Matrix:
    """∂a_l/∂(wrt), differentiated by SymPy from layer l's own map σ_l(W_l a_{l-1} + b_l).

    The result is written in layered symbols: the affine map becomes z_l and
    σ_l(z_l) becomes a_l.
    """
    affine = d.weights(l) * d.a_symbols(l - 1) + d.biases(l)
    layer_map = sp.Matrix(d.net.activation(l).apply(list(affine)))
    return layer_map.jacobian(wrt).xreplace(d.layered_map(l, affine))


def cost_row(d: Derivation) -> sp.Matrix:
    """∂C/∂a_L as a row, the first factor of every chain: SymPy's derivative of the cost formula."""
    a_out = d.a_symbols(d.L)
    return sp.Matrix([d.net.cost_entry.formula(list(a_out), list(d.y))]).jacobian(a_out)


def expand_chain_rule(d: Derivation, l: int) -> ChainRule:
    """∂C/∂W_l = ∂C/∂a_L · ∂a_L/∂a_{L-1} ⋯ ∂a_{l+1}/∂a_l · ∂a_l/∂W_l, formed for layer l alone."""
    L = d.L
    first = cost_row(d)
    row = first
    jacobians = [(m, d.expansion_factor(m)) for m in range(L, l, -1)]
    for _, jacobian in jacobians:
        row = row * jacobian
    W, b = d.weights(l), d.biases(l)
    da_dW = local_jacobian(d, l, sp.Matrix(list(W)))  # column n: ∂a_l/∂(n-th entry of W_l)
    da_db = local_jacobian(d, l, b)
    weight = (row * da_dW).reshape(*W.shape)
    bias = (row * da_db).T
    return ChainRule(l, first, jacobians, weight, bias)


# ---------------------------------------------------------------- direct


def differentiate_cost(d: Derivation, l: int, wrt: str) -> sp.Matrix:
    """``sympy.diff`` of the fully composed cost with respect to every entry of W_l or b_l."""
    params = d.weights(l) if wrt == "W" else d.biases(l)
    cost = d.composed_cost()
    return params.applyfunc(lambda p: sp.diff(cost, p))

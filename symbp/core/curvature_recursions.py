"""The curvature of C written once as three programs: the Hessian's block rows and the
Gauss–Newton matrix backpropagated, and H v by the R-operator.

Like ``backprop_deltas`` they never touch SymPy or NumPy: they call operations of an array
algebra (``CURVATURE_OPS``, beside the first-order ones), run once on a recorder
(``curvature_program``) and are then replayed, on SymPy for the proof, on index formulas
for the theorem and on arrays for the code. The forms they use (σ'', H_C at the split) are
``curvature``'s.
"""

from __future__ import annotations

from typing import Any

# ---------------------------------------------------------------- the operations

# Every operation a curvature program may use, beside the first-order ones (cost_gradient,
# activation, activation_vjp, transpose_times, times, outer, bind_delta), with what it means
# for one sample (column vectors; θ_l = (vec W_l row by row, b_l); J_l = ∂z_l/∂θ_l).
# ``ops.tangent(l)`` reads back the ż_l a program bound; it is no statement of its own.
CURVATURE_OPS = {
    "cost_hessian": "H_C = ∂²C/∂s², s the split (a_L, or z_L when the cost absorbs σ_L)",
    "sandwich": "J_σ(z_l)ᵀ M J_σ(z_l): diag(σ'(z_l)) M diag(σ'(z_l))",
    "curvature_residual": "Σ_j g_j ∂²a_l,j/∂z_l²: diag(g ⊙ σ''(z_l))",
    "congruence": "W_lᵀ M W_l",
    "times_parameters": "M J_l, J_l = ∂z_l/∂θ_l = [I ⊗ a_(l-1)ᵀ, I]",
    "parameter_transpose": "J_lᵀ R",
    "weight_cross": "∂(W_lᵀ u)/∂θ_(≥l) at u = v held fixed: [i = k] v_j in the W_l columns",
    "prepend": "[A | B] at layer l: the columns of θ_l, then those of θ_(>l)",
    "bind_curvature": "Ω_l := M, the curvature ∂²C/∂z_l²",
    "bind_cross": "Γ_l := R, the cross curvature ∂δ_l/∂θ_(≥l)",
    "hessian_row": "the block row ∂²C/∂θ_l ∂θ_(≥l)",
    "tangent_times": "V_l u (V_l: the direction of W_l)",
    "tangent_transpose_times": "V_lᵀ u",
    "tangent_bias": "v_(b_l): the direction of b_l",
    "activation_jvp": "J_σ(z_l) u: σ'(z_l) ⊙ u",
    "residual_times": "(Σ_j g_j ∂²a_l,j/∂z_l²) u: g ⊙ σ''(z_l) ⊙ u",
    "cost_hessian_times": "H_C u",
    "bind_tangent": "ż_l := u, the directional derivative R{z_l}",
    "bind_tangent_delta": "δ̇_l := u, the directional derivative R{δ_l}",
}


# ---------------------------------------------------------------- the three programs


def backprop_curvature(ops: Any) -> None:
    """The Hessian's block rows, backpropagated: curvature of C in z_l, then in θ.

    Ω_L = J_σᵀ H_C J_σ + Σ_j g_j ∂²a_L,j/∂z_L²         (g = ∂C/∂s: the residual term)
    Ω_l = J_σᵀ (W_(l+1)ᵀ Ω_(l+1) W_(l+1)) J_σ + Σ_j (W_(l+1)ᵀ δ_(l+1))_j ∂²a_l,j/∂z_l²
    Γ_L = Ω_L J_L,  Γ_l = [Ω_l J_l | J_σᵀ (W_(l+1)ᵀ Γ_(l+1) + ∂(W_(l+1)ᵀ δ_(l+1))/∂θ_(≥l+1))]
    ∂²C/∂θ_l ∂θ_(≥l) = J_lᵀ Γ_l
    """
    L = ops.L
    g = ops.cost_gradient()
    delta = ops.bind_delta(L, ops.activation_vjp(L, g))
    omega = ops.bind_curvature(L, ops.sandwich(L, ops.cost_hessian())
                               + ops.curvature_residual(L, g))
    cross = ops.bind_cross(L, ops.times_parameters(L, omega))
    for l in ops.layers():
        ops.hessian_row(l, ops.parameter_transpose(l, cross))
        if l > 1:
            g = ops.transpose_times(l, delta)
            below = ops.activation_vjp(l - 1, ops.transpose_times(l, cross)
                                       + ops.weight_cross(l, delta))
            delta = ops.bind_delta(l - 1, ops.activation_vjp(l - 1, g))
            omega = ops.bind_curvature(l - 1, ops.sandwich(l - 1, ops.congruence(l, omega))
                                       + ops.curvature_residual(l - 1, g))
            cross = ops.bind_cross(l - 1, ops.prepend(l - 1, ops.times_parameters(l - 1, omega),
                                                      below))


def backprop_gauss_newton(ops: Any) -> None:
    """The Gauss–Newton matrix G = Jᵀ H_C J by the same recursion with every residual term
    left out: no Σ_j g_j ∂²a_j, no ∂W_(l+1)ᵀ/∂θ. Then Ω_l = B_lᵀ H_C B_l, B_l = ∂s/∂z_l."""
    L = ops.L
    omega = ops.bind_curvature(L, ops.sandwich(L, ops.cost_hessian()))
    cross = ops.bind_cross(L, ops.times_parameters(L, omega))
    for l in ops.layers():
        ops.hessian_row(l, ops.parameter_transpose(l, cross))
        if l > 1:
            below = ops.activation_vjp(l - 1, ops.transpose_times(l, cross))
            omega = ops.bind_curvature(l - 1, ops.sandwich(l - 1, ops.congruence(l, omega)))
            cross = ops.bind_cross(l - 1, ops.prepend(l - 1, ops.times_parameters(l - 1, omega),
                                                      below))


def pearlmutter_hvp(ops: Any) -> None:
    """H v by the R-operator (forward over reverse): the directional derivative, along v, of
    every quantity of backpropagation (Pearlmutter 1994).

    ż_l = V_l a_(l-1) + W_l ȧ_(l-1) + v_(b_l),  ȧ_l = J_σ ż_l,  ȧ_0 = 0
    δ̇_L = J_σᵀ H_C ȧ_L + (Σ_j g_j ∂²a_j) ż_L
    δ̇_l = J_σᵀ (V_(l+1)ᵀ δ_(l+1) + W_(l+1)ᵀ δ̇_(l+1)) + (Σ_j (W_(l+1)ᵀ δ_(l+1))_j ∂²a_j) ż_l
    (H v)_(W_l) = δ̇_l a_(l-1)ᵀ + δ_l ȧ_(l-1)ᵀ,  (H v)_(b_l) = δ̇_l

    A step reads an earlier ż by its layer (``ops.tangent``), forming ȧ where it needs it:
    no loop carries a tangent, so both are recorded for every depth (``curvature_generic``).
    """
    L = ops.L
    for l in ops.layers_up():
        value = ops.tangent_times(l, ops.activation(l - 1)) + ops.tangent_bias(l)
        if l > 1:
            value = value + ops.times(l, ops.activation_jvp(l - 1, ops.tangent(l - 1)))
        ops.bind_tangent(l, value)
    g = ops.cost_gradient()
    delta = ops.bind_delta(L, ops.activation_vjp(L, g))
    rz = ops.tangent(L)
    rdelta = ops.bind_tangent_delta(L, ops.activation_vjp(L, ops.cost_hessian_times(
        ops.activation_jvp(L, rz))) + ops.residual_times(L, g, rz))
    for l in ops.layers():
        weight = ops.outer(rdelta, ops.activation(l - 1))
        if l > 1:
            weight = weight + ops.outer(delta, ops.activation_jvp(l - 1, ops.tangent(l - 1)))
        ops.gradient(l, weight=weight, bias=rdelta)
        if l > 1:
            g = ops.transpose_times(l, delta)
            rg = ops.tangent_transpose_times(l, delta) + ops.transpose_times(l, rdelta)
            delta = ops.bind_delta(l - 1, ops.activation_vjp(l - 1, g))
            rdelta = ops.bind_tangent_delta(l - 1, ops.activation_vjp(l - 1, rg)
                                            + ops.residual_times(l - 1, g, ops.tangent(l - 1)))


PROGRAMS = {"hessian": backprop_curvature, "gauss_newton": backprop_gauss_newton,
            "hvp": pearlmutter_hvp}

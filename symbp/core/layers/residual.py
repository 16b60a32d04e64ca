"""Residual: a = σ(W x + b) + x, or + P x with a learned projection P when the widths differ.

The skip is why a deep residual network still learns: backpropagated, it is a highway,
∂C/∂x = Wᵀ δ + ∂C/∂a (Pᵀ ∂C/∂a with a projection), so the gradient reaches the lower
layers undiminished by the σ' of the layers in between.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sympy as sp

from ..limits import LayerSize
from . import vector as v
from .base import Bound, Kind, Layer, Map, Maps, Option, Shape, Tensor, positive_int
from .dense import DB, DELTA, DW, DX, N_IN, N_OUT, B, J, K, W, X, Z, affine
from .symbolic import WIDTH

A = Tensor("a", sp.IndexedBase("a"), (N_OUT,))
P = Tensor("P", sp.IndexedBase("P"), (N_OUT, N_IN))
G = Tensor("g", sp.IndexedBase("g"), (N_OUT,))  # ∂C/∂a, what the skip passes back
DP = Tensor("dP", sp.IndexedBase("dP"), (N_OUT, N_IN))
SAME = Tensor("a", sp.IndexedBase("a"), (N_IN,))  # without a projection, a has x's width


def maps(layer: Layer) -> Maps:
    projected = bool(layer.get("projection", False))
    vjps = {"W": Map(DW, (J, K), DELTA[J] * X[K], (DELTA, X)),
            "b": Map(DB, (J,), DELTA[J], (DELTA,))}
    if projected:
        skip = Map(A, (J,), sp.Sum(P[J, K] * X[K], (K, 1, N_IN)), (X,), (P,))
        skip_vjp = Map(DX, (K,), sp.Sum(P[J, K] * G[J], (J, 1, N_OUT)), (G,), (P,))
        vjps["P"] = Map(DP, (J, K), G[J] * X[K], (G, X))
        params: tuple[Tensor, ...] = (W, B, P)
    else:
        skip = Map(A, (J,), X[J], (X,))
        skip_vjp = Map(DX, (K,), G[K], (G,))
        params = (W, B)

    def sizes(shape_in: Shape) -> dict[sp.Symbol, int]:
        return {N_IN: shape_in[0], N_OUT: layer.get("units", shape_in[0])}

    def symbolic(e: sp.Expr, shape_in: tuple[sp.Expr, ...]) -> dict[sp.Symbol, sp.Expr]:
        """At symbolic layer e: its input's width, and its own n_e only with a projection."""
        n_in = sp.Mul(*shape_in)
        return {N_IN: n_in, N_OUT: WIDTH[e] if projected else n_in}

    return Maps(
        sizes=sizes, symbolic=symbolic, x=X, z=Z, a=A, params=params,
        pre=Map(Z, (J,), affine(X, J, K), (X,), (W, B)),
        param_vjps=vjps,
        input_vjp=Map(DX, (K,), sp.Sum(W[J, K] * DELTA[J], (J, 1, N_OUT)), (DELTA,), (W,)),
        activation=layer.get("activation", "tanh"), keeps_width=not projected,
        skip=skip, skip_vjp=skip_vjp,
    )


def check(layer: Layer, shape_in: Shape) -> None:
    units = layer.get("units", shape_in[0])
    if units != shape_in[0] and not layer.get("projection", False):
        raise ValueError(f"key 'units': a residual block of {units} units on an input of "
                         f"{shape_in[0]} cannot add its input; set projection = true (a "
                         f"learned {units} × {shape_in[0]} projection P) or units = "
                         f"{shape_in[0]}")


def size(layer: Layer, sizes: Mapping[sp.Symbol, int]) -> LayerSize:
    """The dense layer's W and b, and the skip: P's n_out n_in more of each, or one
    connection per entry (a_j = ... + x_j)."""
    n_in, n_out = sizes[N_IN], sizes[N_OUT]
    dense = n_out * (n_in + 1)
    if layer.get("projection", False):
        return LayerSize(parameters=dense + n_out * n_in, connections=2 * n_out * n_in)
    return LayerSize(parameters=dense, connections=n_out * n_in + n_out)


def backward(ops: Any, l: Any, g: Any) -> Bound:
    """g_l = ∂C/∂a_l bound (the skip passes it back); δ_l = J_σ(z_l)ᵀ g_l; ∂C/∂W_l = δ_l
    a_(l-1)ᵀ, ∂C/∂b_l = δ_l, and with a projection ∂C/∂P_l = g_l a_(l-1)ᵀ."""
    g = ops.bind_grad(l, g)
    delta = ops.bind_delta(l, ops.activation_vjp(l, g))
    a = ops.activation(l - 1)
    grads = {"weight": ops.outer(delta, a), "bias": delta}
    if ops.layer(l).get("projection", False):
        grads["P"] = ops.outer(g, a)
    ops.gradient(l, **grads)
    return Bound(delta, g)


def pass_back(ops: Any, l: Any, bound: Bound) -> Any:
    """∂C/∂a_(l-1) = W_lᵀ δ_l + g_l, the highway (+ P_lᵀ g_l with a projection)."""
    skip = bound.grad
    if ops.layer(l).get("projection", False):
        skip = ops.vjp(l, "skip_vjp", skip)
    return ops.transpose_times(l, bound.delta) + skip


def describe(layer: Layer) -> str:
    return "a residual block" + (" with a projection" if layer.get("projection") else "")


def forms(layer: Layer) -> v.Forms:
    """The block in vector notation, g = ∂C/∂a; P's terms only with a projection."""
    projected = bool(layer.get("projection", False))
    w, p = v.operand("W"), v.operand("P")
    skip = v.Dot(p, v.X) if projected else v.X
    highway = v.Dot(v.T(p), v.G) if projected else v.G
    equations = [
        v.Equation("z", v.Plus(v.Dot(w, v.X), v.operand("b"))),
        v.Equation("a", v.Plus(v.Sigma(v.Z), skip)),
        v.Equation("delta", v.Had(v.G, v.SigmaPrime(v.Z))),
        v.Equation("W", v.Dot(v.DELTA, v.T(v.X))),
        v.Equation("b", v.DELTA)]
    if projected:
        equations.append(v.Equation("P", v.Dot(v.G, v.T(v.X))))
    equations.append(v.Equation("input", v.Plus(v.Dot(v.T(w), v.DELTA), highway)))
    return v.Forms(tuple(equations))


KIND = Kind(
    name="residual", summary="a = σ(W x + b) + x (+ P x with a projection when widths differ)",
    options={"units": Option(positive_int, "a positive integer (default: the input's width)"),
             "activation": Option(lambda v: isinstance(v, str), "an activation's name", "tanh"),
             "projection": Option(lambda v: isinstance(v, bool), "true or false", False)},
    maps=maps, check=check, backward=backward, pass_back=pass_back, forms=forms, size=size,
    describe=describe,
    explains=r"The skip adds the block's input to its output, so the input reaches the cost "
             r"along two roads: through the layer, $W_l^{T} \delta_l$, and straight along the "
             r"skip, $g_l = \partial C / \partial a_l$ itself (or $P_l^{T} g_l$ through a "
             r"projection). That second term is the highway: it carries the gradient to the "
             r"layers below without a factor $\sigma'$, however many blocks it passes. A "
             r"projection $P_l$ is a parameter too; it sits outside $\sigma$, so its gradient "
             r"takes $g_l$ where $W_l$'s takes $\delta_l$.",
)

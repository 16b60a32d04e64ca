"""Dense: z = W x + b, a = σ(z). The seed's layer, and the first kind.

Its vector-Jacobian products are the seed's: δ = σ'(z) ⊙ ∂C/∂a, ∂C/∂W = δ xᵀ,
∂C/∂b = δ, ∂C/∂x = Wᵀ δ. The programs of dense layers use the array algebra of
``RecursionOps`` (``transpose_times``, ``outer``) rather than the generic ``vjp``: the same
maps, and the statements every document and module of a dense network has always shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sympy as sp

from ..limits import LayerSize
from . import vector as v
from .base import Bound, Kind, Layer, Map, Maps, Option, Tensor, positive_int
from .symbolic import WIDTH

N_IN, N_OUT = sp.symbols("n_in n_out", integer=True, positive=True)
J, K = sp.symbols("j k", integer=True, positive=True)
I = sp.Symbol("i", integer=True, positive=True)

X = Tensor("x", sp.IndexedBase("x"), (N_IN,))
Z = Tensor("z", sp.IndexedBase("z"), (N_OUT,))
A = Tensor("a", sp.IndexedBase("a"), (N_OUT,))
W = Tensor("W", sp.IndexedBase("W"), (N_OUT, N_IN))
B = Tensor("b", sp.IndexedBase("b"), (N_OUT,))
DELTA = Tensor("delta", sp.IndexedBase("delta"), (N_OUT,))
DW = Tensor("dW", sp.IndexedBase("dW"), (N_OUT, N_IN))
DB = Tensor("db", sp.IndexedBase("db"), (N_OUT,))
DX = Tensor("dx", sp.IndexedBase("dx"), (N_IN,))


def affine(x: Tensor, j: sp.Symbol, k: sp.Symbol) -> sp.Expr:
    """(W x + b)_j."""
    return sp.Sum(W[j, k] * x[k], (k, 1, N_IN)) + B[j]


def symbolic(e: sp.Expr, shape_in: tuple[sp.Expr, ...]) -> dict[sp.Symbol, sp.Expr]:
    """The sizes at symbolic layer e: its input's entries and its own width n_e."""
    return {N_IN: sp.Mul(*shape_in), N_OUT: WIDTH[e]}


def maps(layer: Layer) -> Maps:
    return Maps(
        sizes=lambda shape_in: {N_IN: shape_in[0], N_OUT: layer.get("units")},
        symbolic=symbolic,
        x=X, z=Z, a=A, params=(W, B),
        pre=Map(Z, (J,), affine(X, J, K), (X,), (W, B)),
        param_vjps={"W": Map(DW, (J, K), DELTA[J] * X[K], (DELTA, X)),
                    "b": Map(DB, (J,), DELTA[J], (DELTA,))},
        input_vjp=Map(DX, (K,), sp.Sum(W[J, K] * DELTA[J], (J, 1, N_OUT)), (DELTA,), (W,)),
        activation=layer.get("activation", "sigmoid"),
    )


def size(layer: Layer, sizes: Mapping[sp.Symbol, int]) -> LayerSize:
    """n_out (n_in + 1) weights and biases; every output joined to every input."""
    n_in, n_out = sizes[N_IN], sizes[N_OUT]
    return LayerSize(parameters=n_out * (n_in + 1), connections=n_out * n_in)


def backward(ops: Any, l: Any, g: Any) -> Bound:
    """δ_l = J_σ(z_l)ᵀ ∂C/∂a_l; ∂C/∂W_l = δ_l a_(l-1)ᵀ, ∂C/∂b_l = δ_l."""
    delta = ops.bind_delta(l, ops.activation_vjp(l, g))
    ops.gradient(l, weight=ops.outer(delta, ops.activation(l - 1)), bias=delta)
    return Bound(delta)


def pass_back(ops: Any, l: Any, bound: Bound) -> Any:
    """∂C/∂a_(l-1) = W_lᵀ δ_l."""
    return ops.transpose_times(l, bound.delta)


def forms(layer: Layer) -> v.Forms:
    """The seed's layer in vector notation; g = ∂C/∂a."""
    w = v.operand("W")
    return v.Forms((
        v.Equation("z", v.Plus(v.Dot(w, v.X), v.operand("b"))),
        v.Equation("a", v.Sigma(v.Z)),
        v.Equation("delta", v.Had(v.G, v.SigmaPrime(v.Z))),
        v.Equation("W", v.Dot(v.DELTA, v.T(v.X))),
        v.Equation("b", v.DELTA),
        v.Equation("input", v.Dot(v.T(w), v.DELTA))))


KIND = Kind(
    name="dense", summary="fully connected: z = W x + b, a = σ(z)",
    options={"units": Option(positive_int, "a positive integer"),
             "activation": Option(lambda v: isinstance(v, str), "an activation's name",
                                  "sigmoid")},
    maps=maps, backward=backward, pass_back=pass_back, forms=forms, size=size,
    explains=r"Every unit of the layer feeds every unit of the next, so the error passed back "
             r"to unit $k$ of the layer below adds what comes back from every unit $j$: "
             r"column $k$ of $W_l$, which is row $k$ of $W_l^{T}$.",
)

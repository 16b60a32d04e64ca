"""Dense on each sample of a batch: z[:, s] = W x[:, s] + b for every sample s, a = σ(z).

The input is features × samples, one column per sample (``inputs = [3, 4]``: 3 features, a
batch of 4), and one W, b serve every sample: the layer a batch norm (``batchnorm``) sits
between, whose batch is a real axis of the derivation. A ``dense`` layer reads such an
input as one vector of all its entries (as after a convolution); this kind keeps the samples
apart, as PyTorch's ``nn.Linear`` does on a (B, features) batch.

Its vector-Jacobian products are the seed's, each summed over the samples that share W, b:
δ = σ'(z) ⊙ ∂C/∂a, ∂C/∂W = Σ_s δ[:, s] x[:, s]ᵀ = δ xᵀ, ∂C/∂b = Σ_s δ[:, s] = δ 1, and
∂C/∂x = Wᵀ δ, sample by sample.

A vector input is refused: which of its axes is the batch cannot be told from it (a plain
``dense`` layer is that layer on one sample).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sympy as sp

from ..limits import LayerSize
from . import vector as v
from .base import (
    Bound,
    Kind,
    Layer,
    Map,
    Maps,
    Option,
    Shape,
    Tensor,
    backward_by_maps,
    positive_int,
)
from .batchnorm import HOW, SAMPLES, S
from .dense import N_IN, N_OUT, J, K
from .symbolic import CHANNELS


def tensor(name: str, *axes: sp.Expr) -> Tensor:
    return Tensor(name, sp.IndexedBase(name), axes)


X, Z, A = tensor("x", N_IN, SAMPLES), tensor("z", N_OUT, SAMPLES), tensor("a", N_OUT, SAMPLES)
W, B = tensor("W", N_OUT, N_IN), tensor("b", N_OUT)
DELTA, DX = tensor("delta", N_OUT, SAMPLES), tensor("dx", N_IN, SAMPLES)
DW, DB = tensor("dW", N_OUT, N_IN), tensor("db", N_OUT)


def maps(layer: Layer) -> Maps:
    def sizes(shape_in: Shape) -> dict[sp.Symbol, int]:
        return {N_IN: shape_in[0], SAMPLES: shape_in[1], N_OUT: layer.get("units")}

    def symbolic(e: sp.Expr, shape_in: tuple[sp.Expr, ...]) -> dict[sp.Symbol, sp.Expr]:
        """At symbolic layer e: the input's features and samples, c_e units (features) of its
        own, as the network's input has c_0."""
        return {N_IN: shape_in[0], SAMPLES: shape_in[1], N_OUT: CHANNELS[e]}

    return Maps(
        sizes=sizes, symbolic=symbolic, x=X, z=Z, a=A, params=(W, B),
        pre=Map(Z, (J, S), sp.Sum(W[J, K] * X[K, S], (K, 1, N_IN)) + B[J], (X,), (W, B)),
        param_vjps={"W": Map(DW, (J, K), sp.Sum(DELTA[J, S] * X[K, S], (S, 1, SAMPLES)),
                             (DELTA, X)),
                    "b": Map(DB, (J,), sp.Sum(DELTA[J, S], (S, 1, SAMPLES)), (DELTA,))},
        input_vjp=Map(DX, (K, S), sp.Sum(W[J, K] * DELTA[J, S], (J, 1, N_OUT)), (DELTA,), (W,)),
        activation=layer.get("activation", "sigmoid"),
    )


def check(layer: Layer, shape_in: Shape) -> None:
    if len(shape_in) != 2:
        raise ValueError(f"a dense layer per sample reads features × samples, and it got a "
                         f"vector of {shape_in[0]}; {HOW} (or use dense on one sample)")


def sized(layer: Layer, width: int, shape_in: Shape) -> Layer:
    """The layer with ``width`` units (a cross-check network's)."""
    return Layer("dense_per_sample", {**dict(layer.options), "units": width})


def size(layer: Layer, sizes: Mapping[sp.Symbol, int]) -> LayerSize:
    """n_out (n_in + 1) weights and biases; each output joined to its sample's n_in inputs."""
    n_in, n_out, b = sizes[N_IN], sizes[N_OUT], sizes[SAMPLES]
    return LayerSize(parameters=n_out * (n_in + 1), connections=n_out * n_in * b)


def backward(ops: Any, l: Any, g: Any) -> Bound:
    """δ_l = σ'(z_l) ⊙ ∂C/∂a_l; ∂C/∂W_l = δ_l a_(l-1)ᵀ, ∂C/∂b_l = δ_l 1 (sums over samples)."""
    return backward_by_maps(ops, l, g)


def pass_back(ops: Any, l: Any, bound: Bound) -> Any:
    """∂C/∂a_(l-1) = W_lᵀ δ_l, each sample's column."""
    return ops.vjp(l, "input_vjp", bound.delta)


def describe(layer: Layer) -> str:
    return f"a dense layer on each sample, {layer.get('units')} units"


def forms(layer: Layer) -> v.Forms:
    """The seed's layer on the features × samples matrix, g = ∂C/∂a; 1 the column of B ones."""
    w, ones = v.operand("W"), v.Ones(SAMPLES)
    return v.Forms((
        v.Equation("z", v.Plus(v.Dot(w, v.X), v.Dot(v.operand("b"), v.T(ones)))),
        v.Equation("a", v.Sigma(v.Z)),
        v.Equation("delta", v.Had(v.G, v.SigmaPrime(v.Z))),
        v.Equation("W", v.Dot(v.DELTA, v.T(v.X))),
        v.Equation("b", v.Dot(v.DELTA, ones)),
        v.Equation("input", v.Dot(v.T(w), v.DELTA))), {SAMPLES: "B"})


KIND = Kind(
    name="dense_per_sample",
    summary="dense on each sample of a batch (features × samples): z = W x + b 1ᵀ, a = σ(z)",
    options={"units": Option(positive_int, "a positive integer"),
             "activation": Option(lambda v: isinstance(v, str), "an activation's name",
                                  "sigmoid")},
    maps=maps, check=check, backward=backward, pass_back=pass_back, forms=forms, size=size,
    sized=sized, describe=describe, axes=("feature", "sample"),
    explains=r"One $W_l$ and $b_l$ serve every sample of the batch, so their gradients add "
             r"what each sample contributes: $\delta_l a_{l-1}^{T}$ sums over the samples "
             r"$s$ the products of the columns $\delta_{l,s}$ and $a_{l-1,s}$, and "
             r"$\delta_l \mathbf{1}$ the columns of $\delta_l$. Going back, each sample's "
             r"column is passed through $W_l^{T}$ on its own, as in a dense layer.",
)

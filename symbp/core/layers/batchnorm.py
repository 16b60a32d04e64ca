"""Batch norm (training mode): over the B samples of a batch, for each feature c, μ_c = (1/B)
Σ_s x[c, s], v_c = (1/B) Σ_s (x[c, s] − μ_c)², x̂ = (x − μ)/√(v + ε), z = γ ⊙ x̂ + β, a = σ(z).

The batch is a real axis of the derivation: the input is features × samples, one column per
sample (``inputs = [3, 4]``: 3 features, a batch of 4), the layers on either side of it act
on each sample alike (``dense_per_sample``), and the cost is summed over every entry of the
output, that is over the batch. Batch norm is layer norm (``layernorm``) along the other
axis: it couples the samples of one feature where layer norm couples the features of one
sample. v is the biased variance (divided by B), the one PyTorch's ``nn.BatchNorm1d``
normalizes with in training mode (its running estimate, unbiased, is not part of the
gradient). The activation defaults to the identity, as layer norm's: the normalization is a
layer of its own and whatever nonlinearity follows belongs to the next layer.

Its vector-Jacobian products are the compact textbook ones, each a map of its own, with
dy = γ ⊙ δ the gradient at x̂:

- ∂C/∂γ_c = Σ_s δ[c, s] x̂[c, s] and ∂C/∂β_c = Σ_s δ[c, s]: one γ_c, β_c serve every sample;
- ∂C/∂x[c, s] = (1/(B √(v_c + ε))) (B dy[c, s] − Σ_r dy[c, r] − x̂[c, s] Σ_r dy[c, r] x̂[c, r]).

γ and β are the layer's "W" and "b" to the program, as for layer norm; the documents call
them γ and β (``words``). ε is a positive number, 1e-5 by default as in PyTorch, held exact
in the maps as the rational of its decimal text (``layernorm.exact_eps``).

The general theorem takes the features and the batch size as symbols (c_0 and m_0, the
input's; a dense_per_sample layer's own features c_e): stacks of batch norms under a dense
or dense_per_sample output, and stacks of dense_per_sample layers under a batch-norm output,
are proved for every depth, width and batch size (the sums' normal form reads Σ_s δ_s Σ_i x_i
and Σ_(s, i) δ_s x_i as one, ``proof.sums``). A network that alternates the two kinds (the
example) is proved per network.

``prove(d, "auto")`` expands (up to the brute-force limit; the local lemmas past it): the
construction's factor ∂a/∂x through the square root of a sum over the batch is an entry
too large for it to decide already at 3 features × 4 samples.

Refused: a vector input (which axis is the batch cannot be told from it), and a batch of
one sample, where x − μ = 0: the output is β whatever the input and nothing passes back, as
PyTorch refuses it in training mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sympy as sp

from ..limits import LayerSize
from . import vector as v
from .base import Bound, Kind, Layer, Map, Maps, Option, Shape, Tensor, backward_by_maps
from .layernorm import DEFAULT_EPS, exact_eps, positive_number

_size = {"integer": True, "positive": True}
FEATURES, SAMPLES = sp.Symbol("features", **_size), sp.Symbol("B", **_size)
C, S, I, K, R = (sp.Symbol(name, **_size) for name in "csikr")  # feature, sample, summed


def tensor(name: str, base: str, *axes: sp.Expr) -> Tensor:
    return Tensor(name, sp.IndexedBase(base), axes)


BATCH = (FEATURES, SAMPLES)
X, Z, A = tensor("x", "x", *BATCH), tensor("z", "z", *BATCH), tensor("a", "a", *BATCH)
GAMMA, BETA = tensor("W", "gamma", FEATURES), tensor("b", "beta", FEATURES)
DELTA, DX = tensor("delta", "delta", *BATCH), tensor("dx", "dx", *BATCH)
DGAMMA, DBETA = tensor("dW", "dgamma", FEATURES), tensor("db", "dbeta", FEATURES)


def mean(x: Tensor, c: sp.Expr) -> sp.Expr:
    """μ_c = (1/B) Σ_i x[c, i]."""
    return sp.Sum(x[c, I], (I, 1, SAMPLES)) / SAMPLES


def centred(x: Tensor, c: sp.Expr, s: sp.Expr) -> sp.Expr:
    """x[c, s] − μ_c."""
    return x[c, s] - mean(x, c)


def root(x: Tensor, c: sp.Expr, eps: sp.Expr, divisor: sp.Expr = SAMPLES) -> sp.Expr:
    """√(v_c + ε), v_c = (1/B) Σ_k (x[c, k] − μ_c)² (``divisor`` B − 1: the unbiased one)."""
    return sp.sqrt(sp.Sum(centred(x, c, K) ** 2, (K, 1, SAMPLES)) / divisor + eps)


def normalized(x: Tensor, c: sp.Expr, s: sp.Expr, eps: sp.Expr) -> sp.Expr:
    """x̂[c, s] = (x[c, s] − μ_c)/√(v_c + ε)."""
    return centred(x, c, s) / root(x, c, eps)


def textbook_input_vjp(eps: sp.Expr) -> sp.Expr:
    """(B dy − Σ_r dy[c, r] − x̂ Σ_r dy[c, r] x̂[c, r]) / (B √(v_c + ε)), dy = γ ⊙ δ."""
    total = sp.Sum(GAMMA[C] * DELTA[C, R], (R, 1, SAMPLES))
    along = sp.Sum(GAMMA[C] * DELTA[C, R] * normalized(X, C, R, eps), (R, 1, SAMPLES))
    return (SAMPLES * GAMMA[C] * DELTA[C, S] - total - normalized(X, C, S, eps) * along) \
        / (SAMPLES * root(X, C, eps))


def maps(layer: Layer) -> Maps:
    eps = exact_eps(layer)

    def sizes(shape_in: Shape) -> dict[sp.Symbol, int]:
        return {FEATURES: shape_in[0], SAMPLES: shape_in[1]}

    def symbolic(e: sp.Expr, shape_in: tuple[sp.Expr, ...]) -> dict[sp.Symbol, sp.Expr]:
        return {FEATURES: shape_in[0], SAMPLES: shape_in[1]}

    return Maps(
        sizes=sizes, symbolic=symbolic, x=X, z=Z, a=A, params=(GAMMA, BETA),
        pre=Map(Z, (C, S), GAMMA[C] * normalized(X, C, S, eps) + BETA[C], (X,), (GAMMA, BETA)),
        param_vjps={
            "W": Map(DGAMMA, (C,), sp.Sum(DELTA[C, S] * normalized(X, C, S, eps),
                                          (S, 1, SAMPLES)), (DELTA, X)),
            "b": Map(DBETA, (C,), sp.Sum(DELTA[C, S], (S, 1, SAMPLES)), (DELTA,))},
        input_vjp=Map(DX, (C, S), textbook_input_vjp(eps), (DELTA, X), (GAMMA,)),
        activation=layer.get("activation", "identity"), keeps_width=True,
    )


HOW = "give the network inputs = [features, batch size] (e.g. [3, 4]; --inputs 3x4)"


def check(layer: Layer, shape_in: Shape) -> None:
    if len(shape_in) != 2:
        raise ValueError(f"batch norm normalizes each feature over the samples of a batch, so "
                         f"it needs an input of features × samples, and it got a vector of "
                         f"{shape_in[0]}; {HOW}, and dense_per_sample (not dense) below it")
    if shape_in[1] < 2:
        raise ValueError("a batch of 1 sample cannot be normalized (x − μ = 0, so the output "
                         "is β whatever the input, and nothing passes back); give a batch of "
                         "2 samples or more")


def sized(layer: Layer, width: int, shape_in: Shape) -> Layer:
    """The layer as it is: it keeps its input's shape (a cross-check network's)."""
    return layer


def size(layer: Layer, sizes: Mapping[sp.Symbol, int]) -> LayerSize:
    """γ and β, 2 C numbers; each output joined to the B inputs of its feature."""
    c, b = sizes[FEATURES], sizes[SAMPLES]
    return LayerSize(parameters=2 * c, connections=c * b * b)


def backward(ops: Any, l: Any, g: Any) -> Bound:
    """δ_l = σ'(z_l) ⊙ ∂C/∂a_l; ∂C/∂γ_l = (δ_l ⊙ x̂_l) 1, ∂C/∂β_l = δ_l 1."""
    return backward_by_maps(ops, l, g)


def pass_back(ops: Any, l: Any, bound: Bound) -> Any:
    """∂C/∂a_(l-1) = (B dy − (dy 1) 1ᵀ − x̂ ⊙ ((dy ⊙ x̂) 1 1ᵀ)) ⊘ (B s 1ᵀ), dy = γ_l ⊙ δ_l."""
    return ops.vjp(l, "input_vjp", bound.delta, ops.activation(l - 1))


def describe(layer: Layer) -> str:
    return f"a batch norm over the samples (ε = {layer.get('eps', DEFAULT_EPS):g})"


def forms(layer: Layer) -> v.Forms:
    """The layer in vector notation on the features × samples matrix, g = ∂C/∂a: μ and the
    spread s columns of one entry per feature, x̂ named, dy = γ ⊙ δ, 1 the column of B ones
    (M 1 sums each row of M over the samples, c 1ᵀ repeats a column c for every sample)."""
    ones, gamma, beta = v.Ones(SAMPLES), v.operand("W"), v.operand("b")
    mu, spread, hat, dy = (v.operand(name) for name in ("mu", "spread", "xhat", "dy"))

    def each_sample(column: sp.Basic) -> sp.Basic:
        return v.Dot(column, v.T(ones))

    def per_feature(m: sp.Basic) -> sp.Basic:
        return v.Dot(m, ones)

    centred_ = v.Plus(v.X, v.Neg(each_sample(mu)))
    eps = v.Named(sp.Symbol("varepsilon"), exact_eps(layer))
    return v.Forms((
        v.Equation("mu", v.Over(per_feature(v.X), SAMPLES), slot="forward", stem=r"\mu"),
        v.Equation("spread", v.Root(v.Plus(
            v.Over(per_feature(v.Had(centred_, centred_)), SAMPLES), eps)),
            slot="forward", stem="s"),
        v.Equation("xhat", v.Div(centred_, each_sample(spread)), slot="forward",
                   stem=r"\hat{x}"),
        v.Equation("z", v.Plus(v.Had(each_sample(gamma), hat), each_sample(beta))),
        v.Equation("a", v.Sigma(v.Z)),
        v.Equation("delta", v.Had(v.G, v.SigmaPrime(v.Z))),
        v.Equation("W", per_feature(v.Had(v.DELTA, hat))),
        v.Equation("b", per_feature(v.DELTA)),
        v.Equation("dy", v.Had(each_sample(gamma), v.DELTA), slot="input"),
        v.Equation("input", v.Div(
            v.Plus(v.Dot(SAMPLES, dy), v.Neg(each_sample(per_feature(dy))),
                   v.Neg(v.Had(hat, each_sample(per_feature(v.Had(dy, hat)))))),
            v.Dot(SAMPLES, each_sample(spread))))), {SAMPLES: "B"})


# the documents' names, each named as the vector form that defines it (``forms``), which
# is what ``proof.vector_forms`` puts back for it to check the named entry forms
MU, SPREAD, HAT = sp.IndexedBase("mu"), sp.IndexedBase("spread"), sp.IndexedBase("xhat")


def shorthand(layer: Layer, formula: sp.Expr, l: str) -> tuple[sp.Expr, dict[sp.Symbol, str]]:
    """``formula`` with μ_c, s_c = √(v_c + ε) and x̂[c, s] = (x[c, s] − μ_c)/s_c named, as the
    vector forms name them: the entry forms then read as the textbook's."""
    variance = root(X, C, exact_eps(layer)) ** 2  # v_c + ε

    def spread(e: sp.Pow) -> sp.Expr:
        return SPREAD[C] ** (2 * e.exp)

    named = formula.replace(lambda e: isinstance(e, sp.Pow) and e.base == variance, spread)
    named = named.xreplace({mean(X, C): MU[C]}).xreplace(
        {sp.Sum(X[C, I], (I, 1, SAMPLES)): SAMPLES * MU[C]})

    def hat(e: sp.Expr) -> sp.Expr:
        factors = list(e.args)
        for f in factors:
            entry = (f + MU[C]) if isinstance(f, sp.Add) else None
            if isinstance(entry, sp.Indexed) and entry.base == X.base and \
                    1 / SPREAD[C] in factors:
                factors.remove(f)
                factors.remove(1 / SPREAD[C])
                return sp.Mul(*factors) * HAT[entry.indices]
        return e

    named = named.replace(lambda e: isinstance(e, sp.Mul), hat)
    return named, {MU.label: rf"\mu^{{({l})}}", SPREAD.label: rf"s^{{({l})}}",
                   HAT.label: rf"\hat{{x}}^{{({l})}}"}


KIND = Kind(
    name="batchnorm",
    summary="batch norm (training mode): z = γ ⊙ (x − μ)/√(v + ε) + β, each feature over "
            "the samples of the batch, a = σ(z)",
    options={"eps": Option(positive_number, "a positive number", DEFAULT_EPS),
             "activation": Option(lambda v: isinstance(v, str), "an activation's name",
                                  "identity")},
    maps=maps, check=check, backward=backward, pass_back=pass_back,
    words={"W": r"\gamma", "b": r"\beta"}, forms=forms, size=size, sized=sized,
    describe=describe, axes=("feature", "sample"), smallest_input=2, auto_method="expand",
    shorthand=shorthand,
    explains=r"Every output of a feature depends on that feature's input in every one of the "
             r"$B$ samples of the batch, through the mean $\mu_l$ and the variance $v_l$ over "
             r"the samples, so the gradient at the input is not $dy_l / s_l$ alone "
             r"($s_l = \sqrt{v_l + \varepsilon}$, $dy_l = \gamma_l \odot \delta_l$): "
             r"$\hat{x}_l$ does not move when a feature is shifted in every sample alike, nor, "
             r"up to $\varepsilon$, when it is rescaled, and the two subtracted terms take "
             r"those directions out: each feature's mean of $dy_l$ over the batch, and "
             r"$\hat{x}_l$ times its mean of $dy_l \odot \hat{x}_l$.",
)

"""Layer norm: over the n units of its input, μ = (1/n) Σ x, v = (1/n) Σ (x − μ)², x̂ =
(x − μ)/√(v + ε), z = γ ⊙ x̂ + β, a = σ(z).

v is the biased variance (divided by n), as PyTorch's ``nn.LayerNorm`` computes it. The
activation defaults to the identity: in a transformer block or a normalized MLP the
layer norm is a layer of its own, and whatever nonlinearity follows belongs to the next
layer's σ; any activation can still be asked for.

Its vector-Jacobian products are the compact textbook ones, each a map of its own, with
dy = γ ⊙ δ the gradient at x̂:

- ∂C/∂γ = δ ⊙ x̂ and ∂C/∂β = δ;
- ∂C/∂x = (1/(n √(v + ε))) (n dy − Σ dy − x̂ Σ (dy ⊙ x̂)).

Every output depends on every input through μ and v, which is where the two subtracted
terms come from: dy projected off the constant direction (a shift of x moves no x̂) and
off x̂ itself (a rescaling of x − μ moves no x̂, up to ε). symbp proves that formula equal to the
chain rule through the forward map, square root and all: ``proof.polynomials`` reads
(v + ε)^(m/2) as the m-th power of one atom √(v + ε).

γ and β are the layer's "W" and "b" to the program (the names every layer's gradient is
recorded under, γ scaling as W does and β shifting as b does); the documents call them γ
and β (``words``). ε is a positive number, 1e-5 by default as in PyTorch; the maps hold it
exact, as the rational of its decimal text (1e-5 is 1/100000): the proof is about that ε,
the code computes with the double nearest it, as every printed number is.

An input of one unit is refused: there x − μ = 0, so x̂ = 0 whatever x is, the layer's
output is β alone and its input gets no gradient, a network that silently learns nothing
from below the layer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import sympy as sp

from ..limits import LayerSize
from . import vector as v
from .base import Bound, Kind, Layer, Map, Maps, Option, Shape, Tensor, backward_by_maps
from .dense import I, J, K

N = sp.Symbol("n_norm", integer=True, positive=True)  # the units normalized over

X = Tensor("x", sp.IndexedBase("x"), (N,))
Z = Tensor("z", sp.IndexedBase("z"), (N,))
A = Tensor("a", sp.IndexedBase("a"), (N,))
GAMMA = Tensor("W", sp.IndexedBase("gamma"), (N,))
BETA = Tensor("b", sp.IndexedBase("beta"), (N,))
DELTA = Tensor("delta", sp.IndexedBase("delta"), (N,))
DGAMMA = Tensor("dW", sp.IndexedBase("dgamma"), (N,))
DBETA = Tensor("db", sp.IndexedBase("dbeta"), (N,))
DX = Tensor("dx", sp.IndexedBase("dx"), (N,))

DEFAULT_EPS = 1e-5


def positive_number(value: Any) -> bool:
    """An int or a float (TOML's numbers), finite and > 0; never a bool."""
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


def exact_eps(layer: Layer) -> sp.Rational:
    """ε as the rational of its decimal text: 1e-5 is 1/100000, the float the code runs."""
    return sp.Rational(repr(layer.get("eps", DEFAULT_EPS)))


def mean(x: Tensor) -> sp.Expr:
    return sp.Sum(x[I], (I, 1, N)) / N


def centred(x: Tensor, j: sp.Symbol) -> sp.Expr:
    """x_j − μ."""
    return x[j] - mean(x)


def root(x: Tensor, eps: sp.Expr) -> sp.Expr:
    """√(v + ε), v = (1/n) Σ (x − μ)²."""
    return sp.sqrt(sp.Sum(centred(x, K) ** 2, (K, 1, N)) / N + eps)


def normalized(x: Tensor, j: sp.Symbol, eps: sp.Expr) -> sp.Expr:
    """x̂_j = (x_j − μ)/√(v + ε)."""
    return centred(x, j) / root(x, eps)


def maps(layer: Layer) -> Maps:
    eps = exact_eps(layer)
    x = X
    dy = GAMMA[K] * DELTA[K]
    total = sp.Sum(GAMMA[J] * DELTA[J], (J, 1, N))  # Σ dy
    along = sp.Sum(GAMMA[J] * DELTA[J] * normalized(x, J, eps), (J, 1, N))  # Σ dy ⊙ x̂
    input_vjp = (N * dy - total - normalized(x, K, eps) * along) / (N * root(x, eps))

    def symbolic(e: sp.Expr, shape_in: tuple[sp.Expr, ...]) -> dict[sp.Symbol, sp.Expr]:
        return {N: sp.Mul(*shape_in)}

    return Maps(
        sizes=lambda shape_in: {N: shape_in[0]}, symbolic=symbolic,
        x=x, z=Z, a=A, params=(GAMMA, BETA),
        pre=Map(Z, (J,), GAMMA[J] * normalized(x, J, eps) + BETA[J], (x,), (GAMMA, BETA)),
        param_vjps={"W": Map(DGAMMA, (J,), DELTA[J] * normalized(x, J, eps), (DELTA, x)),
                    "b": Map(DBETA, (J,), DELTA[J], (DELTA,))},
        input_vjp=Map(DX, (K,), input_vjp, (DELTA, x), (GAMMA,)),
        activation=layer.get("activation", "identity"), keeps_width=True,
    )


def check(layer: Layer, shape_in: Shape) -> None:
    if shape_in[0] < 2:
        raise ValueError("an input of 1 unit cannot be normalized (x − μ = 0, so the output "
                         "is β whatever the input, and nothing passes back); put layer norm "
                         "on 2 units or more")


def size(layer: Layer, sizes: Mapping[sp.Symbol, int]) -> LayerSize:
    """γ and β, 2n numbers; each output joined to every input (through μ and v)."""
    n = sizes[N]
    return LayerSize(parameters=2 * n, connections=n * n)


def backward(ops: Any, l: Any, g: Any) -> Bound:
    """δ_l = σ'(z_l) ⊙ ∂C/∂a_l; ∂C/∂γ_l = δ_l ⊙ x̂_l, ∂C/∂β_l = δ_l."""
    return backward_by_maps(ops, l, g)


def pass_back(ops: Any, l: Any, bound: Bound) -> Any:
    """∂C/∂a_(l-1) = (1/(n √(v + ε))) (n dy − Σ dy − x̂ Σ (dy ⊙ x̂)), dy = γ_l ⊙ δ_l."""
    return ops.vjp(l, "input_vjp", bound.delta, ops.activation(l - 1))


def describe(layer: Layer) -> str:
    return f"a layer norm (ε = {layer.get('eps', DEFAULT_EPS):g})"


def forms(layer: Layer) -> v.Forms:
    """The layer in vector notation, g = ∂C/∂a: the mean μ, the spread s and x̂ named,
    dy = γ ⊙ δ, n the units and 1 the column of n ones."""
    ones, gamma = v.Ones(N), v.operand("W")
    mu, spread, hat, dy = (v.operand(name) for name in ("mu", "spread", "xhat", "dy"))
    centred = v.Plus(v.X, v.Neg(v.Dot(mu, ones)))
    eps = v.Named(sp.Symbol("varepsilon"), exact_eps(layer))
    return v.Forms((
        v.Equation("mu", v.Over(v.Dot(v.T(ones), v.X), N), slot="forward", stem=r"\mu"),
        v.Equation("spread", v.Root(v.Plus(v.Over(v.SqNorm(centred), N), eps)),
                   slot="forward", stem="s"),
        v.Equation("xhat", v.Over(centred, spread), slot="forward", stem=r"\hat{x}"),
        v.Equation("z", v.Plus(v.Had(gamma, hat), v.operand("b"))),
        v.Equation("a", v.Sigma(v.Z)),
        v.Equation("delta", v.Had(v.G, v.SigmaPrime(v.Z))),
        v.Equation("W", v.Had(v.DELTA, hat)),
        v.Equation("b", v.DELTA),
        v.Equation("dy", v.Had(gamma, v.DELTA), slot="input"),
        v.Equation("input", v.Over(
            v.Plus(v.Dot(N, dy), v.Neg(v.Dot(v.Dot(v.T(ones), dy), ones)),
                   v.Neg(v.Dot(v.Dot(v.T(hat), dy), hat))),
            v.Dot(N, spread)))), {N: "n"})


# the documents' names, each named as the vector form that defines it (``forms``), which
# is what ``proof.vector_forms`` puts back for it to check the named entry forms
MU, SPREAD, HAT = sp.Symbol("mu"), sp.Symbol("spread"), sp.IndexedBase("xhat")


def shorthand(layer: Layer, formula: sp.Expr, l: str) -> tuple[sp.Expr, dict[sp.Symbol, str]]:
    """``formula`` with μ, s = √(v + ε) and x̂_j = (x_j − μ)/s named, as the vector forms name
    them: the entry forms then read as the textbook's."""
    s = root(X, exact_eps(layer))
    named = formula.xreplace({s: SPREAD, 1 / s: 1 / SPREAD}).xreplace(
        {mean(X): MU, sp.Sum(X[I], (I, 1, N)): N * MU})

    def hat(e: sp.Expr) -> sp.Expr:
        factors = list(e.args)
        for f in factors:
            entry = (f + MU) if isinstance(f, sp.Add) else None
            if isinstance(entry, sp.Indexed) and entry.base == X.base and 1 / SPREAD in factors:
                factors.remove(f)
                factors.remove(1 / SPREAD)
                return sp.Mul(*factors) * HAT[entry.indices]
        return e

    named = named.replace(lambda e: isinstance(e, sp.Mul), hat)
    return named, {MU: rf"\mu^{{({l})}}", SPREAD: rf"s^{{({l})}}",
                   HAT.label: rf"\hat{{x}}^{{({l})}}"}


KIND = Kind(
    name="layernorm",
    summary="layer norm: z = γ ⊙ (x − μ)/√(v + ε) + β over the units, a = σ(z)",
    options={"eps": Option(positive_number, "a positive number", DEFAULT_EPS),
             "activation": Option(lambda v: isinstance(v, str), "an activation's name",
                                  "identity")},
    maps=maps, check=check, backward=backward, pass_back=pass_back,
    words={"W": r"\gamma", "b": r"\beta"}, forms=forms, size=size,
    smallest_input=2, shorthand=shorthand,
    describe=describe,
    explains=r"Every output of the layer depends on every one of its $n$ inputs, through the "
             r"mean $\mu_l$ and the variance $v_l$, so the gradient at the input is not "
             r"$dy_l / s_l$ alone ($s_l = \sqrt{v_l + \varepsilon}$, $dy_l = \gamma_l \odot "
             r"\delta_l$): $\hat{x}_l$ does not move when the input is shifted (every entry "
             r"plus the same number) nor, up to $\varepsilon$, when $a_{l-1} - \mu_l$ is "
             r"rescaled, and the two subtracted terms take those directions out: the mean of "
             r"$dy_l$, and $\hat{x}_l$ times the mean of $dy_l \odot \hat{x}_l$.",
)

"""Softmax attention, one head: A = softmax(Q Kᵀ / √d_k) V with Q = X W_Q, K = X W_K,
V = X W_V + 1 b_Vᵀ, row-wise, optionally causal; a = σ(Aᵀ).

A sequence is channels × positions, as for a convolution: the input a_(l-1) holds d channels
of T positions, and X = a_(l-1)ᵀ is T × d, its row t the token at position t (a vector
input is one token). W_Q and W_K are d × d_k, W_V is d × d_v. The scores are
S[t, s] = Σ_k Q[t, k] K[s, k] / √d_k and P[t, s] = exp(S[t, s]) / Σ_r exp(S[t, r]); with the
causal mask token t attends to the tokens s ≤ t only, so both the sum over r and P[t, ·]
are cut by the bracket [1 ≤ s ≤ t] (``base.Inside``): an exact 0 where PyTorch writes
S[t, s] = −∞, never a float. The output is Aᵀ, d_v channels of T positions, so attention
stacks with convolutions and the layers after it read it as any sequence.

Its vector-Jacobian products are the textbook ones, dA = δᵀ (δ = ∂C/∂z, z = Aᵀ):

- dV = Pᵀ dA and dP = dA Vᵀ: the two products;
- dS = P ⊙ (dP − rowsum(dP ⊙ P)): the softmax's, each row's entries coupled through its sum;
- dQ = dS K / √d_k and dK = dSᵀ Q / √d_k;
- ∂C/∂W_Q = Xᵀ dQ, ∂C/∂W_K = Xᵀ dK, ∂C/∂W_V = Xᵀ dV, ∂C/∂b_V = Σ_s dV[s, ·];
- ∂C/∂X = dQ W_Qᵀ + dK W_Kᵀ + dV W_Vᵀ, transposed back to channels × positions.

A map reads the layer's input, its parameters and δ only, so each intermediate (Q, K, V, S,
P, dA, dP, dS, dQ, dK, dV) is a function below that writes it as sums over those, and the
maps are these functions composed: one formula per stage as the textbook names it, and one
map per vector-Jacobian product, with no new machinery in ``base``. The cost is that a
stage is written out once per use rather than computed once (a proof's size, not its
truth). The numeric code finds the stages again: ``numeric.maps_staged`` computes each
repeated sum once as an array, the softmax shifted by its row maximum (stable), and the
NumPy, numba, jax and torch code is printed from these maps as for every kind.

The general theorem takes these maps as they are, for symbolic T, d, d_k and d_v: it reads
each P[t, s] as one opaque entry whose derivative is the registered softmax Jacobian, a lemma
proved for a row of any length with and without the mask (``proof.row_softmax``); what is
left of each lemma is a sum of products of entries.

The parameters: the program names a layer's weights "W" and its bias "b" (every layer
has them), so W is W_V and b the value bias b_V: the matrix the signal passes through when
P is held fixed, as a dense layer's W, and since every row of P sums to one,
P (V + 1 b_Vᵀ) = P V + 1 b_Vᵀ, the bias lands on the output unchanged, as a dense layer's
b. "WQ" and "WK" are W_Q and W_K; the documents write W^V, b^V, W^Q, W^K.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sympy as sp

from ..limits import LayerSize
from . import symbolic as symbolic_sizes
from . import vector as v
from .base import Bound, Inside, Kind, Layer, Map, Maps, Option, Shape, Tensor, positive_int

_size = {"integer": True, "positive": True}
D, T_, DK, DV = (sp.Symbol(name, **_size) for name in ("d_model", "n_tokens", "d_key",
                                                       "d_value"))
# Output indices of the maps, then one set of bound indices per stage, so that no stage's
# sum captures an index another stage hands it
J, T, C, K, U = (sp.Symbol(name, **_size) for name in ("j", "t", "c", "k", "u"))
_BOUND = {name: sp.Symbol(name, **_size) for name in
          ("c_q", "c_k", "c_v", "k_s", "r_p", "s_a", "j_p", "r_ds", "s_dq", "t_dk", "t_dv",
           "t_w", "s_w", "k_x", "j_x")}


def tensors() -> dict[str, Tensor]:
    shapes: dict[str, tuple[sp.Expr, ...]] = {
        "x": (D, T_), "z": (DV, T_), "a": (DV, T_), "delta": (DV, T_),
        "W": (D, DV), "b": (DV,), "WQ": (D, DK), "WK": (D, DK),
        "dW": (D, DV), "db": (DV,), "dWQ": (D, DK), "dWK": (D, DK), "dx": (D, T_)}
    return {name: Tensor(name, sp.IndexedBase(name), axes) for name, axes in shapes.items()}


class Stages:
    """The textbook's intermediates as formulas in x, the parameters and δ (1-based)."""

    def __init__(self, causal: bool):
        t = tensors()
        self.causal = causal
        self.x, self.WV, self.bV, self.WQ, self.WK = t["x"], t["W"], t["b"], t["WQ"], t["WK"]
        self.delta = t["delta"]
        self.scale = 1 / sp.sqrt(DK)

    def _sum(self, body: Callable[[sp.Symbol], sp.Expr], name: str, last: sp.Expr) -> sp.Expr:
        i = _BOUND[name]
        return sp.Sum(body(i), (i, 1, last))

    def Q(self, t: sp.Expr, k: sp.Expr) -> sp.Expr:
        return self._sum(lambda c: self.x[c, t] * self.WQ[c, k], "c_q", D)

    def K(self, s: sp.Expr, k: sp.Expr) -> sp.Expr:
        return self._sum(lambda c: self.x[c, s] * self.WK[c, k], "c_k", D)

    def V(self, s: sp.Expr, j: sp.Expr) -> sp.Expr:
        return self._sum(lambda c: self.x[c, s] * self.WV[c, j], "c_v", D) + self.bV[j]

    def S(self, t: sp.Expr, s: sp.Expr) -> sp.Expr:
        return self.scale * self._sum(lambda k: self.Q(t, k) * self.K(s, k), "k_s", DK)

    def seen(self, t: sp.Expr, s: sp.Expr) -> sp.Expr:
        """[s ≤ t] under the causal mask (token t sees the tokens up to itself), else 1."""
        return Inside(s, 1, t) if self.causal else sp.Integer(1)

    def P(self, t: sp.Expr, s: sp.Expr) -> sp.Expr:
        total = self._sum(lambda r: self.seen(t, r) * sp.exp(self.S(t, r)), "r_p", T_)
        return self.seen(t, s) * sp.exp(self.S(t, s)) / total

    def dA(self, t: sp.Expr, j: sp.Expr) -> sp.Expr:
        return self.delta[j, t]

    def dV(self, s: sp.Expr, j: sp.Expr) -> sp.Expr:
        return self._sum(lambda t: self.P(t, s) * self.dA(t, j), "t_dv", T_)

    def dP(self, t: sp.Expr, s: sp.Expr) -> sp.Expr:
        return self._sum(lambda j: self.dA(t, j) * self.V(s, j), "j_p", DV)

    def dS(self, t: sp.Expr, s: sp.Expr) -> sp.Expr:
        rowsum = self._sum(lambda r: self.dP(t, r) * self.P(t, r), "r_ds", T_)
        return self.P(t, s) * (self.dP(t, s) - rowsum)

    def dQ(self, t: sp.Expr, k: sp.Expr) -> sp.Expr:
        return self.scale * self._sum(lambda s: self.dS(t, s) * self.K(s, k), "s_dq", T_)

    def dK(self, s: sp.Expr, k: sp.Expr) -> sp.Expr:
        return self.scale * self._sum(lambda t: self.dS(t, s) * self.Q(t, k), "t_dk", T_)

    def A(self, t: sp.Expr, j: sp.Expr) -> sp.Expr:
        return self._sum(lambda s: self.P(t, s) * self.V(s, j), "s_a", T_)


def maps(layer: Layer) -> Maps:
    t = tensors()
    st = Stages(bool(layer.get("causal", False)))
    x, delta = t["x"], t["delta"]
    params = (t["W"], t["b"], t["WQ"], t["WK"])
    row = _BOUND["t_w"]

    def weight_grad(out: str, of: Any) -> Map:  # Xᵀ dM: Σ_t x[c, t] dM[t, k]
        return Map(t[out], (C, K), sp.Sum(x[C, row] * of(row, K), (row, 1, T_)), (delta, x),
                   params)

    s_w, k_x, j_x = _BOUND["s_w"], _BOUND["k_x"], _BOUND["j_x"]
    input_grad = (sp.Sum(st.dQ(U, k_x) * st.WQ[C, k_x] + st.dK(U, k_x) * st.WK[C, k_x],
                         (k_x, 1, DK))
                  + sp.Sum(st.dV(U, j_x) * st.WV[C, j_x], (j_x, 1, DV)))

    def sizes(shape_in: Shape) -> dict[sp.Symbol, int]:
        d, n = shape_in
        return {D: d, T_: n, DK: layer.get("key", d), DV: layer.get("value", d)}

    def symbolic(e: sp.Expr, shape_in: tuple[sp.Expr, ...]) -> dict[sp.Symbol, sp.Expr]:
        """At symbolic layer e: d and T the input's, d_k = k_e and d_v = c_e free."""
        return {D: shape_in[0], T_: shape_in[1], DK: symbolic_sizes.KEYS[e],
                DV: symbolic_sizes.CHANNELS[e]}

    return Maps(
        sizes=sizes, symbolic=symbolic, x=x, z=t["z"], a=t["a"], params=params,
        pre=Map(t["z"], (J, T), st.A(T, J), (x,), params),
        param_vjps={
            "W": Map(t["dW"], (C, J), sp.Sum(x[C, s_w] * st.dV(s_w, J), (s_w, 1, T_)),
                     (delta, x), params),
            "b": Map(t["db"], (J,), sp.Sum(st.dV(s_w, J), (s_w, 1, T_)), (delta, x), params),
            "WQ": weight_grad("dWQ", st.dQ),
            "WK": weight_grad("dWK", st.dK)},
        input_vjp=Map(t["dx"], (C, U), input_grad, (delta, x), params),
        activation=layer.get("activation", "identity"),
    )


def check(layer: Layer, shape_in: Shape) -> None:
    if len(shape_in) != 2:
        raise ValueError(f"an attention layer reads its input as channels × positions (d "
                         f"features of T tokens, as --inputs 3x4), got a vector of "
                         f"{shape_in[0]}; give the input as DxT")


def sized(layer: Layer, width: int, shape_in: Shape) -> Layer:
    """The layer with ``width`` value channels (d_v) and one key channel (d_k = 1), its other
    options kept: a small network for the theorem's cross-check. Its per-network proof grows
    fast with d_k (two stacked heads without the mask: 4 s at d_k = 1, 100 s at 2); the
    lemmas are for every d_k."""
    return Layer("attention", {**dict(layer.options), "value": width, "key": 1})


def size(layer: Layer, sizes: Mapping[sp.Symbol, int]) -> LayerSize:
    """W_Q, W_K, W_V and b_V: d (2 d_k + d_v) + d_v numbers. Each of the d_v T outputs joins
    every input entry, but through the softmax: written out, it reads T weights P[t, s], and
    each of those the T scores of its row, each score d_k d² products of entries. Those
    terms, T³ d_k d² per output channel, are what a proof expands, so they are counted."""
    d, n, dk, dv = sizes[D], sizes[T_], sizes[DK], sizes[DV]
    return LayerSize(parameters=d * (2 * dk + dv) + dv,
                     connections=dv * n**3 * dk * d * d)


def backward(ops: Any, l: Any, g: Any) -> Bound:
    """δ_l = σ'(z_l) ⊙ g_l; ∂C/∂W_V, ∂C/∂b_V, ∂C/∂W_Q, ∂C/∂W_K from δ_l and the input."""
    delta = ops.bind_delta(l, ops.activation_vjp(l, g))
    x = ops.activation(l - 1)
    ops.gradient(l, weight=ops.vjp(l, "W", delta, x), bias=ops.vjp(l, "b", delta, x),
                 WQ=ops.vjp(l, "WQ", delta, x), WK=ops.vjp(l, "WK", delta, x))
    return Bound(delta)


def pass_back(ops: Any, l: Any, bound: Bound) -> Any:
    """∂C/∂a_(l-1) = (dQ W_Qᵀ + dK W_Kᵀ + dV W_Vᵀ)ᵀ: the input reaches the cost as queries,
    keys and values."""
    return ops.vjp(l, "input_vjp", bound.delta, ops.activation(l - 1))


def describe(layer: Layer) -> str:
    causal = "causal " if layer.get("causal", False) else ""
    return f"{causal}softmax attention, one head"


def forms(layer: Layer) -> v.Forms:
    """The head in matrix notation, X = a_(l-1)ᵀ (one token a row), g = ∂C/∂a."""
    causal = bool(layer.get("causal", False))
    wv, wq, wk, bv = (v.operand(name) for name in ("W", "WQ", "WK", "b"))
    X, Q, K, V, S, P, dA, dV, dP, dS, dQ, dK = (v.operand(name) for name in (
        "X", "Q", "K", "V", "S", "P", "dA", "dV", "dP", "dS", "dQ", "dK"))
    root = sp.sqrt(DK)

    def named(name: str, rhs: sp.Basic, slot: str = "forward") -> v.Equation:
        return v.Equation(name, rhs, slot=slot, layered=False)

    return v.Forms((
        named("X", v.T(v.X)), named("Q", v.Dot(X, wq)), named("K", v.Dot(X, wk)),
        named("V", v.Plus(v.Dot(X, wv), v.Dot(v.Ones(T_), v.T(bv)))),
        named("S", v.Over(v.Dot(Q, v.T(K)), root)),
        named("P", v.RowSoftmax(S, causal)),
        v.Equation("z", v.T(v.Dot(P, V))),
        v.Equation("a", v.Sigma(v.Z)),
        v.Equation("delta", v.Had(v.G, v.SigmaPrime(v.Z))),
        named("dA", v.T(v.DELTA), "delta"), named("dV", v.Dot(v.T(P), dA), "delta"),
        named("dP", v.Dot(dA, v.T(V)), "delta"),
        named("dS", v.Had(P, v.Plus(dP, v.Neg(v.RowSum(v.Had(dP, P))))), "delta"),
        named("dQ", v.Over(v.Dot(dS, K), root), "WQ"),
        named("dK", v.Over(v.Dot(v.T(dS), Q), root), "WK"),
        v.Equation("W", v.Dot(v.T(X), dV)),
        v.Equation("b", v.Dot(v.T(dV), v.Ones(T_))),
        v.Equation("WQ", v.Dot(v.T(X), dQ)),
        v.Equation("WK", v.Dot(v.T(X), dK)),
        v.Equation("input", v.T(v.Plus(v.Dot(dQ, v.T(wq)), v.Dot(dK, v.T(wk)),
                                       v.Dot(dV, v.T(wv)))))), {DK: "d_k"})


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


KIND = Kind(
    name="attention",
    summary="one-head softmax attention: softmax(Q Kᵀ/√d_k) V over tokens, optionally causal",
    options={
        "key": Option(positive_int, "a positive integer (d_k; default: the input's channels)"),
        "value": Option(positive_int, "a positive integer (d_v; default: the input's "
                                      "channels)"),
        "causal": Option(_is_bool, "true or false", False),
        "activation": Option(lambda v: isinstance(v, str), "an activation's name", "identity"),
    },
    maps=maps, check=check, backward=backward, pass_back=pass_back,
    words={"W": "{W^{V}}", "b": "{b^{V}}", "WQ": "{W^{Q}}", "WK": "{W^{K}}"},
    forms=forms, size=size, describe=describe, auto_method="local", sized=sized,
    positions=2,
    explains=r"Every token's output mixes every value it attends to with the weights "
             r"$P[t, s]$, and each row of $P$ is a softmax: its entries share one "
             r"denominator, so raising one score lowers every other weight of its row. That "
             r"is why $dS$ takes the row sum: $dS[t, s] = P[t, s] (dP[t, s] - \sum_r "
             r"dP[t, r] P[t, r])$, the softmax's Jacobian $\operatorname{diag}(p) - p p^{T}$ "
             r"applied to a row of $dP$. The input enters three times, as queries, keys and "
             r"values, so its gradient is the sum of the three roads back. The causal mask "
             r"needs no term of its own on the way back: a masked weight $P[t, s]$ ($s > t$) "
             r"is exactly zero, and every masked entry of $dV$, $dS$, $dQ$ and $dK$ carries "
             r"that factor, so it vanishes by itself.",
)

"""The R-operator's steps in index notation, and the directional derivatives they must equal.

``HvpIndexOps`` is ``CurvatureIndexOps`` with the operations of
``curvature_recursions.pearlmutter_hvp`` (V_l, v_(b_l) the direction's blocks as
v^{(l)}_{jk} and vb^{(l)}_j; ż_l and δ̇_l, once bound, as zd^{(l)}_j and dd^{(l)}_j), so
the hvp program that the generated ``hvp`` runs is replayed on entry formulas, for
symbolic widths.

``identities`` sets each bound tangent against D_v of the quantity it stands for,
D_v f = d/dε f(θ + ε v) at ε = 0, taken by SymPy of the network's own maps (σ'
differentiating to the opaque σ''), with every quantity the formula reads through the
layer next to it moved along its own tangent (W by V, b by v_b, z by ż, δ by δ̇; the
input x and the targets y stay):

- ``tangent``  ż_l = D_v (Σ_m w^{(l)}_{im} a^{(l-1)}_m + b^{(l)}_i), a^{(l-1)} = σ(z^{(l-1)})
  below, the input x at layer 1;
- ``rdelta base``  δ̇_L,k = Σ_j ∂²C/∂z_L,k ∂z_L,j ż_L,j = D_v ∂C/∂z_L,k;
- ``rdelta step``  δ̇_l,k = D_v Σ_i δ^{(l+1)}_i ∂z^{(l+1)}_i/∂z^{(l)}_k (the chain rule the
  first-order step proves);
- ``row``  (H v)_{w^{(l)}_{jk}} = D_v Σ_i δ^{(l)}_i ∂z^{(l)}_i/∂w^{(l)}_{jk}, and for b^{(l)}_j.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from ..core import curvature
from ..core.generic import DEPTH, LAYER
from . import general
from .curvature_indexed import CurvatureIndexOps
from .curvature_truths import Truths
from .index_entries import DELTA, A, B, IndexMatrix, IndexVector, J, K, W, Z, fresh, named
from .indexed import WIDTH

V, VB = sp.IndexedBase("v"), sp.IndexedBase("vb")  # the direction of W_l and of b_l
ZDOT, DDOT = sp.IndexedBase("zd"), sp.IndexedBase("dd")  # ż_l and δ̇_l, as bound
EPS = sp.Symbol("epsilon")
FIRST, STEP = "first", "step"  # a layer on the input, a layer on a hidden one


class HvpIndexOps(CurvatureIndexOps):
    """``CurvatureIndexOps`` with the R-operator's operations; ``tangents`` and ``rdeltas``
    hold what ``bind_tangent`` and ``bind_tangent_delta`` bound, by layer."""

    def __init__(self, hidden, output, cost):
        super().__init__(hidden, output, cost)
        self.tangents: dict[sp.Expr, Any] = {}
        self.rdeltas: dict[sp.Expr, Any] = {}

    def tangent_times(self, layer: sp.Expr, u: IndexVector) -> IndexVector:
        i, k = fresh(), fresh()
        return IndexVector(sp.Sum(V[layer, i, k] * u.at(k), (k, 1, u.length)), i,
                           self.width(layer))

    def tangent_transpose_times(self, layer: sp.Expr, u: IndexVector) -> IndexVector:
        i, k = fresh(), fresh()
        return IndexVector(sp.Sum(V[layer, i, k] * u.at(i), (i, 1, u.length)), k,
                           self.width(layer - 1))

    def tangent_bias(self, layer: sp.Expr) -> IndexVector:
        return named(VB, layer, (self.width(layer),))

    def activation_jvp(self, layer: sp.Expr, u: IndexVector) -> IndexVector:
        if self._absorbed(layer):  # the split is z_L: ż_L is what the cost reads
            return u
        j = fresh()
        return IndexVector(self._prime(layer, j) * u.at(j), j, u.length)

    def residual_times(self, layer: sp.Expr, g: IndexVector, u: IndexVector) -> IndexVector:
        j = fresh()
        if self._absorbed(layer):
            return IndexVector(sp.Integer(0), j, u.length)
        second = curvature.second(self.act(layer)).function
        return IndexVector(g.at(j) * second(Z[layer, j]) * u.at(j), j, u.length)

    def cost_hessian_times(self, u: IndexVector) -> IndexVector:
        H: IndexMatrix = self.cost_hessian()
        k = fresh()
        return IndexVector(sp.Sum(H.at(H.row, k) * u.at(k), (k, 1, u.length)), H.row,
                           H.shape[0])

    def gradient(self, layer: sp.Expr, weight: Any, bias: Any, **others: Any) -> None:
        self.trace.weight[layer] = weight  # (H v)_(W_l), (H v)_(b_l)
        self.trace.bias[layer] = bias

    def bind_tangent(self, layer: sp.Expr, u: IndexVector) -> IndexVector:
        self.tangents[layer] = u
        return named(ZDOT, layer, (u.length,))

    def bind_tangent_delta(self, layer: sp.Expr, u: IndexVector) -> IndexVector:
        self.rdeltas[layer] = u
        return named(DDOT, layer, (u.length,))


# ---------------------------------------------------------------- D_v


def _moved(e: sp.Indexed) -> sp.Expr:
    tangent = {W: V, B: VB, Z: ZDOT, DELTA: DDOT}[e.base]
    return e + EPS * tangent[e.indices]


def along(expr: sp.Expr, t: Truths) -> sp.Expr:
    """D_v expr = d/dε expr at ε = 0, each w, b, z and δ moved along its tangent (σ' to the
    opaque σ''); a^{(l)} must be written as σ(z^{(l)}) first (``activated``)."""
    curved = curvature.curving(expr, t.acts)
    moved = curved.replace(lambda e: isinstance(e, sp.Indexed)
                           and e.base in (W, B, Z, DELTA), _moved)
    return curvature.plain(sp.diff(moved, EPS).xreplace({EPS: 0}).doit(deep=False))


def activated(expr: sp.Expr, t: Truths, below: str) -> sp.Expr:
    """a^{(l-1)} := σ(z^{(l-1)}) and a^{(l)} := σ(z^{(l)}) in a step at the symbolic l; at a
    ``FIRST`` layer a^{(l-1)} is the input x and stays."""
    expr = t.activate(expr, LAYER)
    return expr if below == FIRST else t.activate(expr, LAYER - 1)


def z_map(layer: sp.Expr, i: sp.Expr) -> sp.Expr:
    m = fresh()
    return sp.Sum(W[layer, i, m] * A[layer - 1, m], (m, 1, WIDTH[layer - 1])) + B[layer, i]


# ---------------------------------------------------------------- the lemmas


def identities(name: str, value: Any, t: Truths) -> list[tuple[str, general.Identity]]:
    """(what, identity) for one group's value: ``name`` is "tangent first|step", "rdelta
    base|step" or "row first|step" (the layer at the symbolic l, the output layer at L)."""
    l, n = LAYER, WIDTH
    kind, where = name.split()
    if kind == "tangent":
        truth = along(activated(z_map(l, K), t, where), t)
        return [("", general.Identity(activated(value.at(K), t, where), truth,
                                      {K: (1, n[l])}, [n[l], n[l - 1]]))]
    if kind == "rdelta" and where == "base":
        j = fresh()
        omega = t.output().xreplace({J: K, K: j})  # t has the residual terms
        truth = sp.Sum(omega * ZDOT[DEPTH, j], (j, 1, n[DEPTH]))
        return [("", general.Identity(t.activate(value.at(K), DEPTH), truth,
                                      {K: (1, n[DEPTH])}, [n[DEPTH]]))]
    if kind == "rdelta":
        i = fresh()
        dz = t.activate(z_map(l + 1, i), l).diff(Z[l, K])
        truth = along(sp.Sum(DELTA[l + 1, i] * dz, (i, 1, n[l + 1])), t)
        return [("", general.Identity(t.activate(value.at(K), l), truth, {K: (1, n[l])},
                                      [n[l], n[l + 1]]))]
    weight, bias = value
    found = []
    for wrt, entry, ranges in (("W", weight.at(J, K), {J: (1, n[l]), K: (1, n[l - 1])}),
                               ("b", bias.at(J), {J: (1, n[l])})):
        i = fresh()
        target = W[l, J, K] if wrt == "W" else B[l, J]
        primal = sp.Sum(DELTA[l, i] * z_map(l, i).diff(target), (i, 1, n[l]))
        truth = along(activated(primal, t, where), t)
        found.append((f"(H v) of {wrt}", general.Identity(
            activated(entry, t, where), truth, ranges, list(dict.fromkeys(
                [n[l], n[l - 1]] if wrt == "W" else [n[l]])))))
    return found


STATEMENTS = {  # name: (plain text, LaTeX)
    "tangent first": ("zdot^(1) = D_v z^(1) (V_1 x + v_b1)",
                      r"\dot z^{(1)} = D_v z^{(1)}"),
    "tangent step": ("zdot^(l) = D_v z^(l) given zdot^(l-1)",
                     r"\dot z^{(l)} = D_v z^{(l)}"),
    "rdelta base": ("deltadot^(L) = D_v dC/dz^(L)",
                    r"\dot\delta^{(L)} = D_v \frac{\partial C}{\partial z^{(L)}}"),
    "rdelta step": ("deltadot^(l) = D_v delta^(l) given deltadot^(l+1) and zdot^(l)",
                    r"\dot\delta^{(l)} = D_v \delta^{(l)}"),
    "row first": ("(H v)_(theta_1) = D_v dC/d theta_1",
                 r"(H v)_{\theta_1} = D_v \frac{\partial C}{\partial \theta_1}"),
    "row step": ("(H v)_(theta_l) = D_v dC/d theta_l given deltadot^(l) and zdot^(l-1)",
                r"(H v)_{\theta_l} = D_v \frac{\partial C}{\partial \theta_l}"),
}

"""What each step of a curvature program is compared with, in index notation: the truths.

For one group of equal steps (``second_order_theorem``), ``identities`` gives the index
identities to check, each the program's entry against SymPy's derivatives of the network's
own maps, with symbolic widths and layer (``_Truths``): the chain rule twice for Ω, the
product rule for Γ in the columns of θ_l, θ_(l+1) and θ_M (M > l + 1), and the block row.
The Gauss–Newton program's truths are the same without the residual terms.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from ..core import curvature
from ..core.generic import DEPTH, LAYER
from . import general
from .curvature_indexed import CJ, CK, COLUMN, KINDS, OMEGA, column, cross_symbol
from .index_entries import DELTA, A, B, I, J, K, W, Z, fresh, softmax_unit
from .indexed import WIDTH

T = sp.Symbol("T", integer=True, positive=True)  # M = l + 1 + T: a layer past l + 1
SMALL = (1, 2)  # the widths lemmas with four widths are written out at


class Truths:
    """The derivatives each lemma is compared with, from the network's own maps."""

    def __init__(self, hidden, out, cost, residual: bool):
        self.hidden, self.out, self.cost, self.residual = hidden, out, cost, residual
        self.units = {a.name: None if a.elementwise else softmax_unit(a) for a in (hidden, out)}
        self.acts = [a for a in (hidden, out) if a.elementwise]

    def activate(self, expr: sp.Expr, layer: sp.Expr) -> sp.Expr:
        act = self.out if sp.sympify(layer) == DEPTH else self.hidden
        return general.activate(expr, layer, act, self.units[act.name])

    def d(self, expr: sp.Expr, x: sp.Expr) -> sp.Expr:
        """∂expr/∂x with σ' differentiating to the opaque σ''."""
        return curvature.plain(curvature.curving(expr, self.acts).diff(x))

    def z(self, layer: sp.Expr, i: sp.Expr, active: bool = True) -> sp.Expr:
        m = fresh()
        z = sp.Sum(W[layer, i, m] * A[layer - 1, m], (m, 1, WIDTH[layer - 1])) + B[layer, i]
        return self.activate(z, layer - 1) if active else z

    def output(self) -> sp.Expr:
        i = fresh()
        C = sp.Sum(general.cost_term(self.cost, i), (i, 1, WIDTH[DEPTH]))
        if self.residual or curvature.absorbs_output(self.cost):
            C = self.activate(C, DEPTH)
            return self.d(C.diff(Z[DEPTH, J]), Z[DEPTH, K])
        H = C.diff(A[DEPTH, J]).diff(A[DEPTH, K])
        return self.activate(self.out.prime(Z[DEPTH, J]) * H * self.out.prime(Z[DEPTH, K]),
                             DEPTH)

    def step(self) -> sp.Expr:
        l, i, i2 = LAYER, fresh(), fresh()
        zi, zi2 = self.z(l + 1, i), self.z(l + 1, i2)
        first = sp.Sum(OMEGA[l + 1, i, i2] * zi.diff(Z[l, J]) * zi2.diff(Z[l, K]),
                       (i, 1, WIDTH[l + 1]), (i2, 1, WIDTH[l + 1]))
        if not self.residual:
            return first
        return first + sp.Sum(DELTA[l + 1, i] * self.d(zi.diff(Z[l, J]), Z[l, K]),
                              (i, 1, WIDTH[l + 1]))

    def cross_own(self, kind: str) -> sp.Expr:
        l, i = LAYER, fresh()
        return sp.Sum(OMEGA[l, I, i] * self.z(l, i, False).diff(column(kind, l)),
                      (i, 1, WIDTH[l]))

    def cross_above(self, kind: str, at: sp.Expr) -> sp.Expr:
        l, i = LAYER, fresh()
        dz = self.z(l + 1, i).diff(Z[l, I])
        terms = cross_symbol(l + 1, i, kind, at) * dz
        if self.residual:
            terms += DELTA[l + 1, i] * self.d(dz, column(kind, at))
        return sp.Sum(terms, (i, 1, WIDTH[l + 1]))

    def row(self, rk: str, ck: str) -> sp.Expr:
        l, i = LAYER, fresh()
        q = W[l, J, K] if rk == "W" else B[l, J]
        dz = self.z(l, i, False).diff(q)
        return sp.Sum(cross_symbol(l, i, ck, COLUMN) * dz
                      + DELTA[l, i] * dz.diff(column(ck)), (i, 1, WIDTH[l]))



Checked = tuple[str, general.Identity, tuple[int, ...]]


def identities(name: str, value: Any, t: Truths) -> list[Checked]:
    """(what, identity, widths written out) for one group's value (a group of ``name``)."""
    l, n = LAYER, WIDTH
    if name == "delta base":
        unit = t.units[t.out.name]
        return [("", general.base_case(value.at(K), t.out, t.cost, unit), general.WIDTHS)]
    if name == "delta step":
        return [("", general.step(value.at(K), t.hidden, t.units[t.hidden.name]),
                 general.WIDTHS)]
    if name == "curvature base":
        return [("", general.Identity(t.activate(value.at(J, K), DEPTH), t.output(),
                                      {J: (1, n[DEPTH]), K: (1, n[DEPTH])}, [n[DEPTH]]),
                 general.WIDTHS)]
    if name == "curvature step":
        return [("", general.Identity(t.activate(value.at(J, K), l), t.step(),
                                      {J: (1, n[l]), K: (1, n[l])}, [n[l], n[l + 1]]),
                 general.WIDTHS)]
    found: list[Checked] = []
    if name.startswith("cross"):
        layer = DEPTH if name == "cross base" else l
        for kind in KINDS:
            own = value.at(kind, I).xreplace({COLUMN: layer})
            truth = t.cross_own(kind).xreplace({LAYER: layer}) if layer == DEPTH else \
                t.cross_own(kind)
            ranges = {I: (1, n[layer]), CJ: (1, n[layer])}
            if kind == "W":
                ranges[CK] = (1, n[layer - 1])
            found.append((f"columns of theta_{layer} ({kind})",
                          general.Identity(own, truth, ranges, [n[layer], n[layer - 1]]),
                          general.WIDTHS))
            if name == "cross base":
                continue
            for at, label in ((l + 1, "theta_(l+1)"), (l + 1 + T, "theta_M, M > l + 1")):
                entry = t.activate(value.at(kind, I).xreplace({COLUMN: at}), l)
                ranges = {I: (1, n[l]), CJ: (1, n[at])}
                if kind == "W":
                    ranges[CK] = (1, n[at - 1])
                widths = list(dict.fromkeys([n[l], n[l + 1], n[at], n[at - 1]]))
                found.append((f"columns of {label} ({kind})",
                              general.Identity(entry, t.cross_above(kind, at), ranges, widths),
                              general.WIDTHS if len(widths) <= 2 else SMALL))
        return found
    for rk in KINDS:  # the block row
        for ck in KINDS:
            ranges = {J: (1, n[l]), CJ: (1, n[COLUMN])}
            if rk == "W":
                ranges[K] = (1, n[l - 1])
            if ck == "W":
                ranges[CK] = (1, n[COLUMN - 1])
            found.append((f"rows {rk}, columns {ck}",
                          general.Identity(value.entries[(rk, ck)], t.row(rk, ck), ranges,
                                           [n[l], n[l - 1], n[COLUMN], n[COLUMN - 1]]), SMALL))
    return found


STATEMENTS = {  # name: (plain text, LaTeX)
    "delta base": ("delta^(L) = dC/dz^(L)", r"\delta^{(L)} = \partial C/\partial z^{(L)}"),
    "delta step": ("delta^(l) = dC/dz^(l) given delta^(l+1)",
                   r"\delta^{(l)} = \partial C/\partial z^{(l)}"),
    "curvature base": ("Omega^(L) = d2C/dz^(L)2", r"\Omega^{(L)} = \frac{\partial^2 C}"
                                                  r"{\partial z^{(L)}\,\partial z^{(L)}}"),
    "curvature step": ("Omega^(l) = d2C/dz^(l)2 given Omega^(l+1) and delta^(l+1)",
                       r"\Omega^{(l)} = \frac{\partial^2 C}{\partial z^{(l)}\,\partial z^{(l)}}"),
    "cross base": ("Gamma^(L) = d delta^(L)/d theta_L",
                   r"\Gamma^{(L)} = \partial \delta^{(L)}/\partial \theta_L"),
    "cross step": ("Gamma^(l) = d delta^(l)/d theta_(>=l) given Gamma^(l+1)",
                   r"\Gamma^{(l)} = \partial \delta^{(l)}/\partial \theta_{\ge l}"),
    "row step": ("block row l = d2C/d theta_l d theta_(>=l)",
                 r"\frac{\partial^2 C}{\partial \theta_l\, \partial \theta_{\ge l}} = "
                 r"J_l^{T}\, \Gamma^{(l)}"),
}
GN_STATEMENTS = {
    "curvature base": ("Omega^(L) = J_sigma^T H_C J_sigma (Gauss-Newton)",
                       r"\Omega^{(L)} = J_\sigma^{T} H_C J_\sigma"),
    "curvature step": ("Omega^(l) = (dz^(l+1)/dz^(l))^T Omega^(l+1) dz^(l+1)/dz^(l) "
                       "(Gauss-Newton: no residual)",
                       r"\Omega^{(l)} = B_l^{T} H_C B_l"),
}

"""The per-layer lemmas of second order, in layered symbols: each step of a program checked
against SymPy's derivatives of that layer's own map.

Curvature (the Hessian's program, and with ``residual=False`` the Gauss–Newton program):

- Ω_L = ∂²C/∂z_L² from the cost's formula through σ_L (Gauss–Newton: J_σᵀ (∂²C/∂s²) J_σ);
- Ω_l = Σ_(i,i') Ω_(l+1),ii' ∂z_(l+1),i/∂z_l ∂z_(l+1),i'/∂z_l + Σ_i δ_(l+1),i ∂²z_(l+1),i/∂z_l²,
  the chain rule twice through z_(l+1) = W_(l+1) σ(z_l) + b_(l+1) (Gauss–Newton: without
  the second sum);
- Γ_l = ∂δ_l/∂θ_(≥l): Σ_i Ω_l,ri ∂z_l,i/∂θ_l in the columns of θ_l, and the derivative of
  δ_l = Σ_i δ_(l+1),i ∂z_(l+1),i/∂z_l by θ_(>l), given Γ_(l+1) = ∂δ_(l+1)/∂θ_(>l);
- the block row ∂²C/∂θ_l ∂θ_(≥l) = Σ_i Γ_l,ip ∂z_l,i/∂θ_l + Σ_i δ_l,i ∂²z_l,i/∂θ_l ∂θ_(≥l).

The R-operator, with D_v the derivative along the direction v (ż, δ̇, V, v_b the tangents of
z, δ, W, b): ż_l = D_v z_l, δ̇_l = D_v δ_l, (H v)_(θ_l) = D_v ∂C/∂θ_l.

σ' differentiates to the opaque σ'' throughout (``curvature.curving``), so each lemma holds
for every σ; the σ'' lemma ties σ'' to a concrete activation.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from ..core import curvature
from ..core.routes import differentiate
from .exact import Exact
from .lemmas import Lemma, _as_activation, _check, _missing, affine, pullback


def _d(expr: sp.Expr, s: sp.Symbol, acts) -> sp.Expr:
    return curvature.plain(differentiate(curvature.curving(expr, acts), s))


def _acts(d) -> list:
    return [d.net.activation(l) for l in d.layers]


def _sigma(d, l: int) -> list[sp.Expr]:
    return d.net.activation(l).apply(list(d.z_symbols(l)))


def _cost_of_z(d) -> sp.Expr:
    L = d.L
    return d.net.cost_entry.formula(_sigma(d, L), list(d.y))


def _z_next(d, l: int) -> list[sp.Expr]:
    """z_(l+1) as a function of z_l: W_(l+1) σ(z_l) + b_(l+1)."""
    return affine(d, l + 1, _sigma(d, l))


def _of_z(d, l: int, value: sp.Matrix) -> sp.Matrix:
    return value.xreplace(_as_activation(d, l))


# ---------------------------------------------------------------- curvature


def _output_truth(d, residual: bool) -> sp.Matrix:
    """∂²C/∂z_L² (residual) or the Gauss–Newton part J_σᵀ (∂²C/∂s²) J_σ."""
    L, acts = d.L, _acts(d)
    z = list(d.z_symbols(L))
    if residual or curvature.absorbs_output(d.net.cost_entry):
        C = _cost_of_z(d)
        first = [differentiate(C, zk) for zk in z]
        return sp.Matrix(len(z), len(z), lambda j, k: _d(first[int(j)], z[int(k)], acts))
    a = list(d.a_symbols(L))
    C = d.net.cost_entry.formula(a, list(d.y))
    H = sp.Matrix(len(a), len(a), lambda j, k: differentiate(differentiate(C, a[int(j)]),
                                                            a[int(k)]))
    J = sp.Matrix(_sigma(d, L)).jacobian(z)
    return (J.T * H * J).xreplace(_as_activation(d, L))


def curvature_lemma(d, t, l: int, residual: bool = True, session: Exact | None = None) -> Lemma:
    """Ω_l of the program against the chain rule (twice) of SymPy's derivatives."""
    name = f"Omega_{l}"
    what = "d2C/dz_{l}^2" if residual else "B_{l}^T H_C B_{l}"
    if l == d.L:
        statement = f"Omega_{l} = {what.format(l=l)}"
        latex = (rf"\Omega_{{{l}}} = \partial^2 C/\partial z_{{{l}}}^2" if residual else
                 rf"\Omega_{{{l}}} = J_\sigma^{{T}} H_C J_\sigma")
    else:
        statement = (f"Omega_{l} = (dz_{l + 1}/dz_{l})^T Omega_{l + 1} (dz_{l + 1}/dz_{l})"
                     + (f" + sum_i delta_{l + 1},i d2z_{l + 1},i/dz_{l}^2" if residual else ""))
        latex = (rf"\Omega_{{{l}}} = \Bigl(\frac{{\partial z_{{{l + 1}}}}}{{\partial z_{{{l}}}}}"
                 rf"\Bigr)^{{T}} \Omega_{{{l + 1}}} \frac{{\partial z_{{{l + 1}}}}}"
                 rf"{{\partial z_{{{l}}}}}" + (rf" + \sum_i \delta^{{({l + 1})}}_i "
                                                rf"\frac{{\partial^2 z^{{({l + 1})}}_i}}"
                                                rf"{{\partial z_{{{l}}}^2}}" if residual else ""))
    if l not in t.curvature:
        return _missing(name, statement, latex, l)
    if l == d.L:
        truth = _output_truth(d, residual)
    else:
        acts, z = _acts(d), list(d.z_symbols(l))
        nxt = _z_next(d, l)
        J = sp.Matrix(len(nxt), len(z), lambda i, k: differentiate(nxt[int(i)], z[int(k)]))
        truth = J.T * d.curvature_symbols(l + 1) * J
        if residual:
            delta = list(d.delta_symbols(l + 1))
            truth += sp.Matrix(len(z), len(z), lambda j, k: sp.Add(*[
                delta[i] * _d(J[i, int(j)], z[int(k)], acts) for i in range(len(nxt))]))
    return _check(name, statement, latex, _of_z(d, l, t.curvature[l]), truth, l, session)


def cross_lemma(d, t, l: int, residual: bool = True, session: Exact | None = None) -> Lemma:
    """Γ_l of the program against ∂δ_l/∂θ_(≥l) (Gauss–Newton: the same chain without the
    residual ∂W_(l+1)ᵀ/∂θ)."""
    name = f"Gamma_{l}"
    statement = f"Gamma_{l} = d delta_{l}/d theta_(>={l})"
    latex = rf"\Gamma_{{{l}}} = \partial \delta_{{{l}}}/\partial \theta_{{\ge {l}}}"
    if l not in t.cross:
        return _missing(name, statement, latex, l)
    z = affine(d, l, list(d.a_symbols(l - 1)))
    own = d.parameters(l)
    Om = d.curvature_symbols(l)
    truth = sp.Matrix(Om.rows, len(own), lambda r, c: sp.Add(*[
        Om[int(r), i] * differentiate(z[i], own[int(c)]) for i in range(len(z))]))
    if l < d.L:
        acts, zl = _acts(d), list(d.z_symbols(l))
        nxt = _z_next(d, l)
        delta, G = list(d.delta_symbols(l + 1)), d.cross_symbols(l + 1)
        above = [p for m in range(l + 1, d.L + 1) for p in d.parameters(m)]
        J = sp.Matrix(len(nxt), len(zl), lambda i, k: differentiate(nxt[int(i)], zl[int(k)]))

        def entry(k: int, c: int) -> sp.Expr:
            terms = [G[i, c] * J[i, k] for i in range(len(nxt))]
            if residual:
                terms += [delta[i] * _d(J[i, k], above[c], acts) for i in range(len(nxt))]
            return sp.Add(*terms)

        truth = truth.row_join(sp.Matrix(len(zl), len(above), lambda k, c: entry(int(k), int(c))))
    return _check(name, statement, latex, _of_z(d, l, t.cross[l]), truth, l, session)


def row_lemma(d, t, l: int, session: Exact | None = None) -> Lemma:
    """The block row J_lᵀ Γ_l against Σ_i Γ_l,ip ∂z_l,i/∂q + Σ_i δ_l,i ∂²z_l,i/∂q ∂p."""
    name = f"row_{l}"
    statement = f"d2C/d theta_{l} d theta_(>={l}) = (dz_{l}/d theta_{l})^T Gamma_{l}"
    latex = (rf"\frac{{\partial^2 C}}{{\partial \theta_{{{l}}}\, \partial \theta_{{\ge {l}}}}}"
             rf" = \Bigl(\frac{{\partial z_{{{l}}}}}{{\partial \theta_{{{l}}}}}\Bigr)^{{T}}"
             rf" \Gamma_{{{l}}}")
    if l not in t.rows:
        return _missing(name, statement, latex, l)
    z = affine(d, l, list(d.a_symbols(l - 1)))
    rows = d.parameters(l)
    cols = [p for m in range(l, d.L + 1) for p in d.parameters(m)]
    G, delta = d.cross_symbols(l), list(d.delta_symbols(l))
    first = [[differentiate(zi, q) for q in rows] for zi in z]
    truth = sp.Matrix(len(rows), len(cols), lambda r, c: sp.Add(*[
        G[i, int(c)] * first[i][int(r)] + delta[i] * differentiate(first[i][int(r)],
                                                                    cols[int(c)])
        for i in range(len(z))]))
    return _check(name, statement, latex, t.rows[l], truth, l, session)


# ---------------------------------------------------------------- the R-operator


def _along(d, expr: sp.Expr, pairs: Sequence[tuple[sp.Symbol, sp.Expr]]) -> sp.Expr:
    """D_v expr = Σ ∂expr/∂s ṡ over the (symbol, tangent) pairs, σ' to the opaque σ''."""
    acts = _acts(d)
    return sp.Add(*[_d(expr, s, acts) * ds for s, ds in pairs if expr.has(s)])


def _parameter_pairs(d, l: int) -> list[tuple[sp.Symbol, sp.Expr]]:
    return list(zip(d.parameters(l), d.direction(l)))


def tangent_lemma(d, t, l: int, session: Exact | None = None) -> Lemma:
    """ż_l = D_v z_l for z_l = W_l σ(z_(l-1)) + b_l (z_1 = W_1 x + b_1)."""
    name = f"zdot_{l}"
    statement = f"zdot_{l} = D_v z_{l}"
    latex = rf"\dot z_{{{l}}} = D_v z_{{{l}}}"
    if l not in t.tangent:
        return _missing(name, statement, latex, l)
    below = list(d.x) if l == 1 else _sigma(d, l - 1)
    z = affine(d, l, below)
    pairs = _parameter_pairs(d, l)
    if l > 1:
        pairs += list(zip(d.z_symbols(l - 1), d.tangent_symbols(l - 1)))
    truth = sp.Matrix([_along(d, zi, pairs) for zi in z])
    value = t.tangent[l] if l == 1 else _of_z(d, l - 1, t.tangent[l])
    return _check(name, statement, latex, value, truth, l, session)


def tangent_delta_lemma(d, t, l: int, session: Exact | None = None) -> Lemma:
    """δ̇_l = D_v δ_l, δ_L = ∂C/∂z_L and δ_l = Σ_i δ_(l+1),i ∂z_(l+1),i/∂z_l."""
    name = f"deltadot_{l}"
    statement = f"deltadot_{l} = D_v delta_{l}"
    latex = rf"\dot\delta_{{{l}}} = D_v \delta_{{{l}}}"
    if l not in t.tangent_delta:
        return _missing(name, statement, latex, l)
    z = list(d.z_symbols(l))
    pairs: list[tuple[sp.Symbol, sp.Expr]] = list(zip(z, d.tangent_symbols(l)))
    if l == d.L:
        delta = pullback([_cost_of_z(d)], z, [1])
    else:
        delta = pullback(_z_next(d, l), z, list(d.delta_symbols(l + 1)))
        pairs += list(zip(d.weights(l + 1), d.direction_weights(l + 1)))
        pairs += list(zip(d.delta_symbols(l + 1), d.tangent_delta_symbols(l + 1)))
    truth = sp.Matrix([_along(d, e, pairs) for e in delta])
    return _check(name, statement, latex, _of_z(d, l, t.tangent_delta[l]), truth, l, session)


def hvp_lemma(d, t, l: int, wrt: str, session: Exact | None = None) -> Lemma:
    """(H v)_(W_l) = D_v (δ_l a_(l-1)ᵀ) and (H v)_(b_l) = D_v δ_l, a_(l-1) = σ(z_(l-1))."""
    name = f"Hv_{wrt}{l}"
    statement = f"(H v)_{wrt}_{l} = D_v dC/d{wrt}_{l}"
    latex = rf"(H v)_{{{wrt}_{{{l}}}}} = D_v \frac{{\partial C}}{{\partial {wrt}_{{{l}}}}}"
    table = t.weight if wrt == "W" else t.bias
    if l not in table:
        return _missing(name, statement, latex, l)
    params = d.weights(l) if wrt == "W" else d.biases(l)
    below = list(d.x) if l == 1 else _sigma(d, l - 1)
    gradient = pullback(affine(d, l, below), list(params), list(d.delta_symbols(l)))
    pairs = list(zip(d.delta_symbols(l), d.tangent_delta_symbols(l)))
    if l > 1:
        pairs += list(zip(d.z_symbols(l - 1), d.tangent_symbols(l - 1)))
    truth = sp.Matrix([_along(d, e, pairs) for e in gradient]).reshape(*params.shape)
    value = table[l] if l == 1 else _of_z(d, l - 1, table[l])
    return _check(name, statement, latex, value, truth, l, session)

"""The construction's lemmas for a layer of any kind, from the kind's own vector-Jacobian
products: what each factor of a chain must be, built without differentiating the layer's map.

A kind's VJPs are linear in what they read (δ = ∂C/∂z and g = ∂C/∂a), so their coefficients
are the layer's Jacobians: the coefficient of δ_j in ``input_vjp``'s entry k is ∂z_j/∂x_k, the
coefficient of g_i in ``skip_vjp``'s is ∂skip_i/∂x_k, and so for each parameter's VJP. With
A = ∂a/∂z (the registered Jacobian of σ), the chain's factors must be

    ∂a_i/∂x_k = Σ_j A_ij ∂z_j/∂x_k + ∂skip_i/∂x_k,   ∂a_i/∂θ_p = Σ_j A_ij ∂z_j/∂θ_p + ∂skip_i/∂θ_p,

which is the recursion's own step (δ = Aᵀ g, then the VJPs) read backwards: the lemmas that
prove the recursion prove these VJPs equal to the chain rule through the kind's maps.
"""

from __future__ import annotations

import sympy as sp

from ..core import layers
from ..core.derivation import Derivation

Entries = dict[tuple[int, int], sp.Expr]


def untaken(r: layers.Resolved) -> str:
    """Why the construction cannot read layer ``r``'s chain factors off its VJPs ("" where it
    can): a state read through time (the factors are the steps unrolled), or a pooling whose
    pass back picks its window's entry by the values before pooling (not a symbol here)."""
    if r.maps.pre.own is not None:
        return "reads its own state through time"
    post = r.maps.delta_from_g
    if post is not None and any(t.name != "g" for t in post.inputs):
        return "passes back through the maximum of each pooling window"
    return ""


def _coefficients(d: Derivation, l: int, which: str) -> list[dict[sp.Symbol, sp.Expr]]:
    """Each entry of layer l's VJP ``which`` as its coefficients of δ_l's and g_l's symbols
    (the VJP evaluated on those symbols, at this network's sizes)."""
    r = d.net.resolved[l - 1]
    if why := untaken(r):
        raise ValueError(f"the construction does not take layer {l} ({r.kind.name}): it "
                         f"{why}; use method expand or local")
    m = dict(r.maps.all())[which]
    read = {"delta": list(d.delta_symbols(l)), "g": list(d.grad_symbols(l)),
            r.maps.x.name: list(d.a_symbols(l - 1))}
    values = {tensor.name: _flat(read[tensor.name], tensor.shape(r.sizes))
              for tensor in m.inputs}
    values.update(_parameter_values(d, l))
    symbols = {*read["delta"], *read["g"]}
    return [linear_coefficients(sp.expand(entry), symbols)
            for entry in m.entries(r.sizes, values)]


def linear_coefficients(expanded: sp.Expr, symbols: set) -> dict[sp.Symbol, sp.Expr]:
    """``{s: expanded.coeff(s)}`` for the symbols with a nonzero coefficient, in one pass over
    the terms instead of one per symbol: a term's factor s (to the first power) puts the
    rest of the term into s's coefficient, as ``coeff`` does."""
    parts: dict[sp.Symbol, list[sp.Expr]] = {}
    for term in sp.Add.make_args(expanded):
        factors = sp.Mul.make_args(term)
        for k, f in enumerate(factors):
            if f in symbols:
                parts.setdefault(f, []).append(sp.Mul(*factors[:k], *factors[k + 1:]))
    found = {s: sp.Add(*terms) for s, terms in parts.items()}
    return {s: c for s, c in found.items() if c != 0}


def _parameter_values(d: Derivation, l: int) -> dict:
    r = d.net.resolved[l - 1]
    params = d.layer_parameters(l)
    return {p.name: _in_matrix(params[p.name], p.shape(r.sizes)) for p in r.maps.params}


def _flat(v: list, shape: tuple[int, ...]):
    return lambda i: v[layers.flat(i, shape)]


def _in_matrix(M: sp.Matrix, shape: tuple[int, ...]):
    return lambda i: M[layers.as_matrix_index(i, shape)]


def _through(d: Derivation, l: int, A: Entries, which: tuple[str, ...]) -> Entries:
    """Σ_j A_ij (coefficient of δ_j) + (coefficient of g_i), over the VJPs ``which``, entry k
    of each VJP a column."""
    delta, g = list(d.delta_symbols(l)), list(d.grad_symbols(l))
    A = _after_post(d, l, A)
    rows: dict[int, list[tuple[int, sp.Expr]]] = {}
    for (i, j), value in A.items():
        rows.setdefault(i, []).append((j, value))
    want: Entries = {}
    for name in which:
        for k, coefficients in enumerate(_coefficients(d, l, name)):
            for i in range(len(g)):
                total = sp.Add(*[value * coefficients.get(delta[j], sp.S.Zero)
                                 for j, value in rows.get(i, [])],
                               coefficients.get(g[i], sp.S.Zero))
                if total != 0:  # the VJPs' parts add up: the layer's map and its skip
                    want[(i, k)] = want[(i, k)] + total if (i, k) in want else total
    return want


def _after_post(d: Derivation, l: int, A: Entries) -> Entries:
    """∂a/∂z = ∂post/∂s · A when the kind has a map after σ (pooling): the coefficient of g_i
    in the post map's VJP entry u is ∂a_i/∂s_u."""
    if d.net.resolved[l - 1].maps.delta_from_g is None:
        return A
    g = list(d.grad_symbols(l))
    post = _coefficients(d, l, "delta_from_g")
    through: Entries = {}
    for (u, j), value in A.items():
        for i, symbol in enumerate(g):
            if (c := post[u].get(symbol)) is not None:
                term = c * value
                through[(i, j)] = through[(i, j)] + term if (i, j) in through else term
    return through


def input_factor(d: Derivation, l: int, A: Entries) -> Entries:
    """∂a_l/∂a_(l-1) from layer l's ``input_vjp`` (and ``skip_vjp``)."""
    r = d.net.resolved[l - 1]
    return _through(d, l, A, ("input_vjp",) + (("skip_vjp",) if r.maps.skip_vjp else ()))


def parameter_factor(d: Derivation, l: int, name: str, A: Entries) -> Entries:
    """∂a_l/∂θ_l, one column per entry of θ_l in row-major order, from θ's VJP."""
    return _through(d, l, A, (name,))


def forward_maps(d: Derivation, l: int, inputs: list, pre: list) -> tuple[list, list]:
    """Layer l's pre-activation on ``inputs``, and its output from the pre-activation
    ``pre`` and ``inputs``: the kind's maps, for the forward pass's check."""
    r = d.net.resolved[l - 1]
    params, apply = d.layer_parameters(l), d.net.activation(l).apply
    z, _ = layers.forward(r, inputs, params, apply)
    return z, layers.output(r, pre, inputs, params, apply)

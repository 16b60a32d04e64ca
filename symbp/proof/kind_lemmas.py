"""The general theorem's lemmas for any layer kind, built from the kind's own maps.

A kind writes its maps in its own tensors (x, z, W, ...) and size symbols; at a layer e of
the theorem they become the layered entries the recursion is traced in: x is a^{(e-1)},
z is z^{(e)}, δ is δ^{(e)}, g is g^{(e)}, a parameter θ is θ^{(e)}, and the sizes the
kind's ``symbolic`` gives at e. From the maps comes the truth every bound quantity is
compared with, by the chain rule through exactly one layer:

- g^{(e)} = ∂C/∂a^{(e)}: the cost's gradient at L; below, what layer e + 1 passes back,
  Σ_i δ^{(e+1)}_i ∂z^{(e+1)}_i/∂a^{(e)}_k (+ Σ_i g^{(e+1)}_i ∂skip_i/∂a^{(e)}_k where its skip
  passes g back), given that layer's δ and g;
- δ^{(e)} = ∂C/∂z^{(e)} = Σ_j g^{(e)}_j ∂a^{(e)}_j/∂z^{(e)}_k (g its bound symbol where the
  layer binds it, else the expression above);
- ∂C/∂θ^{(e)} = Σ_i δ^{(e)}_i ∂z^{(e)}_i/∂θ (+ Σ_j g^{(e)}_j ∂skip_j/∂θ for a skip's own θ).

Each is an ``general.Identity``, decided as every lemma of the theorem is.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from ..core import registry
from ..core.layers import Maps
from .general import Identity, cost_term
from .indexed import DELTA, DEPTH, WIDTH, A, G, Z, fresh, kind_base

Width = Callable[[sp.Expr], sp.Expr]


def _sizes(maps: Maps, e: sp.Expr, width: Width) -> dict:
    return maps.symbolic(width(e - 1), width(e))


def relabel(expr: sp.Expr, maps: Maps, e: sp.Expr, width: Width) -> sp.Expr:
    """A kind's formula at layer e of the theorem, in its layered entries and sizes."""
    where = {maps.x.base: (A, e - 1), maps.z.base: (Z, e), maps.a.base: (A, e),
             sp.IndexedBase("delta"): (DELTA, e), sp.IndexedBase("g"): (G, e)}
    where.update({p.base: (kind_base(p.name), e) for p in maps.params})

    def value(entry: sp.Indexed) -> sp.Expr:
        base, layer = where[entry.base]
        return base[(layer, *entry.indices)]

    expr = _fresh_bound(expr.xreplace(_sizes(maps, e, width)))
    return expr.replace(lambda x: isinstance(x, sp.Indexed) and x.base in where, value)


def _fresh_bound(expr: sp.Expr) -> sp.Expr:
    """Every index a sum binds renamed to a fresh one: the kind's k must not be the lemma's."""
    for s in expr.atoms(sp.Sum):
        renamed = {index: fresh() for index, _, _ in s.limits}
        expr = expr.xreplace({s: s.xreplace(renamed)})
    return expr


def _map_at(m, maps: Maps, e: sp.Expr, width: Width, index: tuple) -> sp.Expr:
    return relabel(m.formula.xreplace(dict(zip(m.index, index))), maps, e, width)


def output(maps: Maps, e: sp.Expr, j: sp.Expr, act: registry.Activation,
           width: Width) -> sp.Expr:
    """a^{(e)}_j: σ of z^{(e)}_j, plus the skip's entry j."""
    if not act.elementwise:
        raise ValueError(f"the {act.name} activation is not elementwise: a layer kind's "
                         "lemmas take an elementwise σ")
    value = act.function(Z[e, j])
    if maps.post is not None:
        raise ValueError("a kind with a map after its activation needs its own lemmas")
    if maps.skip is not None:
        value += _map_at(maps.skip, maps, e, width, (j,))
    return value


def passed_back(maps_above: Maps, e: sp.Expr, k: sp.Expr, width: Width,
                binds_g: bool) -> sp.Expr:
    """Σ_i δ^{(e+1)}_i ∂z^{(e+1)}_i/∂a^{(e)}_k (+ the skip's part): ∂C/∂a^{(e)}_k by the chain
    rule through layer e + 1, given its δ (and g)."""
    i = fresh()
    above = e + 1
    z = _map_at(maps_above.pre, maps_above, above, width, (i,))
    total = sp.Sum(DELTA[above, i] * z.diff(A[e, k]), (i, 1, width(above)))
    if maps_above.skip is not None and binds_g:
        skip = _map_at(maps_above.skip, maps_above, above, width, (i,))
        total += sp.Sum(G[above, i] * skip.diff(A[e, k]), (i, 1, width(above)))
    return total


def cost_gradient(cost: registry.Cost, k: sp.Expr, width: Width) -> sp.Expr:
    """∂C/∂a^{(L)}_k from the cost's formula, C = Σ_j c(a^{(L)}_j, y_j)."""
    j = fresh()
    return sp.Sum(cost_term(cost, j), (j, 1, width(DEPTH))).diff(A[DEPTH, k])


def delta_truth(maps: Maps, e: sp.Expr, k: sp.Expr, g: Callable[[sp.Expr], sp.Expr],
                act: registry.Activation, width: Width) -> sp.Expr:
    """Σ_j g_j ∂a^{(e)}_j/∂z^{(e)}_k."""
    j = fresh()
    return sp.Sum(g(j) * output(maps, e, j, act, width).diff(Z[e, k]), (j, 1, width(e)))


def parameter_truth(maps: Maps, e: sp.Expr, name: str, index: tuple,
                    g: Callable[[sp.Expr], sp.Expr], width: Width) -> sp.Expr:
    """Σ_i δ^{(e)}_i ∂z^{(e)}_i/∂θ (+ Σ_j g_j ∂skip_j/∂θ) for θ = entry ``index`` of ``name``."""
    target = kind_base(name)[(e, *index)]
    i = fresh()
    z = _map_at(maps.pre, maps, e, width, (i,))
    size = maps.z.axes[0].xreplace(_sizes(maps, e, width))
    total = sp.Sum(DELTA[e, i] * z.diff(target), (i, 1, size))
    if maps.skip is not None:
        skip = _map_at(maps.skip, maps, e, width, (i,))
        if skip.has(target.base):
            total += sp.Sum(g(i) * skip.diff(target), (i, 1, width(e)))
    return total


def identity(lhs: sp.Expr, rhs: sp.Expr, ranges: dict) -> Identity:
    """lhs = rhs for the free indices in ``ranges``; the widths are those the sides involve."""
    widths = sorted({w for side in (lhs, rhs) for w in sp.sympify(side).atoms(sp.Indexed)
                     if w.base == WIDTH} | {w for r in ranges.values() for w in
                                            sp.sympify(r[1]).atoms(sp.Indexed)},
                    key=sp.default_sort_key)
    return Identity(lhs, rhs, ranges, widths)


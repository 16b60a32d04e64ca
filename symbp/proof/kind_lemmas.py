"""The general theorem's lemmas for any layer kind, built from the kind's own maps.

A kind writes its maps in its own tensors (x, z, W, ...) and size symbols; at a layer e of
the theorem they become the layered entries the recursion is traced in: x is a^{(e-1)},
z is z^{(e)}, δ is δ^{(e)}, g is g^{(e)}, a parameter θ is θ^{(e)}, and the sizes are those
the kind's ``symbolic`` gives at e (``Layers``). A tensor of several axes (channels ×
positions) keeps them: its entries are a^{(e)}_{c,u}, and a sum over it is one sum per axis.
From the maps comes the truth every bound quantity is compared with, by the chain rule
through exactly one layer:

- g^{(e)} = ∂C/∂a^{(e)}: the cost's gradient at L; below, what layer e + 1 passes back,
  Σ_i δ^{(e+1)}_i ∂z^{(e+1)}_i/∂a^{(e)}_k (+ Σ_i g^{(e+1)}_i ∂skip_i/∂a^{(e)}_k where its skip
  passes g back), given that layer's δ and g;
- δ^{(e)} = ∂C/∂z^{(e)} = Σ_j g^{(e)}_j ∂a^{(e)}_j/∂z^{(e)}_k, a^{(e)} = post(σ(z^{(e)})) + skip
  (g its bound symbol where the layer binds it, else the expression above);
- ∂C/∂θ^{(e)} = Σ_i δ^{(e)}_i ∂z^{(e)}_i/∂θ (+ Σ_j g^{(e)}_j ∂skip_j/∂θ for a skip's own θ).

Each is an ``general.Identity``, decided as every lemma of the theorem is, and also by the
normal form of ``affine_sums`` (a convolution's shifted and reflected indices).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy as sp

from ..core import registry
from ..core.layers.symbolic import FAMILIES
from . import affine_sums
from .general import Identity, cost_term
from .index_entries import (
    DELTA,
    A,
    G,
    Y,
    Z,
    fresh,
    fresh_bound,
    kind_base,
    replace_entries,
    softmax_unit,
)
from .indexed import DEPTH
from .row_softmax import RowSoftmax, opaque, written_softmax

Index = tuple[sp.Expr, ...]
INSTANCES = 100  # combinations of sizes a lemma is also written out at: every size 1..4 for
#                  up to 3 sizes, 1..3 for 4, 1..2 for 5 and 6


class Layers:
    """The theorem's layers as the lemmas read them: each layer's maps and sizes
    (``structure(e)``, a ``core.generic.Structure``) and the shape of each a^{(e)}."""

    def __init__(self, structure: Callable[[sp.Expr], Any],
                 shape: Callable[[sp.Expr], tuple[sp.Expr, ...]], remember: bool = False):
        self.structure, self.shape = structure, shape
        # each map relabelled at a layer once (``_map_at``), where ``structure`` gives one
        # layer's maps and sizes every time it is asked (one case of the recorded recursion)
        self.relabelled: dict | None = {} if remember else None

    def maps(self, e: sp.Expr) -> Any:
        return self.structure(e).maps

    def axes(self, e: sp.Expr, tensor: Any) -> tuple[sp.Expr, ...]:
        """One of layer e's tensors' axes at its sizes."""
        sizes = self.structure(e).sizes
        return tuple(sp.expand(sp.sympify(a).xreplace(sizes)) for a in tensor.axes)

    def z_shape(self, e: sp.Expr) -> tuple[sp.Expr, ...]:
        return self.axes(e, self.maps(e).z)


def relabel(expr: sp.Expr, layers: Layers, e: sp.Expr) -> sp.Expr:
    """A kind's formula at layer e of the theorem, in its layered entries and sizes."""
    maps = layers.maps(e)
    where = {maps.x.base: (A, e - 1), maps.z.base: (Z, e), maps.a.base: (A, e),
             sp.IndexedBase("delta"): (DELTA, e), sp.IndexedBase("g"): (G, e)}
    where.update({p.base: (kind_base(p.name), e) for p in maps.params})

    def value(entry: sp.Indexed) -> sp.Expr:
        base, layer = where[entry.base]
        return base[(layer, *entry.indices)]

    expr = fresh_bound(expr.xreplace(layers.structure(e).sizes))
    expr = replace_entries(expr, where, value)
    return opaque(expr)  # a softmax over a row (attention's) as one entry, before any diff


def _map_at(m: Any, layers: Layers, e: sp.Expr, index: Index) -> sp.Expr:
    """Entry ``index`` of map m at layer e (its sums' indices fresh first: the kind's k must
    not capture the lemma's). Where ``layers`` remembers, m is relabelled at e once, at its
    own index; each entry is that with the index put in and every Dummy (all bound, made by
    the relabelling) renamed to a fresh one, in their order: the same formula, its sums'
    indices apart from every other entry's."""
    if layers.relabelled is None:
        return relabel(fresh_bound(m.formula).xreplace(dict(zip(m.index, index))), layers, e)
    key = (m.formula, m.index, e)
    if key not in layers.relabelled:
        at = relabel(fresh_bound(m.formula), layers, e)
        layers.relabelled[key] = at, sorted(at.atoms(sp.Dummy), key=lambda d: d.dummy_index)
    at, bound = layers.relabelled[key]
    return at.xreplace({**dict(zip(m.index, index)), **{d: fresh() for d in bound}})


def _sum(body: sp.Expr, index: Index, shape: tuple[sp.Expr, ...]) -> sp.Expr:
    return sp.Sum(body, *[(i, 1, n) for i, n in zip(index, shape)])


def output(layers: Layers, e: sp.Expr, j: Index, act: registry.Activation) -> sp.Expr:
    """a^{(e)}_j: σ of z^{(e)}, through the map after it (pooling), plus the skip's entry j."""
    maps = layers.maps(e)
    if not act.elementwise:
        if len(j) != 1 or maps.post is not None or maps.skip is not None:
            raise ValueError(f"the {act.name} activation mixes the entries of its layer: a "
                             "layer kind's lemmas take it on a layer of one axis, with no map "
                             "after it and no skip (a dense output), and an elementwise σ "
                             "elsewhere")
        # opaque: only its derivative is read, the registered Jacobian's entry in the
        # layer's a^{(e)} (= act(z^{(e)}) by definition), which the function lemmas tie to
        # the formula for every width; the recursion's steps read a^{(e)} too
        return softmax_unit(act, lambda layer, i: A[layer, i])(Z, e, j[0])
    if maps.post is None:
        value = act.function(Z[(e, *j)])
    else:
        s = maps.post.inputs[0].base  # σ(z), what the post map reads
        value = replace_entries(_map_at(maps.post, layers, e, j), {s},
                                lambda x: act.function(Z[(e, *x.indices)]))
    if maps.skip is not None:
        value += _map_at(maps.skip, layers, e, j)
    return value


def passed_back(layers: Layers, e: sp.Expr, k: Index, binds_g: bool) -> sp.Expr:
    """Σ_i δ^{(e+1)}_i ∂z^{(e+1)}_i/∂a^{(e)}_k (+ the skip's part): ∂C/∂a^{(e)}_k by the chain
    rule through layer e + 1, given its δ (and g)."""
    above = e + 1
    maps = layers.maps(above)
    i = tuple(fresh() for _ in maps.z.axes)
    z = _map_at(maps.pre, layers, above, i)
    total = _sum(DELTA[(above, *i)] * z.diff(A[(e, *k)]), i, layers.z_shape(above))
    if maps.skip is not None and binds_g:
        i = tuple(fresh() for _ in maps.a.axes)
        skip = _map_at(maps.skip, layers, above, i)
        total += _sum(G[(above, *i)] * skip.diff(A[(e, *k)]), i, layers.shape(above))
    return total


def cost_gradient(cost: registry.Cost, k: Index, layers: Layers) -> sp.Expr:
    """∂C/∂a^{(L)}_k from the cost's formula, C = Σ_j c(a^{(L)}_j, y_j) (a sum per axis where
    the output has several: the cost reads every entry)."""
    shape = layers.shape(DEPTH)
    j = tuple(fresh() for _ in shape)
    term = cost_term(cost, j[0])
    if len(j) > 1:
        term = term.xreplace({A[DEPTH, j[0]]: A[(DEPTH, *j)], Y[j[0]]: Y[j]})
    return _sum(term, j, shape).diff(A[(DEPTH, *k)])


def delta_truth(layers: Layers, e: sp.Expr, k: Index, g: Callable[[Index], sp.Expr],
                act: registry.Activation) -> sp.Expr:
    """Σ_j g_j ∂a^{(e)}_j/∂z^{(e)}_k; for a pre map that reads its own state one step back
    (a scan), plus Σ_i δ^{(e)}_i ∂z^{(e)}_i/∂z^{(e)}_k through that one step."""
    shape = layers.shape(e)
    j = tuple(fresh() for _ in shape)
    truth = _sum(g(j) * output(layers, e, j, act).diff(Z[(e, *k)]), j, shape)
    maps = layers.maps(e)
    if maps.pre.own is not None:
        i = tuple(fresh() for _ in maps.z.axes)
        z = stepped(_map_at(maps.pre, layers, e, i), maps, e, act)
        truth += _sum(DELTA[(e, *i)] * z.diff(Z[(e, *k)]), i, layers.z_shape(e))
    return truth


def stepped(z: sp.Expr, maps: Any, e: sp.Expr, act: registry.Activation | None) -> sp.Expr:
    """A pre map's entry with its own read, the state one step back, as σ of z^{(e)} there."""
    if maps.pre.own is None or act is None:
        return z
    own = maps.pre.own.base
    return replace_entries(z, {own}, lambda x: act.function(Z[(e, *x.indices)]))


def parameter_truth(layers: Layers, e: sp.Expr, name: str, index: Index,
                    g: Callable[[Index], sp.Expr],
                    act: registry.Activation | None = None) -> sp.Expr:
    """Σ_i δ^{(e)}_i ∂z^{(e)}_i/∂θ (+ Σ_j g_j ∂skip_j/∂θ) for θ = entry ``index`` of ``name``
    (z through one step where its pre map reads its own state, ``act`` its σ)."""
    maps = layers.maps(e)
    target = kind_base(name)[(e, *index)]
    i = tuple(fresh() for _ in maps.z.axes)
    z = stepped(_map_at(maps.pre, layers, e, i), maps, e, act)
    total = _sum(DELTA[(e, *i)] * z.diff(target), i, layers.z_shape(e))
    if maps.skip is not None:
        i = tuple(fresh() for _ in maps.a.axes)
        skip = _map_at(maps.skip, layers, e, i)
        if skip.has(target.base):
            total += _sum(g(i) * skip.diff(target), i, layers.shape(e))
    return total


def identity(lhs: sp.Expr, rhs: sp.Expr, ranges: dict) -> Identity:
    """lhs = rhs for the free indices in ``ranges``; the sizes are those the sides involve."""
    sizes = sorted({w for side in (lhs, rhs, *[b for _, b in ranges.values()])
                    for w in sp.sympify(side).atoms(sp.Indexed) if w.base in FAMILIES},
                   key=sp.default_sort_key)
    largest = max(2, max(w for w in range(1, 5) if w ** len(sizes) <= INSTANCES))
    softmax = any(side.has(RowSoftmax) for side in (lhs, rhs))
    if softmax:
        largest = 2  # written out, a softmax over tokens grows as T³ d² d_k: sizes 1..2
    return Identity(lhs, rhs, ranges, sizes, decide=affine_sums.difference,
                    checked=tuple(range(1, largest + 1)),
                    explicit=written_softmax if softmax else None)

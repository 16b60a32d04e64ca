"""Layer l of a derivation's network as maps on layered symbols: z_l in a_(l-1) (and, for a
layer through time, in its own z one step back), the skip, a_l in z_l and the skip.

The data every reading of the layer's dependencies starts from: the per-network lemmas
(``proof.layer_lemmas``) differentiate it, the tree of dependencies of one parameter
(``figures.kinds_dependencies``) reads which entry depends on which.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from . import layers


def _lookup(M: sp.Matrix, shape: tuple[int, ...]) -> Callable[[tuple[int, ...]], sp.Expr]:
    return lambda i: M[layers.as_matrix_index(i, shape)]


class LayerMaps:
    """Layer l of a derivation's network: its maps on layered symbols."""

    def __init__(self, d, l: int):
        self.d, self.l = d, l
        self.r = d.net.resolved[l - 1]
        self.params = d.layer_parameters(l)
        a_in = list(d.a_symbols(l - 1))
        act = d.net.activation(l)
        maps, sizes = self.r.maps, self.r.sizes
        values: dict[str, Callable[[tuple[int, ...]], sp.Expr]] = {
            maps.x.name: lambda i: a_in[layers.flat(i, self.r.shape_in)]}
        for p in maps.params:
            values[p.name] = _lookup(self.params[p.name], p.shape(sizes))
        self.scans = maps.pre.own is not None
        if self.scans:  # z through one step: its own read is σ of z_l's symbols one step back
            own = act.apply(list(d.z_symbols(l)))
            z_shape = maps.z.shape(sizes)
            self.z = maps.pre.entries(sizes, {**values, maps.pre.own.name:  # type: ignore[union-attr]
                                              lambda i: own[layers.flat(i, z_shape)]})
        else:
            self.z, _ = layers.forward(self.r, a_in, self.params, act.apply)
        self.skip = maps.skip.entries(sizes, values) if maps.skip is not None else None
        s = act.apply(list(d.z_symbols(l)))
        if maps.post is not None:  # pooling: a = post(σ(z))
            s_shape = maps.z.shape(sizes)
            s = maps.post.entries(sizes, {maps.post.inputs[0].name:
                                          lambda i: s[layers.flat(i, s_shape)]})
        self.a_of_z = [e + (self.skip[j] if self.skip else 0) for j, e in enumerate(s)]

"""Paths of influence through a network of layer kinds: the seed's paths, now through skips,
pooling, shared kernels and steps through time.

An entry θ of a parameter reaches the cost along every path of dependencies from it to C: into
the entries of z_l (or, through a skip's own parameter, of a_l) whose map reads it, then from
entry to entry wherever the one depends on the other (a skip is an edge from a_(l-1) to a_l of
its own; a layer through time has edges from each step's z to the next step's), up to C. The
chain rule sums one product of local derivatives per path. The graph is read from each layer's
own maps (``proof.layer_lemmas.LayerMaps``: z_l in a_(l-1), a_l in z_l and the skip) at this
network's sizes, and the paths are counted entry by entry, the dynamic programming that
backpropagation is: each δ gathers every path from its entry to C once.

Each gradient needs only the first step of its paths: the entries θ enters, one term each
(``EntryPaths.enters``); the rest of every path is in their δ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp

from ..core.derivation import Derivation
from ..proof.layer_lemmas import LayerMaps


@dataclass(frozen=True)
class EntryPaths:
    """The first entry of one parameter of layer l: how many entries of the layer it enters
    directly (the terms of its gradient) and how many paths lead from it to C."""

    l: int
    name: str  # the parameter as the program names it: "W", "b", "P"
    enters: int  # entries of z_l (and of a_l, through a skip) whose map reads it
    paths: int


def _reads(exprs: Sequence[sp.Expr], symbols: Sequence[sp.Symbol]) -> list[list[int]]:
    """For each expression, the positions of the symbols it depends on."""
    where = {s: k for k, s in enumerate(symbols)}
    return [sorted(where[s] for s in e.free_symbols if s in where) for e in exprs]


class _Graph:
    """The network's dependency graph, entry by entry: for each layer l, which a_(l-1) each
    z_l entry reads, which z_l each a_l entry reads, and which a_(l-1) its skip adds."""

    def __init__(self, d: Derivation):
        self.d = d
        self.maps = {l: LayerMaps(d, l) for l in d.layers}
        self.z_reads, self.a_reads, self.skip_reads, self.own_reads = {}, {}, {}, {}
        for l, here in self.maps.items():
            a_in = list(d.a_symbols(l - 1))
            self.z_reads[l] = _reads(here.z, a_in)
            # a layer through time: z at step t reads σ of its own z one step back
            self.own_reads[l] = _reads(here.z, list(d.z_symbols(l))) if here.scans else None
            self.a_reads[l] = _reads(here.a_of_z, list(d.z_symbols(l)))
            self.skip_reads[l] = _reads(here.skip, a_in) if here.skip is not None else None
        cost = d.net.cost_entry.formula(list(d.a_symbols(d.L)), list(d.y))
        self.cost_reads = _reads([cost], list(d.a_symbols(d.L)))[0]

    def paths(self, l: int, theta: sp.Symbol) -> int:
        """Paths from ``theta`` (a parameter entry of layer l) to C, counted entry by entry."""
        here = self.maps[l]
        z = self._in_time(l, [int(e.has(theta)) for e in here.z])
        skip = [int(e.has(theta)) for e in here.skip] if here.skip is not None else None
        a = self._a(l, z, None, skip)
        for m in range(l + 1, self.d.L + 1):
            z = self._in_time(m, [sum(a[k] for k in reads) for reads in self.z_reads[m]])
            a = self._a(m, z, a, None)
        return sum(a[k] for k in self.cost_reads)

    def _in_time(self, m: int, z: list[int]) -> list[int]:
        """Paths to each z_m entry, with those that run through the layer's earlier steps
        (each z entry adds the counts of the entries one step back that it reads; the steps
        make no cycle, so one pass per entry reaches them all)."""
        own = self.own_reads[m]
        if own is None:
            return z
        counts = list(z)
        for _ in range(len(z)):
            updated = [z[i] + sum(counts[k] for k in reads) for i, reads in enumerate(own)]
            if updated == counts:
                break
            counts = updated
        return counts

    def _a(self, m: int, z: list[int], a_in: list[int] | None,
           own: list[int] | None) -> list[int]:
        """Paths to each a_m entry: through z_m, along the skip from a_(m-1), and from θ itself
        where the skip reads it (``own``)."""
        out = [sum(z[i] for i in reads) for reads in self.a_reads[m]]
        skips = self.skip_reads[m]
        if skips is not None and a_in is not None:
            out = [n + sum(a_in[k] for k in reads) for n, reads in zip(out, skips)]
        if own is not None:
            out = [n + o for n, o in zip(out, own)]
        return out


def entry_paths(d: Derivation) -> list[EntryPaths]:
    """The first entry of every parameter of every layer, counted."""
    graph = _Graph(d)
    found = []
    for l in d.layers:
        here = graph.maps[l]
        for name, M in d.layer_parameters(l).items():
            theta = M[0, 0]
            enters = sum(e.has(theta) for e in here.z)
            if here.skip is not None:
                enters += sum(e.has(theta) for e in here.skip)
            found.append(EntryPaths(l, name, enters, graph.paths(l, theta)))
    return found

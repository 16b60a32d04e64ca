"""Which entries depend on which, through a network of layer kinds: the tree of dependencies of
one parameter entry θ, through skips, pooling, shared kernels and steps through time.

An entry θ of a parameter of layer l reaches the cost along every path of dependencies from it
to C: into the entries of z_l (or, through a skip's own parameter, of a_l) whose map reads it,
then from entry to entry wherever the one depends on the other (a skip is an edge from a_(l-1)
to a_l of its own; a layer through time has edges from each step's z to the next step's), up
to C. Each edge is one factor of the chain rule, the local derivative of its head with respect
to its tail, and ∂C/∂θ is the sum over the paths of the product of the factors along each.

The graph is read from each layer's own maps on layered symbols (``core.layer_maps``) at this
network's sizes: an edge wherever the head's map reads the tail. ``count`` gathers the paths
entry by entry, the dynamic programming that backpropagation is. The documents' table of paths
(``document.kinds_paths``) and the drawing (``figures.kinds_graph``) both read this one graph.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from graphlib import TopologicalSorter

import sympy as sp

from ..core.derivation import Derivation
from ..core.layer_maps import LayerMaps

KINDS = ("theta", "z", "a", "C")  # the order of the quantities within one layer


@dataclass(frozen=True, order=True)
class Entry:
    """One node of the graph: θ itself, an entry of z_m or a_m (``position`` row-major, 0-based,
    in the tensor's shape), or the cost C."""

    layer: int  # l for θ, m for z and a, L + 1 for C
    kind: str  # "theta", "z", "a", "C"
    position: int = 0

    def sort_key(self) -> tuple[int, int, int]:
        return self.layer, KINDS.index(self.kind), self.position


@dataclass(frozen=True)
class Tree:
    """The entries on some path from θ to C, in an order where every edge runs forward, and the
    edges between them, each (tail, head)."""

    l: int
    name: str  # the parameter as the program names it: "W", "b", "P", "U"
    theta: sp.Symbol
    nodes: tuple[Entry, ...]
    edges: tuple[tuple[Entry, Entry], ...]

    @property
    def enters(self) -> int:
        """The entries θ enters directly: the terms of its gradient."""
        return sum(tail.kind == "theta" for tail, _ in self.edges)

    @property
    def paths(self) -> int:
        return count(self.nodes, self.edges)


def count(nodes: Sequence[Hashable], edges: Sequence[tuple[Hashable, Hashable]]) -> int:
    """Paths from the first node to the last: each node adds up the counts of its tails, in an
    order where every edge runs forward."""
    into: dict[Hashable, list[Hashable]] = {}
    for tail, head in edges:
        into.setdefault(head, []).append(tail)
    counts = {nodes[0]: 1}
    for node in nodes[1:]:
        counts[node] = sum(counts[t] for t in into.get(node, ()))
    return counts[nodes[-1]]


def _reads(exprs: Sequence[sp.Expr], symbols: Sequence[sp.Symbol]) -> list[list[int]]:
    """For each expression, the positions of the symbols it depends on."""
    where = {s: k for k, s in enumerate(symbols)}
    return [sorted(where[s] for s in e.free_symbols if s in where) for e in exprs]


class DependencyGraph:
    """A network's dependencies, entry by entry, read once from its layers' maps."""

    def __init__(self, d: Derivation):
        self.d = d
        self.maps = {l: LayerMaps(d, l) for l in d.layers}
        # head -> the tails it reads, per layer: z_m in a_(m-1) and (through time) in z_m one
        # step back; a_m in z_m and, along the skip, in a_(m-1)
        self.reads: dict[Entry, list[Entry]] = {}
        for m, here in self.maps.items():
            a_in, z_own = list(d.a_symbols(m - 1)), list(d.z_symbols(m))
            own = _reads(here.z, z_own) if here.scans else [[] for _ in here.z]
            for i, (from_a, from_z) in enumerate(zip(_reads(here.z, a_in), own)):
                self.reads[Entry(m, "z", i)] = [*(Entry(m - 1, "a", k) for k in from_a),
                                                *(Entry(m, "z", k) for k in from_z)]
            skip = _reads(here.skip, a_in) if here.skip is not None else [[] for _ in
                                                                          here.a_of_z]
            for j, (from_z, from_a) in enumerate(zip(_reads(here.a_of_z, z_own), skip)):
                self.reads[Entry(m, "a", j)] = [*(Entry(m, "z", i) for i in from_z),
                                                *(Entry(m - 1, "a", k) for k in from_a)]
        self.cost = Entry(d.L + 1, "C")
        L_out = list(d.a_symbols(d.L))
        self.reads[self.cost] = [Entry(d.L, "a", k) for k in _reads([self.cost_map()], L_out)[0]]
        self.consumers: dict[Entry, list[Entry]] = {}
        for head, tails in self.reads.items():
            for tail in tails:
                self.consumers.setdefault(tail, []).append(head)

    def cost_map(self) -> sp.Expr:
        return self.d.net.cost_entry.formula(list(self.d.a_symbols(self.d.L)), list(self.d.y))

    def parameter(self, l: int, name: str) -> sp.Symbol:
        """The first entry of parameter ``name`` of layer l."""
        return self.d.layer_parameters(l)[name][0, 0]

    def tree(self, l: int, name: str) -> Tree:
        """The tree of dependencies of the first entry of parameter ``name`` of layer l."""
        here, theta = self.maps[l], self.parameter(l, name)
        root = Entry(l, "theta")
        first = [Entry(l, "z", i) for i, e in enumerate(here.z) if e.has(theta)]
        if here.skip is not None:
            first += [Entry(l, "a", j) for j, e in enumerate(here.skip) if e.has(theta)]
        reached = set(first)
        todo = list(first)
        while todo:
            for head in self.consumers.get(todo.pop(), ()):
                if head not in reached:
                    reached.add(head)
                    todo.append(head)
        leads = {self.cost}  # the entries with a path on to C
        todo = [self.cost]
        while todo:
            for tail in self.reads.get(todo.pop(), ()):
                if tail in reached and tail not in leads:
                    leads.add(tail)
                    todo.append(tail)
        kept = sorted(reached & leads, key=Entry.sort_key)
        edges = [(root, e) for e in first if e in leads]
        edges += [(tail, head) for head in kept for tail in self.reads[head] if tail in leads
                  and tail in reached]
        order = TopologicalSorter({head: [t for t, h in edges if h == head] for head in kept})
        nodes = [root, *(e for e in order.static_order() if e != root)]
        return Tree(l, name, theta, tuple(nodes), tuple(edges))

    def symbol(self, entry: Entry, theta: sp.Symbol) -> sp.Symbol:
        if entry.kind == "theta":
            return theta
        if entry.kind == "C":
            return sp.Symbol("C")
        return (self.d.z_symbols if entry.kind == "z" else self.d.a_symbols)(
            entry.layer)[entry.position]

    def head_map(self, head: Entry) -> sp.Expr:
        """The map that defines ``head``, in the layered symbols of what it reads."""
        if head.kind == "C":
            return self.cost_map()
        here = self.maps[head.layer]
        return (here.z if head.kind == "z" else here.a_of_z)[head.position]

    def local_derivative(self, tail: Entry, head: Entry, theta: sp.Symbol) -> sp.Expr:
        """The edge's factor of the chain rule: ∂head/∂tail by SymPy, from the head's own map."""
        return sp.diff(self.head_map(head), self.symbol(tail, theta))

"""Paths of influence through a network of layer kinds: the seed's paths, now through skips,
pooling, shared kernels and steps through time, counted for the documents' table.

The graph of dependencies entry by entry, and the count of the paths from a parameter entry to
C, live in ``figures.kinds_dependencies``, which the drawing of the tree of dependencies reads
too. Each gradient needs only the first step of its paths: the entries θ enters, one term each
(``EntryPaths.enters``); the rest of every path is in their δ.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.derivation import Derivation
from ..figures.kinds_dependencies import DependencyGraph
from .figures import once_per_derivation


@dataclass(frozen=True)
class EntryPaths:
    """The first entry of one parameter of layer l: how many entries of the layer it enters
    directly (the terms of its gradient) and how many paths lead from it to C."""

    l: int
    name: str  # the parameter as the program names it: "W", "b", "P"
    enters: int  # entries of z_l (and of a_l, through a skip) whose map reads it
    paths: int


@once_per_derivation
def dependency_graph(d: Derivation) -> DependencyGraph:
    """``d``'s graph of dependencies, read once: the table of paths, the drawing of the tree,
    the count of repeated products and the swell at this network's depth all read it."""
    return DependencyGraph(d)


def entry_paths(d: Derivation) -> list[EntryPaths]:
    """The first entry of every parameter of every layer, counted."""
    graph = dependency_graph(d)
    found = []
    for l in d.layers:
        for name in d.layer_parameters(l):
            tree = graph.tree(l, name)
            found.append(EntryPaths(l, name, tree.enters, tree.paths))
    return found

"""The work of the two routes on a network of layer kinds, counted on its own graph of
dependencies: the products the δ recursion saves, and the expression swell with depth.

The chain rule writes ∂C/∂θ as the sum over the paths of influence from θ to C of the product
of the local derivatives along each (``kinds_dependencies``: skips, shared kernels and steps
through time are edges of that graph). Counting every local derivative as one symbol:

- **expansion**, the path sum written out: a path of k edges is a product of k factors, k − 1
  multiplications, and the paths are added, so it takes Σ (k − 1) multiplications and
  (paths − 1) additions;
- **recursion**, the δ program, dynamic programming over the same tree: δ_v = Σ_h ∂h/∂v · δ_h
  for every entry v on it (δ of an entry C reads directly is its local derivative alone), one
  multiplication per edge that does not end at C and one addition fewer than v's consumers.

Networks "like this one" at depths 1..4 (``deepened``): its hidden layers (all but the output;
a network of one layer: that layer) repeated D times under its output layer, each copy's sizes
following what it reads (a residual keeps its width) and the input lengthened along its last
axis where the copies need more positions (a valid convolution and its pooling shorten it);
a network with a layer through time instead over T = 1..4 steps, its layers as they are,
since depth through time is what its δ recursion runs along.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..core.derivation import Derivation, derive
from ..core.network import Network
from .kinds_dependencies import DependencyGraph, Tree

DEPTHS = tuple(range(1, 5))
MAX_CONNECTIONS = 2000  # beyond, reading one network's graph from its maps takes a second and
# more (digits-conv's own 5 280 take 0.7 s): such a network is not built, its row shows a dash
MAX_POSITIONS = 1024  # the longest input a deepened network's search tries (core.limits' units)


@dataclass(frozen=True)
class Work:
    """What each route takes to write ∂C/∂θ on θ's tree of dependencies, every local
    derivative one symbol."""

    paths: int
    path_multiplications: int
    path_additions: int
    delta_multiplications: int
    delta_additions: int

    @property
    def path_operations(self) -> int:
        return self.path_multiplications + self.path_additions

    @property
    def delta_operations(self) -> int:
        return self.delta_multiplications + self.delta_additions

    @property
    def saved(self) -> int:
        """The multiplications the path sum repeats and the δ recursion does once."""
        return self.path_multiplications - self.delta_multiplications


def work(tree: Tree) -> Work:
    """Both routes' operations on ``tree``; its paths as ``tree.paths`` counts them."""
    if not tree.edges:  # θ enters nothing on a path to C (W_1 of a recurrent layer over one
        return Work(0, 0, 0, 0, 0)  # step reads only the zero state before it)
    cost = tree.nodes[-1]  # the one entry every other leads to: last in a forward order
    into: dict = {}
    for tail, head in tree.edges:
        into.setdefault(head, []).append(tail)
    # per entry: the paths from θ to it, and the edges on them all (each path's length, summed)
    reach, length = {tree.nodes[0]: 1}, {tree.nodes[0]: 0}
    for node in tree.nodes[1:]:
        tails = into.get(node, ())
        reach[node] = sum(reach[t] for t in tails)
        length[node] = sum(length[t] + reach[t] for t in tails)
    paths = tree.paths
    edges = len(tree.edges)
    return Work(paths=paths, path_multiplications=length[cost] - paths, path_additions=paths - 1,
                delta_multiplications=edges - len(into.get(cost, ())),
                delta_additions=edges - (len(tree.nodes) - 1))


def widest_tree(graph: DependencyGraph) -> Tree:
    """The tree of the first entry of the parameter of layer 1 with the most paths to C (the
    first such: W_1, a kernel K_1; a recurrent layer's U_1, which every step reads)."""
    trees = [graph.tree(1, name) for name in graph.d.layer_parameters(1)]
    return max(trees, key=lambda tree: tree.paths if tree.edges else 0)


# ---------------------------------------------------------------- networks like this one


def through_time(net: Network) -> bool:
    """Whether a layer of ``net`` runs through time (its pre map reads its own state)."""
    return any(r.maps.pre.own is not None for r in net.resolved)


def deepened(net: Network, depth: int) -> Network:
    """``net`` at ``depth`` (module docstring); ValueError when no such network exists."""
    shape = list(net.input_shape)
    if through_time(net):
        return Network(layers=list(net.layers), inputs=[*shape[:-1], depth], cost=net.cost)
    block = list(net.layers[:-1])
    layers = block * depth + [net.layers[-1]] if block else [net.layers[-1]] * depth
    try:
        return Network(layers=layers, inputs=shape, cost=net.cost)
    except ValueError as refused:
        if len(shape) < 2:
            raise
        first = refused
    for positions in range(shape[-1] + 1, MAX_POSITIONS + 1):  # the fewest the copies need
        try:
            return Network(layers=layers, inputs=[*shape[:-1], positions], cost=net.cost)
        except ValueError:
            continue
    raise first


def connections(net: Network) -> int:
    return sum(r.size.connections for r in net.resolved)


def measure(d: Derivation, graph_of: Callable[[Derivation], DependencyGraph] = DependencyGraph,
            depths: Sequence[int] = DEPTHS, max_connections: int = MAX_CONNECTIONS) -> list[dict]:
    """One row per depth for networks like ``d``'s: the network, its size, and ``work`` on the
    tree of layer 1's parameter entry with the most paths (``widest_tree``); None where it was
    not built (too large, or no such network: "skipped" says which). ``graph_of`` reads a
    derivation's graph (``d``'s own is read once, where a depth is ``d``'s network)."""
    rows = []
    for depth in depths:
        row: dict = {"depth": depth, "layers": None, "input": None, "paths": None,
                     "expansion": None, "recursion": None, "saved": None, "parameter": None,
               "skipped": ""}
        try:
            net = deepened(d.net, depth)
        except ValueError:
            row["skipped"] = "no such network"
            rows.append(row)
            continue
        row.update(layers=net.L, input=list(net.input_shape))
        if net != d.net and connections(net) > max_connections:
            row["skipped"] = "too large"
        else:
            tree = widest_tree(graph_of(d if net == d.net else derive(net)))
            found = work(tree)
            row.update(parameter=tree.name, paths=found.paths, expansion=found.path_operations,
                       recursion=found.delta_operations, saved=found.saved)
        rows.append(row)
    return rows

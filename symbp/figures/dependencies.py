"""Which quantities depend on which, for one weight w^{(l)}_{jk}: the units on its paths to C.

A column of units per quantity of the forward pass (w, z_l, a_l, ..., a_L, C); an
edge wherever the local derivative of a unit with respect to one in the column
before is not zero. ``dependencies`` differentiates every edge with SymPy, from
each node's own map; ``connected`` says the same from the network's structure,
which is what a drawing of any size uses, and ``count_paths`` counts the paths
unit by unit, the dynamic programming of backpropagation.
"""

from __future__ import annotations

import sympy as sp

from ..core.derivation import Derivation

COST = sp.Symbol("C")  # stands for the cost node; the derivation has no symbol of that name


def target_map(d: Derivation, kind: str, layer: int, index: int) -> sp.Expr:
    """The expression that defines one node, in the layered symbols of the layer before it."""
    if kind == "C":
        return d.net.cost_entry.formula(list(d.a_symbols(d.L)), list(d.y))
    if kind == "z":
        return (d.weights(layer) * d.a_symbols(layer - 1) + d.biases(layer))[index - 1]
    return d.net.activation(layer).apply(list(d.z_symbols(layer)))[index - 1]


def local_derivative(d: Derivation, source: sp.Symbol, kind: str, layer: int,
                     index: int) -> sp.Expr:
    """∂(node)/∂source by SymPy from the node's own map, written in layered symbols."""
    derivative = sp.diff(target_map(d, kind, layer, index), source)
    if kind == "a":  # softmax's Jacobian holds softmax itself: that is a^{(m)}
        derivative = derivative.xreplace(d.layered_map(layer, d.z_symbols(layer)))
    return derivative


def unit_columns(d: Derivation, l: int, j: int) -> list[tuple[str, int, list[int], int]]:
    """Columns of units that lie on a path: (kind, layer, units, highlighted unit).

    The highlighted path runs through unit j of layer l and unit 1 of every later layer.
    """
    n = d.net.widths
    columns = [("w", l, [j], j), ("z", l, [j], j)]
    mixing = not d.net.activation(l).elementwise  # a^{(l)}_i depends on z^{(l)}_j for every i
    columns.append(("a", l, list(range(1, n[l] + 1)) if mixing else [j], j))
    for m in range(l + 1, d.L + 1):
        units = list(range(1, n[m] + 1))
        columns += [("z", m, units, 1), ("a", m, units, 1)]
    return [*columns, ("C", d.L + 1, [0], 0)]


def symbol_of(d: Derivation, kind: str, layer: int, unit: int, l: int, k: int) -> sp.Symbol:
    if kind == "w":
        return d.weights(layer)[unit - 1, k - 1]
    if kind == "C":
        return COST
    return (d.z_symbols if kind == "z" else d.a_symbols)(layer)[unit - 1]


def connected(d: Derivation, kind: str, layer: int, source: int, target: int) -> bool:
    """Whether unit ``target`` of a column depends on unit ``source`` of the column before."""
    if kind == "z":
        return True  # through the weight w^{(m)}_{target,source}, or w itself into z^{(l)}_j
    if kind == "a":
        return source == target or not d.net.activation(layer).elementwise
    return target_map(d, "C", d.L + 1, 0).has(d.a_symbols(d.L)[source - 1])


def dependencies(d: Derivation, l: int = 1, j: int = 1, k: int = 1):
    """Every unit on a path from w^{(l)}_{jk} to C, column by column, and every edge with its
    local derivative computed by SymPy: (columns of symbols, {(source, target): derivative}).

    Independent of the drawing, which finds its edges from the network's structure.
    """
    units = unit_columns(d, l, j)
    columns = [[symbol_of(d, kind, layer, u, l, k) for u in members]
               for kind, layer, members, _ in units]
    derivatives = {}
    for before, after, (kind, layer, members, _) in zip(columns, columns[1:], units[1:]):
        for unit, target in zip(members, after):
            for source in before:
                expr = local_derivative(d, source, kind, layer, unit)
                if expr != 0:
                    derivatives[source, target] = expr
    return columns, derivatives


def count_paths(d: Derivation, columns, mixing: bool) -> int:
    """Paths from w to C, unit by unit: each unit adds the counts of its predecessors.

    Without ``mixing`` a softmax layer after l counts as elementwise: one unit per layer,
    the paths of the path sum.
    """
    counts = {columns[0][2][0]: 1}
    for kind, layer, after, _ in columns[1:]:
        elementwise = kind == "a" and layer > columns[0][1] and not mixing
        counts = {t: sum(c for s, c in counts.items()
                         if (s == t if elementwise else connected(d, kind, layer, s, t)))
                  for t in after}
    return counts[0]

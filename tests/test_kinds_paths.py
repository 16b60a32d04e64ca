"""Paths of influence through layer kinds (document/kinds_paths.py): counted from the layers'
maps, against hand counts, the dense document's own count and a second count by SymPy's
derivatives and depth-first search."""

from __future__ import annotations

import sympy as sp

import symbp
from symbp.document.kinds import document
from symbp.document.kinds_paths import EntryPaths, entry_paths
from symbp.figures.dependencies import count_paths, unit_columns
from symbp.proof.layer_lemmas import LayerMaps


def _net(layers, inputs, **kw):
    return symbp.Network(layers=layers, inputs=inputs, **kw)


CONV = _net([symbp.Layer("conv1d", channels=2, kernel=3), symbp.Layer("dense", units=2)], (1, 6))
RESIDUALS = _net([symbp.Layer("residual"), symbp.Layer("residual", units=3, projection=True),
                  symbp.Layer("dense", units=1)], 2)


def test_a_kernel_entry_enters_every_position_and_its_paths_multiply_by_the_fan_out():
    # K[1,1,1] enters z[1, t] for the 6 - 3 + 1 = 4 positions; each a[1, t] feeds 2 outputs
    found = entry_paths(symbp.derive(CONV))
    assert found[0] == EntryPaths(1, "W", enters=4, paths=8)
    assert found[1] == EntryPaths(1, "b", enters=4, paths=8)
    assert found[2:] == [EntryPaths(2, "W", 1, 1), EntryPaths(2, "b", 1, 1)]


def test_a_skip_adds_paths_and_a_projection_is_entered_through_the_skip():
    # W1[1,1] reaches a1[1]; block 2 reads a1[1] in its 3 z entries and, through P, in its 3
    # outputs: 6 paths into a2, each to the one output
    found = {(e.l, e.name): e for e in entry_paths(symbp.derive(RESIDUALS))}
    assert found[1, "W"] == EntryPaths(1, "W", 1, 6)
    assert found[2, "P"] == EntryPaths(2, "P", 1, 1)


def test_a_dense_network_counts_as_the_seed_document_does():
    net = _net([symbp.Layer("dense", units=3), symbp.Layer("dense", units=3, activation="tanh"),
                symbp.Layer("dense", units=2, activation="softmax")], 2, cost="softmax_ce")
    d = symbp.derive(net)
    seed = symbp.derive(symbp.Network([2, 3, 3, 2], ["sigmoid", "tanh", "softmax"],
                                      "softmax_ce"))
    first = entry_paths(d)[0]
    # w1[1,1] -> z1[1] -> a1[1] -> z2 (3) -> a2 (3) -> z3 (2) -> a3 (2 x 2: softmax mixes) -> C
    assert first.paths == count_paths(seed, unit_columns(seed, 1, 1), mixing=True) == 3 * 2 * 2


def _paths_by_search(d, l: int, theta: sp.Symbol) -> int:
    """Every path from theta to C, one by one: an edge wherever SymPy's derivative of an
    entry's own map by the entry before is not zero."""
    maps = {m: LayerMaps(d, m) for m in d.layers}
    cost = d.net.cost_entry.formula(list(d.a_symbols(d.L)), list(d.y))

    def from_a(m: int, k: int) -> int:  # paths from a_m[k] to C
        a = d.a_symbols(m)[k]
        if m == d.L:
            return int(sp.diff(cost, a) != 0)
        above = maps[m + 1]
        total = sum(from_z(m + 1, i) for i, z in enumerate(above.z) if sp.diff(z, a) != 0)
        if above.skip is not None:
            total += sum(from_a(m + 1, j) for j, s in enumerate(above.skip)
                         if sp.diff(s, a) != 0)
        return total

    def from_z(m: int, i: int) -> int:
        z = d.z_symbols(m)[i]
        return sum(from_a(m, j) for j, a in enumerate(maps[m].a_of_z) if sp.diff(a, z) != 0)

    here = maps[l]
    total = sum(from_z(l, i) for i, z in enumerate(here.z) if sp.diff(z, theta) != 0)
    if here.skip is not None:
        total += sum(from_a(l, j) for j, s in enumerate(here.skip) if sp.diff(s, theta) != 0)
    return total


def test_every_count_agrees_with_a_search_path_by_path():
    for net in (CONV, RESIDUALS):
        d = symbp.derive(net)
        for e in entry_paths(d):
            theta = d.layer_parameters(e.l)[e.name][0, 0]
            assert e.paths == _paths_by_search(d, e.l, theta), (e, net)


def test_the_document_shows_each_entry_and_its_gradient_from_the_kinds_map():
    d = symbp.derive(CONV)
    doc = document(d, symbp.prove(d, "local"))
    first = doc.paths[0]
    assert (first.l, first.entry, first.enters, first.paths) == (1, "{K^{(1)}}_{1,1,1}", 4, 8)
    assert r"\frac{\partial C}{\partial {K^{(1)}}_{1,1,1}} &= \sum_{t=1}^{4}" in \
        doc.path_gradients
    assert [(w.entry, w.paths) for w in doc.work[:1]] == [("{K^{(1)}}_{1,1,1}", 8)]
    assert (doc.graph.weight, doc.graph.enters, doc.graph.paths) == ("K^{(1)}_{1,1,1}", 4, 8)


def test_paths_run_through_time_in_a_recurrent_layer():
    # 2 units over 4 steps, the last state to one output: from z[j, t], each step back doubles
    # the paths (W is 2 x 2): 1, 2, 4, 8 from steps 4, 3, 2, 1; W enters steps 2..4, U all
    net = _net([symbp.Layer("recurrent", units=2), symbp.Layer("dense", units=1)], (1, 4))
    found = {(e.l, e.name): e for e in entry_paths(symbp.derive(net))}
    assert found[1, "W"] == EntryPaths(1, "W", enters=3, paths=1 + 2 + 4)
    assert found[1, "U"] == EntryPaths(1, "U", enters=4, paths=1 + 2 + 4 + 8)

"""The count of repeated products and the expression swell of networks of layer kinds
(figures/swell_kinds.py, document/kinds_swell.py): every count against a second one, path by
path, from SymPy's derivatives of the layers' own maps and SymPy's count of the operations of
the path sum and of the δ program written out."""

from __future__ import annotations

import itertools
from functools import cache

import pytest
import sympy as sp

import symbp
from symbp.core.layer_maps import LayerMaps
from symbp.document.kinds_paths import dependency_graph
from symbp.document.kinds_swell import kinds_swell_rows, work_rows
from symbp.figures import swell_kinds
from symbp.figures.swell_kinds import Work, deepened, work

NETS = {
    "residual": symbp.Network(layers=[symbp.Layer("residual"), symbp.Layer(
        "residual", units=3, projection=True), symbp.Layer("dense", units=1)], inputs=2),
    "conv1d": symbp.Network(layers=[symbp.Layer("conv1d", channels=2, kernel=2, pool="avg",
                                                 pool_size=2),
                                    symbp.Layer("dense", units=1)], inputs=[1, 5]),
    "recurrent": symbp.Network(layers=[symbp.Layer("recurrent", units=2, activation="tanh"),
                                       symbp.Layer("dense", units=1)], inputs=[1, 3]),
}


def _by_sympy(d, l: int, theta: sp.Symbol) -> Work:
    """The path sum of ∂C/∂θ written out, one symbol per local derivative, and the δ program on
    the same entries; an edge wherever SymPy's derivative of an entry's map by another is not
    zero; both counted by sympy.count_ops."""
    maps = {m: LayerMaps(d, m) for m in d.layers}
    cost = d.net.cost_entry.formula(list(d.a_symbols(d.L)), list(d.y))

    def reads(expr, symbol) -> bool:
        return sp.diff(expr, symbol) != 0

    def consumers(node):
        kind, m, k = node
        if kind == "theta":
            here = maps[l]
            return [("z", l, i) for i, z in enumerate(here.z) if reads(z, theta)] + (
                [("a", l, j) for j, s in enumerate(here.skip) if reads(s, theta)]
                if here.skip is not None else [])
        if kind == "z":
            z = d.z_symbols(m)[k]
            own = [("z", m, i) for i, e in enumerate(maps[m].z) if maps[m].scans and
                   reads(e, z)]
            return own + [("a", m, j) for j, a in enumerate(maps[m].a_of_z) if reads(a, z)]
        a = d.a_symbols(m)[k]
        if m == d.L:
            return [("C", 0, 0)] if reads(cost, a) else []
        above = maps[m + 1]
        return [("z", m + 1, i) for i, z in enumerate(above.z) if reads(z, a)] + \
            [("a", m + 1, j) for j, e in enumerate(above.a_of_z) if reads(e, a)]

    @cache
    def products(node) -> tuple[sp.Expr, ...]:  # one per path from node to C
        if node[0] == "C":
            return (sp.Integer(1),)
        return tuple(sp.Symbol(f"f_{node}_{head}") * p for head in consumers(node)
                     for p in products(head))

    def delta(node) -> sp.Expr:
        return sp.Integer(1) if node[0] == "C" else sp.Symbol(f"delta_{node}")

    root = ("theta", l, 0)
    path_sum = sp.Add(*products(root))
    on_tree = [root]
    program = []
    for node in on_tree:
        heads = [h for h in consumers(node) if products(h)]
        program.append(sp.Add(*(sp.Symbol(f"f_{node}_{h}") * delta(h) for h in heads)))
        on_tree += [h for h in heads if h[0] != "C" and h not in on_tree]
    paths = len(products(root))
    muls = sum(sp.count_ops(p, visual=True).coeff(sp.Symbol("MUL")) for p in products(root))
    delta_muls = sum(sp.count_ops(e, visual=True).coeff(sp.Symbol("MUL")) for e in program)
    return Work(paths=paths, path_multiplications=int(muls),
                path_additions=sp.count_ops(path_sum) - int(muls),
                delta_multiplications=int(delta_muls),
                delta_additions=sum(sp.count_ops(e) for e in program) - int(delta_muls))


@pytest.mark.parametrize("name", NETS)
def test_the_documents_counts_are_sympys_count_of_the_written_out_routes(name):
    d = symbp.derive(NETS[name])
    graph = dependency_graph(d)
    keys = {(l, p): "" for l in d.layers for p in d.layer_parameters(l)}
    for row, (l, p) in zip(work_rows(d, keys), keys):
        theta = d.layer_parameters(l)[p][0, 0]
        expected = _by_sympy(d, l, theta)
        assert work(graph.tree(l, p)) == expected, (name, l, p)
        assert (row.paths, row.expansion, row.recursion, row.saved) == (
            expected.paths, expected.path_multiplications, expected.delta_multiplications,
            expected.path_multiplications - expected.delta_multiplications)


def test_hand_counts_of_a_residual_block():
    # W1[1,1] enters z1[1]; a1[1] = tanh(z1[1]) + x1; the dense output reads both a1 entries:
    # θ → z1[1] → a1[1] → z2[1] → a2[1] → C, one path of 5 arrows: 4 products either way
    net = symbp.Network(layers=[symbp.Layer("residual"), symbp.Layer("dense", units=1)],
                        inputs=2)
    d = symbp.derive(net)
    assert work(dependency_graph(d).tree(1, "W")) == Work(1, 4, 0, 4, 0)


@pytest.mark.parametrize("name", NETS)
def test_the_swell_at_each_depth_is_sympys_count_on_that_network(name):
    d = symbp.derive(NETS[name])
    rows = kinds_swell_rows(d)
    assert [row["depth"] for row in rows] == [1, 2, 3, 4]
    for row in rows[:2]:  # the first two depths: the count by SymPy grows with the paths
        deeper = symbp.derive(deepened(d.net, row["depth"]))
        theta = deeper.layer_parameters(1)[row["parameter"]][0, 0]
        expected = _by_sympy(deeper, 1, theta)
        assert (row["paths"], row["expansion"], row["recursion"]) == (
            expected.paths, expected.path_operations, expected.delta_operations)
    assert all(a["recursion"] < b["recursion"] and a["paths"] < b["paths"]
               for a, b in itertools.pairwise(rows))
    assert rows[-1]["expansion"] > 3 * rows[-1]["recursion"]  # the recursion saves most


def test_networks_like_this_one():
    residual, conv, recurrent = (NETS[n] for n in ("residual", "conv1d", "recurrent"))
    # the hidden layers repeated under the output layer; the copy after the projection keeps 3
    assert [r.kind.name for r in deepened(residual, 2).resolved] == ["residual"] * 4 + ["dense"]
    assert deepened(residual, 2).widths == (2, 2, 3, 3, 3, 1)
    assert deepened(residual, 1) == residual
    # a valid convolution and its pooling shorten the input: it is lengthened as the copies need
    # (kernel 2, pool 2) 5 → 4 → 2 → 1 leaves one position for a pool of 2, 6 → 5 → 2 too;
    # 7 → 6 → 3 → 2 → 1 is the fewest
    assert deepened(conv, 2).input_shape == (1, 7)
    assert deepened(conv, 2).resolved[1].shape_out == (2, 1)
    # a layer through time: the network over T steps
    assert [deepened(recurrent, T).input_shape for T in (1, 2, 4)] == [(1, 1), (1, 2), (1, 4)]
    assert deepened(recurrent, 3) == recurrent


def test_a_recurrent_swell_measures_the_weight_every_step_reads():
    rows = kinds_swell_rows(symbp.derive(NETS["recurrent"]))
    # U_1 enters every step; at T = 1 W_1 reads only the zero state and enters nothing
    assert [row["parameter"] for row in rows] == ["U"] * 4
    assert [row["paths"] for row in rows] == [1, 3, 7, 15]  # Σ_t 2^(t-1): 2 units per step


def test_a_network_too_large_to_read_shows_a_dash():
    net = symbp.Network(layers=[symbp.Layer("dense", units=3),
                                symbp.Layer("dense", units=1)], inputs=2)
    rows = swell_kinds.measure(symbp.derive(net), max_connections=10)
    assert [row["skipped"] for row in rows] == ["", "too large", "too large", "too large"]
    assert rows[1]["paths"] is None and rows[0]["paths"] == 1  # w1[1,1]: one unit per layer

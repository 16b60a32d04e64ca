"""The influence graph: its nodes and edges against the network, its labels against SymPy."""

import itertools
import math
import re
import xml.etree.ElementTree as ET
from itertools import pairwise

import pytest
import sympy as sp

import symbp
from symbp.core.functions import softmax_formula
from symbp.document.build import build
from symbp.document.paths import paths_of_influence
from symbp.figures.dependencies import dependencies
from symbp.figures.graph import MAX_ROWS, MAX_UNITS, influence_graph
from symbp.figures.graph_svg import graph_svg
from symbp.figures.layout import MIN_SCALE, PAGE_WIDTH, clear_of
from symbp.figures.swell import path_count
from symbp.printing.latex import Printer
from symbp.render.figures import graph_standalone_tex, graph_tex

SVG = "{http://www.w3.org/2000/svg}"
NETWORKS = [  # (network, layer of the weight)
    (symbp.Network([2, 3, 3, 2]), 1),
    (symbp.Network([2, 3, 3, 2]), 2),
    (symbp.Network([2, 3, 3, 2]), 3),  # l = L: a single path
    (symbp.Network([2, 4, 4, 3], activation="tanh"), 1),
    (symbp.Network([3, 2, 3], cost="softmax_ce"), 1),  # softmax output
    (symbp.Network([3, 2, 3], cost="softmax_ce"), 2),
    (symbp.Network([2, 3, 3, 2], activation=["sigmoid", "softmax", "relu"]), 2),  # softmax at l
    (symbp.Network([1, 2, 2, 2, 1], activation="generic", cost="bce"), 1),
]
IDS = [f"{list(net.widths)}-{'+'.join(dict.fromkeys(net.activations))}-{net.cost}-l{l}"
       for net, l in NETWORKS]


@pytest.fixture(scope="module", params=NETWORKS, ids=IDS)
def drawn(request):
    net, l = request.param
    d = symbp.derive(net)
    return d, influence_graph(d, l, j=1, k=net.widths[l - 1])


def _symbols(d):
    """Every layered symbol of the derivation by its name, as graph node ids use them."""
    found = {}
    for l in range(1, d.L + 1):
        for matrix in (d.weights(l), d.z_symbols(l), d.a_symbols(l)):
            found.update({s.name: s for s in matrix})
    return found


def _independent_derivative(d, source, target_kind, layer, index):
    """∂target/∂source written again here from the textbook maps (explicit softmax)."""
    if target_kind == "C":
        return sp.diff(d.net.cost_entry.formula(list(d.a_symbols(d.L)), list(d.y)), source)
    if target_kind == "z":
        row = d.weights(layer)[index - 1, :]
        return sp.diff((row * d.a_symbols(layer - 1))[0] + d.biases(layer)[index - 1], source)
    act = d.net.activation(layer)
    z = list(d.z_symbols(layer))
    if act.elementwise:
        return sp.diff(act.function(z[index - 1]), source)
    explicit = softmax_formula(z)
    return sp.diff(explicit[index - 1], source), dict(zip(d.a_symbols(layer), explicit))


# ---------------------------------------------------------------- structure, against SymPy


def test_every_dependency_is_a_nonzero_local_derivative(drawn):
    d, graph = drawn
    columns, derivatives = dependencies(d, graph.l, graph.j, graph.k)
    assert columns[-1] == [sp.Symbol("C")]
    for (source, target), expr in derivatives.items():
        assert expr != 0
        if target.name == "C":
            assert expr == _independent_derivative(d, source, "C", d.L + 1, 0)
            continue
        layer, index = map(int, target.name[1:].split("_"))
        expected = _independent_derivative(d, source, target.name[0], layer, index)
        if isinstance(expected, tuple):  # softmax: compare through the explicit formula
            expected, explicit = expected
            assert sp.simplify(expr.xreplace(explicit) - expected) == 0
        else:
            assert expr == expected


def test_the_path_sum_of_the_dependencies_is_the_chain_rule_entry(drawn):
    d, graph = drawn
    columns, derivatives = dependencies(d, graph.l, graph.j, graph.k)
    total = {columns[0][0]: sp.Integer(1)}
    for before, after in pairwise(columns):
        total = {t: sum(total[s] * derivatives[s, t] for s in before if (s, t) in derivatives)
                 for t in after}
    entry = d.chain_rule(graph.l).weight[graph.j - 1, graph.k - 1]
    assert sp.expand(total[sp.Symbol("C")] - entry) == 0


def test_path_counts_agree_with_the_dependencies_and_the_path_sum(drawn):
    d, graph = drawn
    columns, derivatives = dependencies(d, graph.l, graph.j, graph.k)
    count = {columns[0][0]: 1}
    for before, after in pairwise(columns):
        count = {t: sum(count[s] for s in before if (s, t) in derivatives) for t in after}
    assert graph.routes == count[sp.Symbol("C")]  # every route through z and a
    n, l = d.net.widths, graph.l
    own = 1 if d.net.activation(l).elementwise else n[l]
    assert graph.paths == own * math.prod(n[l + 1:])  # one unit per layer: the path sum
    assert graph.paths == paths_of_influence(d, l, graph.j, graph.k)[0]
    if l == 1:
        assert graph.paths == path_count(d.net)
    mixing = [n[m] for m in range(l + 1, d.L + 1) if not d.net.activation(m).elementwise]
    assert graph.routes == graph.paths * math.prod(mixing)


def test_drawn_edges_stand_for_every_dependency(drawn):
    d, graph = drawn
    _, derivatives = dependencies(d, graph.l, graph.j, graph.k)
    assert sum(edge.count for edge in graph.edges) == len(derivatives)
    nodes = {node.id: node for node in graph.nodes}
    for edge in graph.edges:
        assert nodes[edge.source].x < nodes[edge.target].x  # left to right within a row


def test_each_layer_is_drawn_whole_or_stacked(drawn):
    d, graph = drawn
    columns = {}
    for node in graph.nodes:
        if not node.repeat and node.kind in "za":
            columns.setdefault((node.kind, node.layer), []).append(node)
    for (kind, layer), nodes in columns.items():
        units = sorted(u for node in nodes for u in node.units)
        assert len(units) == len(set(units))
        assert len(nodes) <= MAX_UNITS
        if layer > graph.l or (kind == "a" and not d.net.activation(layer).elementwise):
            assert units == list(range(1, d.net.widths[layer] + 1))
        assert any(node.stacked for node in nodes) == (len(units) > MAX_UNITS)


# ---------------------------------------------------------------- the highlighted path


def test_the_highlighted_path_runs_from_the_weight_to_the_cost(drawn):
    d, graph = drawn
    path = graph.path
    assert path[0] == d.weights(graph.l)[graph.j - 1, graph.k - 1].name and path[-1] == "C"
    on_path = [(e.source, e.target) for e in graph.edges if e.highlighted]
    assert sorted(on_path) == sorted(pair for pair in pairwise(path)
                                     if not graph.node(pair[0]).x > graph.node(pair[1]).x)
    assert {n.id for n in graph.nodes if n.highlighted} == set(path)
    later = [graph.node(p) for p in path[3:-1]]
    assert all(node.index == 1 for node in later)  # through unit 1 after layer l
    assert graph.node(path[1]).index == graph.j


def test_highlighted_labels_are_the_local_derivatives(drawn):
    d, graph = drawn
    symbols = {**_symbols(d), "C": sp.Symbol("C")}
    _, derivatives = dependencies(d, graph.l, graph.j, graph.k)
    printer = Printer(d.latex_names)
    labelled = [e for e in graph.edges if e.highlighted]
    assert len(labelled) == 2 * (d.L - graph.l) + 3
    for edge in labelled:
        source = symbols[edge.source.removesuffix("_again")]
        assert edge.expr == derivatives[source, symbols[edge.target]]
        assert edge.latex == printer(edge.expr)
        assert edge.text and "*" not in edge.text and "_" not in edge.text
    assert all(e.label is None for e in graph.edges if not e.highlighted)


def test_labels_sit_clear_of_nodes_and_edges(drawn):
    _, graph = drawn
    points = [(n.x, n.y) for n in graph.nodes]
    nodes = {n.id: n for n in graph.nodes}
    segments = [((nodes[e.source].x, nodes[e.source].y), (nodes[e.target].x, nodes[e.target].y))
                for e in graph.edges]
    labels = [e.label for e in graph.edges if e.label is not None]
    for label in labels:
        assert clear_of(label, points, segments)
    for a, b in itertools.combinations(labels, 2):
        assert a.extent()[2] <= b.extent()[0] or b.extent()[2] <= a.extent()[0] \
            or a.y != b.y


def test_default_labels_in_unicode():
    graph = influence_graph(symbp.derive(symbp.Network()))
    texts = {(e.source, e.target): e.text for e in graph.edges if e.highlighted}
    assert texts["w1_1_1", "z1_1"] == "x₁"
    assert texts["z2_1", "a2_1"] == "σ′(z⁽²⁾₁)"
    assert texts["a2_1", "z3_1"] == "w⁽³⁾₁₁"
    assert texts["a3_1", "C"] == "a⁽³⁾₁ − y₁"
    assert graph.node("z2_3").text == "z⁽²⁾₃"
    assert graph.path_term_latex.startswith(r"\bigl(a^{(3)}_{1} - y_{1}\bigr) \, \sigma'")
    assert graph.summed_latex == (
        r"\frac{\partial C}{\partial a^{(1)}_{1}} = \sum_{i=1}^{3} "
        r"\frac{\partial C}{\partial z^{(2)}_{i}}\, w^{(2)}_{i1} = "
        r"\delta^{(2)}_{1} w^{(2)}_{11} + \delta^{(2)}_{2} w^{(2)}_{21} "
        r"+ \delta^{(2)}_{3} w^{(2)}_{31}")


def test_softmax_labels_are_the_jacobian_in_layered_symbols():
    graph = influence_graph(symbp.derive(symbp.Network([2, 3], cost="softmax_ce")))
    texts = {(e.source, e.target): e.text for e in graph.edges if e.highlighted}
    assert texts["z1_1", "a1_1"] == "a⁽¹⁾₁(1 − a⁽¹⁾₁)"
    assert texts["a1_1", "C"] == "−y₁/a⁽¹⁾₁"
    assert graph.paths == 3 and graph.routes == 3  # softmax at the weight's own layer


def test_the_path_term_is_the_first_term_of_the_path_sum():
    d = symbp.derive(symbp.Network([2, 3, 3, 2], activation="tanh"))
    doc = build(d, symbp.prove(d))
    first_row = doc.path_sum.explicit.split("\n")[1]
    assert first_row.endswith(graph_of(d).path_term_latex + r" \\")


def graph_of(d):
    return influence_graph(d)


# ---------------------------------------------------------------- any size


@pytest.mark.parametrize(("widths", "activation", "cost"), [
    ([4, 5, 5, 3], "tanh", "softmax_ce"), ([3] * 7, "generic", "mse"), ([2] * 30, "relu", "mse"),
    ([16] * 6, "sigmoid", "mse"), ([1, 12, 1], "identity", "mse"), ([2, 3, 3, 2], "sigmoid", "mse"),
])
def test_every_network_fits_the_page_legibly(widths, activation, cost):
    d = symbp.derive(symbp.Network(widths, activation=activation, cost=cost))
    graph = influence_graph(d)
    assert graph.width * graph.scale <= PAGE_WIDTH + 1e-9
    assert graph.scale >= MIN_SCALE and graph.rows <= MAX_ROWS
    assert graph.path[0] == "w1_1_1"  # the weight of the path sum, always
    columns = {}
    for node in graph.nodes:
        columns.setdefault((round(node.y, 3) // 1, node.x), []).append(node)
    assert max(len(nodes) for nodes in columns.values()) <= MAX_UNITS
    if graph.elided:
        gap = graph.node("gap")
        first, last = map(int, graph.elided.split(" to "))
        assert gap.units == (first, last) and 1 < first <= last < d.L
        assert not any(node.layer in range(first, last + 1) and node.kind in "za"
                       for node in graph.nodes)


@pytest.mark.parametrize(("l", "j", "k", "message"), [
    (0, 1, 1, "l must be an integer from 1 to 3; got 0"),
    (4, 1, 1, "l must be an integer from 1 to 3; got 4"),
    ("1", 1, 1, "got '1'"),
    (1, 4, 1, "j must be an integer from 1 to 3; got 4"),
    (2, 1, 4, "k must be an integer from 1 to 3; got 4"),
    (1, 1, True, "k must be an integer"),
])
def test_bad_weight_indices(l, j, k, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        influence_graph(symbp.derive(symbp.Network()), l, j, k)


# ---------------------------------------------------------------- drawings


@pytest.fixture(scope="module")
def default_graph():
    return influence_graph(symbp.derive(symbp.Network()))


def test_tikz_is_deterministic_and_complete(default_graph):
    again = influence_graph(symbp.derive(symbp.Network()))
    tex = graph_tex(default_graph)
    assert tex == graph_tex(again)
    assert graph_standalone_tex(default_graph) == graph_standalone_tex(again)
    for leftover in (r"\VAR", r"\BLOCK", r"\#{", "None"):
        assert leftover not in tex and leftover not in graph_standalone_tex(default_graph)
    labelled = [e for e in default_graph.edges if e.label is not None]
    # one per node, one per label, one for the legend
    assert tex.count(r"\node[") == len(default_graph.nodes) + len(labelled) + 1
    assert tex.count(r"\draw[") == len(default_graph.edges)
    assert tex.count(r"\draw[pathlink]") == len(default_graph.path) - 1
    assert r"\node[wnode, onpath] (w1_1_1) at (0.0, 0.0) {$w^{(1)}_{11}$};" in tex
    assert r"{$\displaystyle \sigma'\bigl(z^{(2)}_{1}\bigr)$}" in tex
    assert r"carries $\displaystyle a^{(3)}_i - y_i$" in tex  # the legend
    assert "scale=" in tex and "scale=" not in graph_standalone_tex(default_graph)
    assert "scale=" not in graph_tex(default_graph, scale=1.0)


def test_svg_is_deterministic_and_draws_every_node_and_edge(default_graph):
    svg = graph_svg(default_graph)
    assert svg == graph_svg(influence_graph(symbp.derive(symbp.Network())))
    root = ET.fromstring(svg)
    assert len(root.findall(f"{SVG}circle")) == len(default_graph.nodes)
    assert len(root.findall(f"{SVG}line")) == len(default_graph.edges)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"σ′(z⁽²⁾₁)", "w⁽³⁾₁₁", "a⁽³⁾₁ − y₁", "w⁽¹⁾₁₁", "C"} <= set(texts)
    assert "grey z⁽ᵐ⁾ᵢ → a⁽ᵐ⁾ᵢ carries σ′(z⁽ᵐ⁾ᵢ)" in texts  # the legend
    highlighted = [ln for ln in root.findall(f"{SVG}line") if ln.get("stroke") == "#cc5500"]
    assert len(highlighted) == len(default_graph.path) - 1


@pytest.mark.slow
@pytest.mark.needs_pdflatex
@pytest.mark.parametrize("net", [symbp.Network(), symbp.Network([2, 3, 3], cost="softmax_ce"),
                                 symbp.Network([2] * 30), symbp.Network([4, 5, 5, 3],
                                                                        activation="tanh")],
                         ids=["default", "softmax", "deep", "wide"])
def test_the_standalone_graph_compiles(net):
    from symbp.render.latex import compile_pdf

    pdf = compile_pdf(graph_standalone_tex(influence_graph(symbp.derive(net))))
    assert pdf.startswith(b"%PDF")


def test_unicode_names():
    from symbp.core.naming import unicode_name

    assert unicode_name("w^{(3)}_{12}") == "w⁽³⁾₁₂"
    assert unicode_name(r"\delta^{(2)}_{1}") == "δ⁽²⁾₁"
    assert unicode_name("x_{1}") == "x₁" and unicode_name("C") == "C"

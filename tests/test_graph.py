"""The influence graph: its nodes and edges against the network, its labels against SymPy."""

import math
import re
import xml.etree.ElementTree as ET
from collections import Counter
from itertools import pairwise

import pytest
import sympy as sp

import symbp
from symbp.core.functions import softmax_formula
from symbp.figures.graph import MAX_LAYERS_AFTER, MAX_UNITS, drawable, influence_graph
from symbp.figures.graph_svg import graph_svg
from symbp.figures.layout import collisions
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


def _layer_of(graph, node_id):
    node = graph.node(node_id)
    return node.kind, node.layer


# ---------------------------------------------------------------- structure


def test_nodes_per_layer_match_the_closed_form(drawn):
    d, graph = drawn
    n, l = d.net.widths, graph.l

    def units(m: int, kind: str) -> int:
        elementwise = d.net.activation(m).elementwise
        if m == l:
            return 1 if kind == "z" or elementwise else n[l]
        return n[m]

    expected = Counter({("w", l): 1, ("C", d.L + 1): 1})
    for m in range(l, d.L + 1):
        expected[("z", m)] = units(m, "z")
        expected[("a", m)] = units(m, "a")
    assert Counter((node.kind, node.layer) for node in graph.nodes) == expected


def test_edges_per_layer_match_the_closed_form(drawn):
    d, graph = drawn
    n, l = d.net.widths, graph.l
    count = Counter((node.kind, node.layer) for node in graph.nodes)
    expected = Counter({("w", l): 1, ("a", d.L): count[("a", d.L)]})
    for m in range(l, d.L + 1):
        elementwise = d.net.activation(m).elementwise
        z_units = count[("z", m)]
        expected[("z", m)] = z_units if elementwise else z_units * n[m]  # z → a
        if m > l:
            expected[("a", m - 1)] = count[("a", m - 1)] * n[m]  # a_{m-1} → z_m: every pair
    got = Counter(_layer_of(graph, edge.source) for edge in graph.edges)
    assert got == expected


def test_path_count_is_the_product_of_the_widths(drawn):
    d, graph = drawn
    n, l = d.net.widths, graph.l
    mixing = [n[m] for m in range(l, d.L + 1) if not d.net.activation(m).elementwise]
    assert graph.paths == math.prod(n[l + 1:]) * math.prod(mixing)
    if l == 1:
        assert graph.paths == path_count(d.net)


def test_every_label_is_the_local_derivative_by_an_independent_diff(drawn):
    d, graph = drawn
    symbols = _symbols(d)
    cost = d.net.cost_entry.formula(list(d.a_symbols(d.L)), list(d.y))
    for edge in graph.edges:
        source = symbols[edge.source]
        target = graph.node(edge.target)
        if target.kind == "C":
            expected = sp.diff(cost, source)
        elif target.kind == "z":
            m = target.layer
            row = d.weights(m)[target.index - 1, :]
            expected = sp.diff((row * d.a_symbols(m - 1))[0] + d.biases(m)[target.index - 1],
                               source)
        else:  # a = σ(z): compare through the explicit formula of the layer's activation
            act = d.net.activation(target.layer)
            z = list(d.z_symbols(target.layer))
            if act.elementwise:
                expected = sp.diff(act.function(z[target.index - 1]), source)
            else:
                explicit = softmax_formula(z)
                a = dict(zip(d.a_symbols(target.layer), explicit))
                got = edge.expr.xreplace(a)
                assert sp.simplify(got - sp.diff(explicit[target.index - 1], source)) == 0
                continue
        assert edge.expr == expected, (edge.source, edge.target)
        assert expected != 0


def test_the_path_sum_of_the_labels_is_the_chain_rule_entry(drawn):
    d, graph = drawn
    outgoing = {}
    for edge in graph.edges:
        outgoing.setdefault(edge.source, []).append(edge)

    def path_sum(node_id):  # sum over paths of the products of labels, from node_id to C
        if node_id == "C":
            return sp.Integer(1)
        return sum(edge.expr * path_sum(edge.target) for edge in outgoing[node_id])

    entry = d.chain_rule(graph.l).weight[graph.j - 1, graph.k - 1]
    assert sp.expand(path_sum(graph.path[0]) - entry) == 0


def test_the_highlighted_path_runs_from_the_weight_to_the_cost(drawn):
    d, graph = drawn
    path = graph.path
    assert path[0] == d.weights(graph.l)[graph.j - 1, graph.k - 1].name and path[-1] == "C"
    on_path = [(e.source, e.target) for e in graph.edges if e.highlighted]
    assert sorted(on_path) == sorted(pairwise(path))
    assert {n.id for n in graph.nodes if n.highlighted} == set(path)
    assert len(path) == 2 * (d.L - graph.l + 1) + 2
    later = [graph.node(p) for p in path[3:-1]]
    assert all(node.index == 1 for node in later)  # through unit 1 after layer l
    assert graph.node(path[1]).index == graph.j


def test_path_only_keeps_the_highlighted_chain(drawn):
    d, graph = drawn
    chain = influence_graph(d, graph.l, graph.j, graph.k, path_only=True)
    assert chain.paths == 1 and chain.path == graph.path
    assert [n.id for n in chain.nodes] == list(graph.path)
    assert all(n.highlighted for n in chain.nodes) and all(e.highlighted for e in chain.edges)
    full = {(e.source, e.target): e.expr for e in graph.edges}
    assert all(full[e.source, e.target] == e.expr for e in chain.edges)
    assert len({n.y for n in chain.nodes}) == 1  # one straight line


def test_labels_are_printed_from_the_expressions(drawn):
    d, graph = drawn
    printer = Printer(d.latex_names)
    for edge in graph.edges:
        assert edge.latex == printer(edge.expr)
        assert edge.text and "*" not in edge.text and "_" not in edge.text


def test_no_label_collides_with_another_label_or_a_node(drawn):
    _, graph = drawn
    labels = {(e.source, e.target): e.label for e in graph.edges}
    assert collisions(labels, {n.id: (n.x, n.y) for n in graph.nodes}) == []
    columns = {}
    for node in graph.nodes:
        columns.setdefault(node.x, []).append(node)
    xs = sorted(columns)
    assert len(xs) == 2 * (len(graph.widths) - graph.l) + 2  # w, z_l, a_l, ..., C


def test_default_labels_in_unicode():
    graph = influence_graph(symbp.derive(symbp.Network()))
    texts = {(e.source, e.target): e.text for e in graph.edges}
    assert texts["w1_1_1", "z1_1"] == "x₁"
    assert texts["z2_1", "a2_1"] == "σ′(z⁽²⁾₁)"
    assert texts["a2_2", "z3_1"] == "w⁽³⁾₁₂"
    assert texts["a3_1", "C"] == "a⁽³⁾₁ − y₁"
    assert graph.node("z2_3").text == "z⁽²⁾₃"
    assert graph.path_term_latex.startswith(r"\bigl(a^{(3)}_{1} - y_{1}\bigr)\, \sigma'")
    assert graph.summed_latex == (
        r"\frac{\partial C}{\partial a^{(1)}_{1}} = \sum_{i=1}^{3} "
        r"\frac{\partial C}{\partial z^{(2)}_{i}}\, w^{(2)}_{i1} = "
        r"\delta^{(2)}_{1} w^{(2)}_{11} + \delta^{(2)}_{2} w^{(2)}_{21} "
        r"+ \delta^{(2)}_{3} w^{(2)}_{31}")


def test_softmax_labels_are_the_jacobian_in_layered_symbols():
    graph = influence_graph(symbp.derive(symbp.Network([2, 3], cost="softmax_ce")))
    texts = {(e.source, e.target): e.text for e in graph.edges}
    assert texts["z1_1", "a1_1"] == "a⁽¹⁾₁(1 − a⁽¹⁾₁)"
    assert texts["z1_1", "a1_2"] == "−a⁽¹⁾₁·a⁽¹⁾₂"
    assert texts["a1_2", "C"] == "−y₂/a⁽¹⁾₂"


# ---------------------------------------------------------------- limits and bad input


def test_too_big_to_draw_is_a_clear_value_error():
    wide = symbp.derive(symbp.Network([2, MAX_UNITS + 1, 2]))
    assert "units" in drawable(wide, 1)
    with pytest.raises(ValueError, match=rf"too big to draw.*at most {MAX_UNITS} can"):
        influence_graph(wide)
    deep = symbp.derive(symbp.Network([2] * (MAX_LAYERS_AFTER + 3)))
    assert drawable(deep, 1) is not None and drawable(deep, 2) is None
    with pytest.raises(ValueError, match="layers follow layer 1"):
        influence_graph(deep, 1)
    assert drawable(symbp.derive(symbp.Network()), 1) is None


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
    assert tex.count(r"\node[") == len(default_graph.nodes) + len(default_graph.edges)
    assert tex.count(r"\draw[") == len(default_graph.edges)
    assert tex.count(r"\draw[pathlink]") == len(default_graph.path) - 1
    assert r"\node[wnode, onpath] (w1_1_1) at (0.0, 0.0) {$w^{(1)}_{11}$};" in tex
    assert r"{$\sigma'\bigl(z^{(2)}_{1}\bigr)$}" in tex
    assert "scale=" in tex and "scale=" not in graph_standalone_tex(default_graph)
    assert "scale=" not in graph_tex(default_graph, scale=1.0)


def test_svg_is_deterministic_and_draws_every_node_and_edge(default_graph):
    svg = graph_svg(default_graph)
    assert svg == graph_svg(influence_graph(symbp.derive(symbp.Network())))
    root = ET.fromstring(svg)
    assert len(root.findall(f"{SVG}circle")) == len(default_graph.nodes)
    assert len(root.findall(f"{SVG}line")) == len(default_graph.edges)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"σ′(z⁽²⁾₁)", "w⁽³⁾₁₂", "a⁽³⁾₁ − y₁", "w⁽¹⁾₁₁", "C"} <= set(texts)
    highlighted = [ln for ln in root.findall(f"{SVG}line") if ln.get("stroke") == "#cc5500"]
    assert len(highlighted) == len(default_graph.path) - 1


@pytest.mark.needs_pdflatex
@pytest.mark.parametrize("net", [symbp.Network(), symbp.Network([2, 3, 3], cost="softmax_ce")],
                         ids=["default", "softmax"])
def test_the_standalone_graph_compiles(net):
    from symbp.render.latex import compile_pdf

    pdf = compile_pdf(graph_standalone_tex(influence_graph(symbp.derive(net))))
    assert pdf.startswith(b"%PDF")


def test_unicode_names():
    from symbp.core.naming import unicode_name

    assert unicode_name("w^{(3)}_{12}") == "w⁽³⁾₁₂"
    assert unicode_name(r"\delta^{(2)}_{1}") == "δ⁽²⁾₁"
    assert unicode_name("x_{1}") == "x₁" and unicode_name("C") == "C"

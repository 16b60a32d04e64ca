"""The tree of dependencies of one shared parameter entry, for networks of layer kinds
(figures/kinds_dependencies.py, figures/kinds_graph.py): every edge a nonzero factor of the chain
rule, every path the documents count drawn, the files the CLI writes, and the same bytes on
every run and hash seed."""

from __future__ import annotations

import hashlib
import itertools
import subprocess
import sys
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import pytest
import sympy as sp

import symbp
from symbp.cli import config
from symbp.cli.main import main
from symbp.document.kinds_paths import entry_paths
from symbp.figures.kinds_dependencies import DependencyGraph
from symbp.figures.kinds_graph import MAX_ENTRIES, kinds_graph
from symbp.figures.kinds_graph_svg import kinds_graph_svg
from symbp.render.figures import figure_files
from tests.seeds import other_seed_env

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SVG = "{http://www.w3.org/2000/svg}"
SMALL = ["residual", "conv1d", "recurrent"]


@cache
def derived(name):
    return symbp.derive(config.load(EXAMPLES / f"{name}.toml").net)


def _paths_by_walking(nodes, edges) -> int:
    """Every path from the first node to the last, walked one by one (no counting by layers)."""
    out: dict[str, list[str]] = {}
    for source, target in edges:
        out.setdefault(source, []).append(target)
    last, walked, todo = nodes[-1], 0, [nodes[0]]
    while todo:
        node = todo.pop()
        if node == last:
            walked += 1
        todo.extend(out.get(node, ()))
    return walked


@pytest.mark.parametrize("name", SMALL)
def test_every_edge_is_a_nonzero_factor_of_the_chain_rule_and_no_factor_is_missing(name):
    d = derived(name)
    graph = DependencyGraph(d)
    tree = graph.tree(1, next(iter(d.layer_parameters(1))))
    edges = set(tree.edges)
    for head in tree.nodes[1:]:
        for tail in tree.nodes:
            if tail == head or tail.kind == "C":
                continue
            factor = sp.diff(graph.head_map(head), graph.symbol(tail, tree.theta))
            assert (factor != 0) == ((tail, head) in edges), (tail, head, factor)


@pytest.mark.parametrize("name", SMALL)
def test_the_drawing_holds_every_path_the_document_counts(name):
    d = derived(name)
    drawn = kinds_graph(d)
    assert drawn.left_out == 0  # small enough to draw whole
    ids = [n.id for n in drawn.nodes]
    assert ids[0].startswith(("w", "u", "b")) and ids[-1] == "C"
    walked = _paths_by_walking(ids, [(e.source, e.target) for e in drawn.edges])
    row = entry_paths(d)[0]  # the row the documents print
    assert (row.l, walked, drawn.enters) == (1, row.paths, row.enters)
    assert drawn.paths == walked


def test_the_counts_of_each_example():
    found = {name: (kinds_graph(derived(name)).weight_latex, kinds_graph(derived(name)).paths)
             for name in SMALL}
    assert found == {"residual": ("W^{(1)}_{1,1}", 12), "conv1d": ("K^{(1)}_{1,1,1}", 12),
                     "recurrent": ("W^{(1)}_{1,1}", 7)}


def test_the_highlighted_path_runs_from_the_entry_to_c_with_its_local_derivatives():
    d = derived("recurrent")
    drawn = kinds_graph(d)
    path = [e for e in drawn.edges if e.highlighted]
    assert path[0].source == "w1_1_1" and path[-1].target == "C"
    assert all(a.target == b.source for a, b in itertools.pairwise(path))
    # W enters step 2 through the state of step 1; step 3 reads step 2 through W and tanh'
    assert [e.text for e in path[:2]] == ["tanh(z⁽¹⁾₁,₁)", "W⁽¹⁾₁,₁·tanh′(z⁽¹⁾₁,₂)"]
    # the entries W enters later are reached by curves over the steps between
    assert {e.target for e in drawn.edges if e.source == "w1_1_1" and e.curve} == {"z1_3",
                                                                                   "z1_4"}


def test_the_skip_is_a_curve_of_its_own():
    drawn = kinds_graph(derived("residual"))
    skips = {(e.source, e.target) for e in drawn.edges if e.curve}
    assert skips == {("a1_1", "a2_1"), ("a1_1", "a2_2"), ("a1_1", "a2_3")}


def test_a_large_layer_is_stacked_and_the_drawing_says_what_it_left_out():
    net = symbp.Network(layers=[{"kind": "conv1d", "channels": 1, "kernel": 3},
                                {"kind": "dense", "units": 1}], inputs=[1, 12])
    drawn = kinds_graph(symbp.derive(net))
    stacks = [n for n in drawn.nodes if n.stacked]
    assert [(n.id, n.text, n.hidden) for n in stacks] == [("r1_more", "+5", 5),
                                                          ("r2_more", "+5", 5)]
    assert drawn.paths == 10 and drawn.left_out == 10 and drawn.entries == 22
    assert sum(e.count for e in drawn.edges if e.target == "r1_more") == 5
    assert max(sum(n.x == x for n in drawn.nodes) for x in {n.x for n in drawn.nodes}) == \
        MAX_ENTRIES
    svg = kinds_graph_svg(drawn)
    assert "10 of the 22 entries left out" in svg and ">+5</text>" in svg


def test_long_local_derivatives_are_named_not_written_out():
    drawn = kinds_graph(derived("layernorm-mlp"))
    labels = [e.text for e in drawn.edges if e.highlighted]
    assert "∂z⁽²⁾₁/∂a⁽¹⁾₁" in labels and max(len(t) for t in labels) < 20


def test_the_svg_draws_every_node_and_edge():
    drawn = kinds_graph(derived("conv1d"))
    root = ET.fromstring(kinds_graph_svg(drawn))
    assert len(root.findall(f"{SVG}circle")) == len(drawn.nodes)
    assert len(root.findall(f"{SVG}path")) == len(drawn.edges)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"K⁽¹⁾₁,₁,₁", "z⁽¹⁾₁,₆", "a⁽¹⁾₁,₃", "C", "x₁,₁"} <= set(texts)
    assert ("∂C/∂K⁽¹⁾₁,₁,₁ is the sum over all 12 paths from K⁽¹⁾₁,₁,₁ to C of the product "
            "of the factors along each") in texts


def test_figure_files_for_layer_kinds_and_the_tikz_is_complete():
    files = figure_files(derived("residual"))
    assert set(files) == {"graph.tex", "graph.svg", "swell.svg"}
    tex = files["graph.tex"]
    for leftover in (r"\VAR", r"\BLOCK", r"\#{", "None"):
        assert leftover not in tex
    drawn = kinds_graph(derived("residual"))
    assert tex.count(r"\draw[") == len(drawn.edges)
    assert tex.count(".. controls") == 3
    assert r"\node[wnode, onpath] (w1_1_1) at (0.0, 0.0) {$W^{(1)}_{1,1}$};" in tex
    assert files == figure_files(symbp.derive(config.load(EXAMPLES / "residual.toml").net))


def test_a_parameter_that_does_not_exist():
    with pytest.raises(ValueError, match="no parameter 'Q' in layer 1; layers 1 to 3"):
        kinds_graph(derived("residual"), 1, "Q")


def test_the_cli_writes_the_figures_of_a_network_of_layer_kinds(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["derive", str(EXAMPLES / "conv1d.toml"), "--format", "figures",
                 "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == \
        ["graph.svg", "graph.tex", "swell.svg"]
    err = capsys.readouterr().err
    assert "no figures" not in err and "note:" not in err
    assert "Operations (networks like this one)" in (out / "swell.svg").read_text()


SCRIPT = """
import hashlib, sys
import symbp
from symbp.cli import config
from symbp.render.figures import figure_files
for name in sys.argv[1:]:
    d = symbp.derive(config.load(f"examples/{name}.toml").net)
    for file, text in sorted(figure_files(d).items()):
        print(name, file, hashlib.sha256(text.encode()).hexdigest())
"""


@pytest.mark.slow
def test_the_figures_are_the_same_bytes_on_every_hash_seed():
    here = {f"{name} {file} {hashlib.sha256(text.encode()).hexdigest()}"
            for name in SMALL for file, text in figure_files(derived(name)).items()}
    run = subprocess.run([sys.executable, "-c", SCRIPT, *SMALL], cwd=ROOT, check=True,
                         capture_output=True, text=True,
                         env=other_seed_env(PYTHONPATH=str(ROOT)))  # not this one's seed
    assert set(run.stdout.splitlines()) == here

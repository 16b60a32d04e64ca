"""The pictures beyond the seed reach the documents and the output folder."""

import itertools
import json
import re

import pytest

import symbp
from symbp.cli.main import main
from symbp.document.build import build
from symbp.document.figures import graph_part, swell_part
from symbp.printing.latex import Printer
from symbp.render.figures import figure_files


@pytest.fixture(scope="module")
def default():
    d = symbp.derive(symbp.Network())
    proof = symbp.prove(d)
    return d, symbp.render(d, "tex", proof), symbp.render(d, "md", proof)


def test_default_pdf_source_has_the_graph_and_the_swell_plot(default):
    _, tex, md = default
    assert tex.count(r"\begin{tikzpicture}") == 2  # the tree of dependencies and the plot
    assert r"\begin{semilogyaxis}" in tex
    assert r"In Figure~1 every arrow" in tex  # numbered in Python: one pdflatex pass
    assert tex.index(r"\begin{tikzpicture}") < tex.index(r"\begin{semilogyaxis}")
    assert "![Every path of influence" in md and "](graph.svg)" in md
    assert "](swell.svg)" in md


def test_graph_part_counts_paths_and_highlights_one(default):
    d, _tex, _ = default
    part = graph_part(d, Printer(d.latex_names))
    assert part.layer == 1 and part.paths == part.routes == 6  # 3 * 2 paths for [2, 3, 3, 2]
    highlighted = [e for e in part.graph["edges"] if e["highlighted"]]
    assert len(highlighted) == 2 * d.L + 1  # w→z, then z→a and a→z (or C) per layer
    assert part.mixing == ""


@pytest.mark.parametrize(("widths", "activation"), [([8, 8, 8], "relu"), ([2] * 12, "tanh")])
def test_wide_and_deep_networks_draw_the_weight_of_the_path_sum(widths, activation):
    d = symbp.derive(symbp.Network(widths, activation=activation))
    proof = symbp.prove(d, "local")
    tex = symbp.render(d, "tex", proof)
    doc = build(d, proof)
    assert doc.graph.weight == doc.path_sum.weight == r"w^{(1)}_{11}"
    assert doc.graph.paths == doc.path_sum.paths
    assert f"over all\n{doc.graph.paths} paths" in tex or f"over all {doc.graph.paths} paths" in tex
    assert "(w1_1_1) at (0.0, 0.0)" in tex


def test_softmax_cross_edges_are_explained_once_and_counts_agree():
    d = symbp.derive(symbp.Network([4, 5, 5, 3], activation="tanh", cost="softmax_ce"))
    md = symbp.render(d, "md", symbp.prove(d, "local"))
    assert "there are 15 paths" in md and "45 routes" in md and "15 paths" in md
    assert md.count("cross-edges") == 1
    assert "45 paths" not in md


def test_swell_part_shows_the_recursion_growing_linearly():
    part = swell_part(symbp.derive(symbp.Network()))
    assert part.width == 3
    rows = part.tables["md"]["rows"]
    paths = [int(r["cells"][2]) for r in rows]
    assert paths == [1, 3, 9, 27]
    recursion = [int(r["cells"][6]) for r in rows]
    steps = {b - a for a, b in itertools.pairwise(recursion)}
    assert steps == {part.recursion_step}


def test_figure_files_are_deterministic():
    d = symbp.derive(symbp.Network())
    first, second = figure_files(d), figure_files(symbp.derive(symbp.Network()))
    assert first == second
    assert set(first) == {"graph.tex", "graph.svg", "swell.svg"}
    assert first["graph.svg"].startswith("<svg") and r"\VAR" not in first["graph.tex"]


def test_swell_command(tmp_path, capsys):
    assert main(["swell", "--depth", "1..3", "--width", "2", "--out", str(tmp_path)]) == 0
    assert "measured 3 networks" in capsys.readouterr().out
    data = json.loads((tmp_path / "swell.json").read_text())
    assert [row["paths"] for row in data["rows"]] == [1, 2, 4]
    assert re.search(r"<svg[^>]*>", (tmp_path / "swell.svg").read_text())


@pytest.mark.parametrize(("args", "named"), [
    (["--depth", "0..3"], "'0..3'"), (["--width", "x"], "'x'"), (["--depth", "5..2"], "'5..2'"),
    (["--width", "2..40"], "up to 40"),
])
def test_swell_bad_input(args, named, capsys, tmp_path):
    assert main(["swell", *args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.needs_pdflatex
def test_default_document_compiles_in_one_pass(default):
    from symbp.render.latex import compile_tex

    log = compile_tex(default[1]).log
    assert "Rerun to get" not in log and "Label(s) may have changed" not in log


def test_swell_uses_the_document_s_own_width_and_cost():
    d = symbp.derive(symbp.Network([4, 5, 5, 3], activation="tanh", cost="softmax_ce"))
    part = swell_part(d)
    assert (part.width, part.cost) == (5, "softmax_ce")
    assert part.plot["width"] == 5
    assert [p["title"] for p in part.plot["panels"]] == ["Paths", "Operations"]
    assert {s["key"] for s in part.plot["panels"][0]["series"]} <= {"paths", "path_terms"}
    assert part.skipped  # the widest routes are too many to write out
    assert part.shallow["recursion"] > part.shallow["expansion"]  # the L = 1 case, explained
    md = symbp.render(d, "md", symbp.prove(d, "local"))
    assert "With a single layer ($`L = 1`$) the recursion costs more" in md

"""Expression swell: the measured figures against closed forms, and the report's outputs."""

import json
import math
import re
import xml.etree.ElementTree as ET
from itertools import pairwise

import pytest

import symbp
from symbp.cli.swelling import run_swell
from symbp.cli.text import parse_range
from symbp.figures import swell
from symbp.figures.swell_plot import plot_data, swell_svg
from symbp.render.figures import (
    swell_markdown,
    swell_plot_tex,
    swell_standalone_tex,
    swell_table,
)

DEPTHS, WIDTHS = range(1, 6), (2, 3)
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def rows():
    return swell.measure(DEPTHS, WIDTHS)


def _by_width(rows, key):
    return {n: [row[key] for row in rows if row["width"] == n] for n in WIDTHS}


def test_one_row_per_network_widths_outer_depths_inner(rows):
    assert [(r["width"], r["depth"]) for r in rows] == [(n, L) for n in WIDTHS for L in DEPTHS]
    assert all(r["widths"] == [r["width"]] * (r["depth"] + 1) for r in rows)
    assert all(r["activation"] == "generic" and r["cost"] == "mse" for r in rows)


def test_path_count_is_the_product_of_the_widths_and_the_number_of_terms(rows):
    for row in rows:
        assert row["paths"] == row["width"] ** (row["depth"] - 1)
        assert row["path_terms"] == row["paths"]  # one product per path in the expanded sum
    assert swell.path_count(symbp.Network([3, 2, 4, 5])) == 4 * 5
    softmax = symbp.Network([3, 2, 4, 5], cost="softmax_ce")
    assert swell.path_count(softmax) == 4 * 5  # one unit per layer, as in the path sum
    assert swell.route_count(softmax) == 4 * 5 * 5  # and through softmax's cross-edges
    first = symbp.Network([3, 4, 5], activation=["softmax", "sigmoid"])
    assert swell.path_count(first) == 4 * 5  # w^(1)_11 reaches every a^(1)_i


def test_recursion_grows_linearly_in_depth(rows):
    for n, ops in _by_width(rows, "recursion").items():
        steps = [b - a for a, b in pairwise(ops)]
        assert len(set(steps)) == 1, (n, ops)  # second differences are zero
        assert steps[0] > 0


def test_expansion_and_direct_grow_exponentially_in_depth(rows):
    for key in ("expansion", "direct"):
        for n, ops in _by_width(rows, key).items():
            assert all(b >= n * a for a, b in pairwise(ops)), (key, n, ops)
    deepest = [r for r in rows if r["depth"] == max(DEPTHS)]
    assert all(r["expansion"] > r["recursion"] for r in deepest)


def test_cse_brings_the_direct_derivative_back_to_linear_growth(rows):
    for n, ops in _by_width(rows, "direct_cse").items():
        steps = [b - a for a, b in pairwise(ops)]
        assert all(later <= earlier for earlier, later in pairwise(steps)), (n, ops)
    for row in rows:
        assert row["direct_cse"] <= row["direct"] and row["expansion_cse"] <= row["expansion"]


def test_json_is_deterministic_and_leaves_times_out(rows):
    text = swell.to_json(rows)
    assert text == swell.to_json(swell.measure(DEPTHS, WIDTHS))
    data = json.loads(text)
    assert "seconds" not in text and len(data["rows"]) == len(rows)
    assert set(data["columns"]) == {key for key, *_ in swell.COLUMNS}
    timed = json.loads(swell.to_json(rows, timings=True))
    assert set(timed["rows"][0]["seconds"]) == {
        "expansion", "expansion_cse", "recursion", "recursion_cse", "direct", "direct_cse"}


def test_too_large_routes_are_skipped_and_shown_as_such():
    row = swell.measure_network(symbp.Network([2] * 6, activation="generic"), max_paths=8)
    assert row["paths"] == 16 and row["skipped"] == ["expansion", "direct"]
    assert row["expansion"] is None and row["direct_cse"] is None and row["path_terms"] is None
    assert row["recursion"] == 47
    small = swell.measure_network(symbp.Network([2] * 3, activation="generic"), max_paths=8)
    table = swell_table([small, row], "md")
    assert "| 5 | 2 | 16 | — | — | — | 47 | 47 | — | — |" in table
    assert "—: not built, more than" in table
    assert "---" in swell_table([small, row], "tex")
    plot = plot_data([small, row])
    assert [[s["key"] for s in panel["series"]] for panel in plot["panels"]] == [
        ["paths", "path_terms"],
        ["expansion", "expansion_cse", "direct", "direct_cse", "recursion"]]
    assert [p[0] for p in plot["panels"][1]["series"][0]["points"]] == [2]


@pytest.mark.parametrize(("text", "values"), [
    ("1..6", [1, 2, 3, 4, 5, 6]), ("2,3,4", [2, 3, 4]), ("3", [3]), (" 1..3, 5 ", [1, 2, 3, 5]),
    ("2..2", [2]), ("1..3,2..4", [1, 2, 3, 4]),
])
def test_parse_range(text, values):
    assert parse_range(text) == values


@pytest.mark.parametrize(("text", "bad"), [
    ("a..6", "'a..6'"), ("1..x", "'1..x'"), ("", "''"), ("6..1", "'6..1'"), ("0..3", "'0..3'"),
    ("2,,3", "''"), ("1...3", "'1...3'"), ("-1", "'-1'"),
])
def test_parse_range_names_the_bad_part(text, bad):
    with pytest.raises(ValueError, match=re.escape(bad)):
        parse_range(text)


# ---------------------------------------------------------------- outputs


def test_tables_and_plot_have_no_template_leftovers(rows):
    outputs = [swell_table(rows, "md"), swell_table(rows, "tex"),
               swell_markdown(rows), swell_plot_tex(rows), swell_standalone_tex(rows)]
    for text in outputs:
        for leftover in (r"\VAR", r"\BLOCK", r"\#{", "None"):
            assert leftover not in text
    tex = swell_table(rows, "tex")
    assert r"\toprule" in tex and tex.count(r"\midrule") == 1 + len(WIDTHS) - 1
    assert "5 & 3 & 81 & 81 & 1376 &" in tex
    plot = swell_plot_tex(rows)
    assert plot.count(r"\begin{semilogyaxis}") == 2 and plot.count(r"\addplot") == 7
    assert "(1,1) (2,3) (3,9) (4,27) (5,81)" in plot  # the paths of width 3


def test_svg_plot_is_deterministic_with_a_line_per_measure(rows):
    svg = swell_svg(rows)
    assert svg == swell_svg(swell.measure(DEPTHS, WIDTHS))
    root = ET.fromstring(svg)
    assert len(list(root.iter(f"{SVG}polyline"))) == 7
    panels = root.findall(f"{SVG}svg")  # paths on one axis, operations on another
    assert [p.find(f"{SVG}text").text for p in panels] == ["Paths (n = 3)", "Operations (n = 3)"]
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert {"paths of influence", "recursion (δ program)", "10³", "1"} <= texts
    legend = next(t for t in root.findall(f"{SVG}text") if t.text == "paths of influence")
    assert float(legend.get("y")) > max(float(p.get("height")) for p in panels)  # below the data
    assert "width n = 3" in svg and "width n = 2" in swell_svg(rows, width=2)
    with pytest.raises(ValueError, match="measured widths: \\[2, 3\\]"):
        plot_data(rows, width=7)


def test_run_swell_writes_three_files_the_same_every_time_and_the_times_apart(tmp_path):
    summary = run_swell(range(1, 4), [2, 3], tmp_path / "swell")
    assert "recursion: 52 / 52" in summary and "swell.json" in summary
    times = json.loads((tmp_path / "swell" / "swell-times.json").read_text())
    counts = json.loads((tmp_path / "swell" / "swell.json").read_text())
    assert [{k: v for k, v in row.items() if k != "seconds"} for row in times["rows"]] == \
        counts["rows"]
    assert all(set(row["seconds"]) == set(swell.ROUTES) | {f"{r}_cse" for r in swell.ROUTES}
               and all(s >= 0 for s in row["seconds"].values()) for row in times["rows"])
    files = sorted(p.name for p in (tmp_path / "swell").iterdir()
                   if p.name not in (".symbp-manifest", "swell-times.json"))
    assert files == ["swell.json", "swell.md", "swell.svg"]
    first = {name: (tmp_path / "swell" / name).read_bytes() for name in files}
    run_swell(range(1, 4), [2, 3], tmp_path / "swell")
    assert first == {name: (tmp_path / "swell" / name).read_bytes() for name in files}
    md = first["swell.md"].decode()
    assert "![" in md and "(swell.svg)" in md and "| 3 | 3 | 9 | 9 |" in md
    assert json.loads(first["swell.json"])["rows"][-1]["paths"] == 9


@pytest.mark.needs_pdflatex
def test_the_plot_and_the_table_compile(rows):
    from symbp.render.latex import compile_pdf

    assert compile_pdf(swell_standalone_tex(rows)).startswith(b"%PDF")
    table = "\n".join([r"\documentclass{article}", r"\usepackage{booktabs,longtable}",
                       r"\begin{document}", swell_table(rows, "tex"), r"\end{document}"])
    assert compile_pdf(table).startswith(b"%PDF")


def test_grid_defaults_are_the_issue_s():
    assert swell.DEFAULT_DEPTHS == (1, 2, 3, 4, 5, 6)
    assert swell.DEFAULT_WIDTHS == (2, 3, 4)
    assert math.prod([4] * 5) <= swell.MAX_PATHS  # the default grid is measured in full

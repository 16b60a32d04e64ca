"""Typesetting of the PDF on the networks the issue names: clean lines, full pages, metadata."""

import re
import shutil
import subprocess
from functools import cache

import pytest
import sympy as sp

import symbp
from symbp.printing.latex import CONTINUE, Printer
from symbp.render.latex import compile_tex
from tests.test_worked import MAZUR

NETWORKS = {
    "softmax": (symbp.Network([4, 5, 5, 3], activation="tanh", cost="softmax_ce"), None),
    "deep": (symbp.Network([3] * 7, activation="generic"), None),
    "worked": (symbp.Network([2, 2, 2]), MAZUR),
    "twelve deep": (symbp.Network([2] * 12, activation="tanh"), None),
}
FULL = 0.6  # every page but the last is at least this full


@cache
def compiled(name):
    net, example = NETWORKS[name]
    d = symbp.derive(net)
    tex = symbp.render(d, "tex", symbp.prove(d, "local"), example=example)
    return tex, compile_tex(tex)


def _fills(pdf: bytes, tmp_path) -> list[float]:
    """How far down each page its text reaches, as a share of the text block."""
    path = tmp_path / "d.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True,
                         text=True, check=True).stdout
    fills = []
    for page in out.split("<page ")[1:]:
        height = float(re.search(r'height="([\d.]+)"', page).group(1))
        body = [float(y) for y in re.findall(r'yMax="([\d.]+)"', page)
                if float(y) < 0.9 * height]  # the page number sits below
        fills.append(max(body) / (0.916 * height))  # A4, 2.5 cm margins
    return fills


@pytest.mark.slow
@pytest.mark.needs_pdflatex
@pytest.mark.parametrize("name", NETWORKS)
def test_no_overfull_lines(name):
    _, result = compiled(name)
    assert result.overfull == []


@pytest.mark.slow
@pytest.mark.needs_pdflatex
@pytest.mark.skipif(not shutil.which("pdftotext"), reason="pdftotext is not installed")
@pytest.mark.parametrize("name", ["softmax", "deep", "worked"])  # twelve deep: the proof table
def test_no_half_empty_pages(name, tmp_path):
    _, result = compiled(name)
    fills = _fills(result.pdf, tmp_path)
    assert len(fills) > 5
    assert [round(f, 2) for f in fills[:-1] if f < FULL] == []


@pytest.mark.slow
@pytest.mark.needs_pdflatex
@pytest.mark.skipif(not shutil.which("pdfinfo"), reason="pdfinfo is not installed")
def test_pdf_metadata_names_the_network(tmp_path):
    _, result = compiled("softmax")
    path = tmp_path / "d.pdf"
    path.write_bytes(result.pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True,
                          check=True).stdout
    assert "Title:           Backpropagation step by step: the 4-5-5-3 network" in info
    assert re.search(r"Subject: +The gradients of the 4-5-5-3 network", info)


def test_inline_relations_never_break_and_lines_never_end_alone():
    d = symbp.derive(symbp.Network([2, 2]))
    tex = symbp.render(d, "tex")
    for rule in (r"\relpenalty=10000", r"\clubpenalty=10000", r"\widowpenalty=10000",
                 r"\displaywidowpenalty=10000"):
        assert rule in tex


def test_long_sums_continue_past_the_relation():
    x = sp.symbols("x1:30")
    P = Printer({s: s.name for s in x}, line=200)
    rows = P.wrap("C", [P(s) for s in x])
    assert len(rows) > 2 and rows[0][0] == "C"
    assert all(lhs is None and rhs.startswith(CONTINUE + " + ") for lhs, rhs in rows[1:])
    assert CONTINUE == r"\qquad"  # 22 pt: wider than the relation "=" with its spaces

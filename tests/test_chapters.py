"""The section "For every width and depth" and the matrix-calculus chapter."""

import re
from pathlib import Path

import pytest

import symbp
from symbp.cli.main import main
from symbp.document.general import general_part
from symbp.document.matrix import matrix_chapter
from symbp.render.documents import render_matrix
from symbp.render.latex import compile_tex
from tests.test_theorem import recursion

EXAMPLE = Path(__file__).resolve().parent.parent / "output" / "default"
SOFTMAX = symbp.Network([3, 4, 3], activation="sigmoid", cost="softmax_ce")


def _section(text: str) -> str:
    start = text.index("For every width and depth")
    return text[start:text.index("The update rules", start)]


@pytest.mark.parametrize("fmt", ["tex", "md"])
def test_every_derivation_document_carries_the_general_section(default_derivation,
                                                               default_proof, fmt):
    section = _section(symbp.render(default_derivation, fmt, default_proof))
    for lemma in ("Lemma 1", "Lemma 2", "Lemma 3", "Induction"):
        assert lemma in section
    assert r"\sum_{i=1}^{n_{l+1}} w^{(l+1)}_{ik} \delta^{(l+1)}_{i}" in section
    assert "proved" in section and "not" not in section.split("Result:")[1].split("\n")[0]
    # the Kronecker delta is a bracket; δ is kept for the error
    assert "[j = k]" in section and not re.search(r"\\delta_\{?[jik] ?[jik]\}?", section)


def test_a_wrong_recursion_shows_in_the_section():
    d = symbp.derive(symbp.Network([2, 3, 2]), recursion=recursion(drop_prime=True))
    part = general_part(d)
    assert part.status == "failed" and not part.holds and part.failures
    assert "not" in _section(symbp.render(d, "md")).split("Result:")[1]


def test_the_section_follows_the_output_activation():
    part = general_part(symbp.derive(SOFTMAX))
    assert (part.activation, part.output, part.cost) == ("sigmoid", "softmax", "softmax_ce")
    assert part.holds
    assert r"\sum_{i=1}^{n_{L}} y_{i}" in part.base[0].statement  # δ_L = a_L Σ y − y


@pytest.mark.parametrize("net", [symbp.Network(), SOFTMAX], ids=["default", "softmax"])
def test_every_identity_of_the_matrix_chapter_names_a_checked_claim(net):
    chapter = matrix_chapter(symbp.derive(net))
    tex = render_matrix(chapter, "tex")
    tags = re.findall(r"\\tag\{(M\d+)\}", tex)
    assert tags == [f"M{n}" for n in range(1, len(chapter.checks) + 1)]  # in reading order
    assert [c.tag for c in chapter.checks] == tags
    assert chapter.status == "proved" and all(c.status == "proved" for c in chapter.checks)
    named = {c.name: c for c in chapter.checks}
    for name in ("diag", "linear", "third-order", "batch weights", "kronecker", "theorem"):
        assert name in named
    assert named["kronecker"].established == ("written out and compared exactly at every width "
                                              "from 1 to 4, and only there")
    assert named["batch weights"].established.startswith("as a symbolic identity, for every")
    assert ("softmax matrix" in named) == (net == SOFTMAX)


def test_the_matrix_chapter_is_byte_identical_and_in_both_formats():
    d = symbp.derive(symbp.Network())
    for fmt in ("tex", "md"):
        first = render_matrix(matrix_chapter(d), fmt)
        assert first == render_matrix(matrix_chapter(symbp.derive(symbp.Network())), fmt)
        assert "Backpropagation with Matrix Calculus" in first
        assert r"\Delta_l^{T} A_{l-1}" in first and r"a_{l-1}^{T} \otimes I_{n_l}" in first
    with pytest.raises(ValueError, match="docx"):
        render_matrix(matrix_chapter(d), "docx")


@pytest.mark.needs_pdflatex
@pytest.mark.slow
@pytest.mark.parametrize("net", [symbp.Network(), SOFTMAX], ids=["default", "softmax"])
def test_the_matrix_chapter_compiles_without_overfull_lines(net):
    compiled = compile_tex(render_matrix(matrix_chapter(symbp.derive(net)), "tex"))
    assert compiled.overfull == []


@pytest.mark.needs_pdflatex
@pytest.mark.slow
def test_derive_writes_the_matrix_chapter(tmp_path, capsys):
    assert main(["derive", "-q", "--format", "matrix,json", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".symbp-manifest", "matrix.md", "matrix.pdf", "matrix.tex", "proof.json"]
    assert (tmp_path / "matrix.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("fmt", ["tex", "md"])
def test_committed_matrix_chapter_is_current(fmt):
    committed = (EXAMPLE / f"matrix.{fmt}").read_text(encoding="utf-8")
    assert committed == render_matrix(matrix_chapter(symbp.derive(symbp.Network())), fmt), (
        f"output/default/matrix.{fmt} is out of date; regenerate it (symbp derive) and commit it")
    assert (EXAMPLE / "matrix.pdf").read_bytes().startswith(b"%PDF")


def test_hidden_layers_that_are_not_one_elementwise_sigma_are_written_as_the_generic_one():
    for net, written in [(symbp.Network([3, 3, 3], activation="softmax", cost="softmax_ce"),
                          "softmax"),
                         (symbp.Network([2, 3, 3, 1], activation=["tanh", "relu", "sigmoid"]),
                          "tanh, relu")]:
        chapter = matrix_chapter(symbp.derive(net))
        assert chapter.written_generic == written and chapter.activation == r"\sigma"
        assert chapter.status == "proved"
        assert f"use {written}" in render_matrix(chapter, "md")
    assert matrix_chapter(symbp.derive(symbp.Network())).written_generic == ""

"""Markdown that survives GitHub: derivation.md and matrix.md rendered as GitHub renders them.

GitHub runs Markdown over the text first (backslash escapes, emphasis, tables) and reads
the math afterwards, from what is left. The test does the same with markdown-it-py
(CommonMark with tables): every formula must come out of it exactly as the templates
wrote it (the $-form, which Jupyter reads math-first), in the same order, none lost,
none left as bare dollars that Markdown would eat into.
"""

import html
import re
from functools import cache

import pytest

import symbp
from symbp.document.build import build
from symbp.document.matrix import matrix_chapter
from symbp.render.documents import render_document, render_matrix
from tests.test_worked import MAZUR

markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py is in the test extra")

NETWORKS = {
    "default": (symbp.Network(), None),
    "softmax": (symbp.Network([4, 5, 5, 3], activation="tanh", cost="softmax_ce"), None),
    "relu": (symbp.Network([8, 16, 16, 4], activation="relu"), None),
    "deep": (symbp.Network([3] * 7, activation="generic"), None),
    "worked": (symbp.Network([2, 2, 2]), MAZUR),
    "mixed": (symbp.Network([3, 4, 4, 2], activation=["tanh", "relu", "sigmoid"]), None),
}


@cache
def documents(name):
    """(GitHub Markdown, the same with $-math) for the derivation and the matrix chapter."""
    net, example = NETWORKS[name]
    d = symbp.derive(net)
    doc, chapter = build(d, symbp.prove(d, "local"), example=example), matrix_chapter(d)
    return {"derivation": (render_document(doc, "md"), render_document(doc, "md", github=False)),
            "matrix": (render_matrix(chapter, "md"), render_matrix(chapter, "md", github=False))}


def source_formulas(dollars: str) -> list[str]:
    """The formulas as written: $$ blocks and $...$ (an escaped \\$ is a dollar sign)."""
    found = []
    for block, inline in re.findall(r"^\$\$\n(.*?)\n\$\$$|(?<!\\)\$([^$\n]+)\$", dollars,
                                    flags=re.S | re.M):
        found.append(block or inline)
    return found


def github_formulas(md: str) -> tuple[list[str], str]:
    """The formulas GitHub's renderer receives, and the page's text outside them."""
    page = markdown_it.MarkdownIt("commonmark").enable("table").render(md)
    pattern = r'<pre><code class="language-math">(.*?)\n</code></pre>|\$<code>(.*?)</code>\$'
    found = [html.unescape(block or inline) for block, inline in re.findall(pattern, page, re.S)]
    return found, re.sub(pattern, "", page, flags=re.S)


@pytest.mark.parametrize("chapter", ["derivation", "matrix"])
@pytest.mark.parametrize("name", NETWORKS)
def test_every_formula_reaches_githubs_math_renderer_as_written(name, chapter):
    md, dollars = documents(name)[chapter]
    written = source_formulas(dollars)
    received, text = github_formulas(md)
    assert len(written) > 20
    for n, (want, got) in enumerate(zip(written, received)):
        got = re.sub(r"^(\s*)([-+*]) +", r"\1\2", got, flags=re.M)  # as the $-form keeps lists out
        assert got == want, f"formula {n}: {want!r} became {got!r}"
    assert len(received) == len(written)
    leftover = re.sub(r"<[^>]+>", "", text)
    assert "$" not in html.unescape(leftover).replace("\\$", "")  # no bare $-math for Markdown


@pytest.mark.parametrize("name", NETWORKS)
def test_inline_math_holds_no_row_break(name):
    for chapter in ("derivation", "matrix"):
        for formula in re.findall(r"\$`(.*?)`\$", documents(name)[chapter][0]):
            assert "\\\\" not in formula, formula  # cases and aligned rows are displays


@pytest.mark.parametrize("name", NETWORKS)
def test_dollar_markdown_keeps_display_lines_out_of_lists(name):
    """The $-form (Jupyter, MathJax): no line of a $$ block reads as a list item or rule."""
    for block in re.findall(r"\$\$\n(.*?)\n\$\$", documents(name)["derivation"][1], flags=re.S):
        for line in block.splitlines():
            assert not re.match(r"\s{0,3}[-+*] ", line), line
            assert not re.fullmatch(r"\s*[-=]+\s*", line), line


@pytest.mark.parametrize("name", NETWORKS)
def test_a_blank_line_stands_around_every_image_and_heading(name):
    lines = documents(name)["derivation"][0].splitlines()
    images = [n for n, line in enumerate(lines) if line.startswith("![")]
    assert images
    for n in images:
        assert lines[n - 1] == "" and (n + 1 == len(lines) or lines[n + 1] == ""), lines[n]
    fenced = False
    for n, line in enumerate(lines):
        fenced ^= line.startswith("```")
        if line.startswith("#") and not fenced and n:
            assert lines[n - 1] == "", line


@pytest.mark.parametrize("formats", ["tex,md,json", "md", "md,figures"])
def test_every_linked_figure_is_written(tmp_path, formats):
    from symbp.cli.main import main

    out = tmp_path / "out"
    assert main(["derive", "--widths", "2,3,2", "--out", str(out), "--format", formats,
                 "-q"]) == 0
    md = (out / "derivation.md").read_text()
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert linked
    for name in linked:
        assert (out / name).is_file(), name

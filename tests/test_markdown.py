"""Markdown that renders the same everywhere: checks on derivation.md and the files it links."""

import re
from functools import cache

import pytest

import symbp
from symbp.cli.main import main
from tests.test_worked import MAZUR

NETWORKS = {
    "default": (symbp.Network(), None),
    "softmax": (symbp.Network([4, 5, 5, 3], activation="tanh", cost="softmax_ce"), None),
    "deep": (symbp.Network([3] * 7, activation="generic"), None),
    "worked": (symbp.Network([2, 2, 2]), MAZUR),
    "relu": (symbp.Network([2, 3, 2], activation="relu"), None),
}


@cache
def markdown(name):
    net, example = NETWORKS[name]
    d = symbp.derive(net)
    return symbp.render(d, "md", symbp.prove(d, "local"), example=example)


def _outside_display_math(md):
    """The text with every $$ ... $$ block blanked out (line structure kept)."""
    return re.sub(r"\$\$\n.*?\n\$\$", lambda m: "\n" * m.group(0).count("\n"), md, flags=re.S)


@pytest.mark.parametrize("name", NETWORKS)
def test_no_line_of_display_math_reads_as_a_list_item(name):
    for block in re.findall(r"\$\$\n(.*?)\n\$\$", markdown(name), flags=re.S):
        for line in block.splitlines():
            assert not re.match(r"\s{0,3}[-+*] ", line), line
            assert not re.fullmatch(r"\s*[-=]+\s*", line), line  # nor a heading underline


@pytest.mark.parametrize("name", NETWORKS)
def test_inline_math_never_spans_a_line_break(name):
    for line in _outside_display_math(markdown(name)).splitlines():
        unescaped = re.sub(r"\\\$", "", line)
        assert unescaped.count("$") % 2 == 0, line


@pytest.mark.parametrize("name", NETWORKS)
def test_display_math_stands_apart(name):
    lines = markdown(name).splitlines()
    for n, line in enumerate(lines):
        if line == "$$" and lines[:n].count("$$") % 2 == 0:  # an opening $$
            assert lines[n - 1] == "", lines[n - 1]


@pytest.mark.parametrize("name", NETWORKS)
def test_a_blank_line_follows_every_image(name):
    lines = markdown(name).splitlines()
    images = [n for n, line in enumerate(lines) if line.startswith("![")]
    assert images
    for n in images:
        assert lines[n - 1] == "" and (n + 1 == len(lines) or lines[n + 1] == ""), lines[n]


@pytest.mark.parametrize("formats", ["tex,md,json", "md", "md,figures"])
def test_every_linked_figure_is_written(tmp_path, formats):
    out = tmp_path / "out"
    assert main(["derive", "--widths", "2,3,2", "--out", str(out), "--format", formats,
                 "-q"]) == 0
    md = (out / "derivation.md").read_text()
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert linked
    for name in linked:
        assert (out / name).is_file(), name


@pytest.mark.parametrize("name", NETWORKS)
def test_headings_stand_apart(name):
    lines = _outside_display_math(markdown(name)).splitlines()
    for n, line in enumerate(lines[1:], start=1):
        if line.startswith("#"):
            assert lines[n - 1] == "", line

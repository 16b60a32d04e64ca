"""Titles: any Unicode text is either typeset or shown by its code, decided before any work;
TeX's specials print as themselves; a title can never inject Markdown or LaTeX structure."""

import shutil
import subprocess

import pytest

from symbp.cli.main import main
from symbp.render.environment import (
    _TEX_ESCAPES,
    _TEX_LETTERS,
    escape_md,
    escape_tex,
    plain_line,
    unsettable,
)
from symbp.render.latex import compile_pdf

SPECIALS = '<a> | "q"'
WORLD = "Grads 😀 深度学习 שלום مرحبا"


def test_specials_that_ot1_fonts_would_misprint():
    assert escape_tex(SPECIALS) == (r"\textless{}a\textgreater{} \textbar{} "
                                    r"{\ttfamily\char34}q{\ttfamily\char34}")


def test_what_pdflatex_cannot_set_is_shown_by_its_code():
    assert escape_tex(WORLD) == (r"Grads \texttt{[U+1F600]} \texttt{[U+6DF1 U+5EA6 U+5B66 "
                                 r"U+4E60]} \texttt{[U+05E9 U+05DC U+05D5 U+05DD]} "
                                 r"\texttt{[U+0645 U+0631 U+062D U+0628 U+0627]}")
    assert unsettable(WORLD)[:2] == ["😀", "深"]
    assert unsettable("Café, naïve, Łódź, ß, αβ, “quoted” — fine") == []
    assert escape_tex("e\u0301") == "é"  # a combining accent is composed first


def test_line_breaks_become_spaces_and_control_characters_go():
    assert plain_line("one\ntwo\r\nthree\u2028four\tfive") == "one two  three four five"
    assert plain_line("a\x00b\x7fc\x1bd\u202ee") == "abcde"  # NUL, DEL, ESC, a bidi override


def test_a_newline_cannot_inject_markdown_structure():
    md = escape_md("Intro\n# Injected heading\n- an item\n\n| a | b |")
    assert "\n" not in md
    assert md == r"Intro \# Injected heading - an item  \| a \| b \|"


def test_a_newline_cannot_end_the_latex_title():
    assert "\n" not in escape_tex("first\n\nsecond")  # a blank line would be \par in \title


@pytest.mark.parametrize(("title", "named"), [
    ("a\x7fb", "U+007F"), ("a\x00b", "U+0000"), ("a\x1b[31mred", "U+001B"), ("  ", "empty"),
])
def test_control_characters_and_empty_titles_are_refused_before_any_work(title, named, tmp_path,
                                                                         capsys):
    assert main(["derive", "--title", title, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err
    assert not (tmp_path / "out").exists()


@pytest.mark.needs_pdflatex
def test_a_unicode_title_is_typeset_or_shown_and_specials_print_right(tmp_path, capsys):
    title = f"{WORLD} {SPECIALS}\nsecond line"
    code = main(["derive", "--widths", "2,2", "--title", title, "--format", "tex,md,pdf",
                 "--out", str(tmp_path)])  # in this process: test_cli.py starts real ones
    err = capsys.readouterr().err
    assert code == 0, err
    assert err.startswith("note: pdflatex cannot set 😀 深 度 学 习")  # up front
    assert err.count("\n") == 1
    md = (tmp_path / "derivation.md").read_text()
    assert md.startswith(f"# {WORLD} \\<a\\> \\| \"q\" second line\n")  # the Markdown keeps it
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(tmp_path / "derivation.pdf"), "-"],
                              capture_output=True, text=True, check=True).stdout
        first = " ".join(text.split("Derived and proved")[0].split())
        assert first == ("Grads [U+1F600] [U+6DF1 U+5EA6 U+5B66 U+4E60] [U+05E9 U+05DC U+05D5 "
                         'U+05DD] [U+0645 U+0631 U+062D U+0628 U+0627] <a> | "q" second line')


@pytest.mark.needs_pdflatex
def test_every_letter_escape_tex_passes_through_compiles_without_bitmap_fonts(tmp_path):
    text = "".join(sorted(_TEX_LETTERS)) + "".join(sorted(_TEX_ESCAPES))
    tex = ("\\documentclass{article}\\begin{document}" + escape_tex(text) +
           "\\end{document}\n")
    pdf = tmp_path / "letters.pdf"
    pdf.write_bytes(compile_pdf(tex))
    if shutil.which("pdffonts"):
        fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                               check=True).stdout
        assert "Type 3" not in fonts  # no bitmap font: every glyph comes from the CM Type 1s


def test_a_parameters_name_keeps_its_subscript_in_the_math():
    from symbp.document.checks import title

    # the words lose underscores, the math keeps them: "$W_{2}$", never "$W {2}$"
    assert title("dC/dW_2") == "the gradient of $W_{2}$"
    assert title("softmax_ce gradient") == "the gradient of the softmax ce cost"

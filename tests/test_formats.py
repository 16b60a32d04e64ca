"""The formats: one registry for the CLI and the API, and the web page, slides and notebook,
each checked where it is used: the page in a real Chromium, the deck by pdflatex, the notebook
run top to bottom by a Jupyter kernel."""

import json
import re
import shutil
from functools import cache
from pathlib import Path

import pytest

import symbp
from symbp.cli import config
from symbp.cli.main import main
from symbp.document.paths import SLIDE_ROWS
from symbp.render.formats import DEFAULT_FORMATS, FORMATS, Build
from symbp.render.latex import compile_tex
from tests import browser
from tests.examples import dense_examples
from tests.test_worked import MAZUR

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NETWORKS = {  # the three the issue names
    "default": symbp.Network(),
    "softmax": symbp.Network([4, 5, 5, 3], activation="tanh", cost="softmax_ce"),
    "relu": symbp.Network([8, 16, 16, 4], activation="relu"),
}


@cache
def built(name):
    net = NETWORKS[name]
    d = symbp.derive(net)
    return Build(d, symbp.prove(d, "local"))


# ---------------------------------------------------------------- one registry


def test_the_cli_and_the_api_read_one_table_of_formats():
    assert config.default_formats() == DEFAULT_FORMATS
    with pytest.raises(ValueError, match="choose one of: " + ", ".join(FORMATS)):
        config.check_formats([])
    assert {"html", "slides", "ipynb"} <= set(FORMATS)
    assert "slides" not in DEFAULT_FORMATS and "numba" not in DEFAULT_FORMATS


def test_an_unknown_format_names_every_valid_one():
    d = symbp.derive(symbp.Network([2, 2]))
    with pytest.raises(ValueError, match="unknown format 'docx'; choose one of: " +
                       ", ".join(FORMATS)):
        symbp.render(d, "docx")
    assert main(["derive", "--format", "md,docx", "-q"]) == 2


@pytest.mark.parametrize("fmt", [f for f in FORMATS
                                 if f not in ("pdf", "slides", "numba", "second_order")])
def test_render_makes_what_derive_writes(fmt, tmp_path):
    b = built("default")
    files = FORMATS[fmt].make(Build(b.d, b.proof, wanted=(fmt,)))
    main_file = FORMATS[fmt].files[0]
    assert symbp.render(b.d, fmt, b.proof) == files[main_file].decode()
    for name in files:
        assert name in FORMATS[fmt].files


def test_render_makes_the_second_order_chapter_of_an_order_2_derivation():
    d = symbp.derive(symbp.Network([2, 2, 2]), order=2)
    second = symbp.prove(d)
    files = FORMATS["second_order"].make(Build(d, symbp.prove(d, order=1), second=second,
                                               wanted=("second_order",)))
    assert symbp.render(d, "second_order", second=second) == files["second_order.tex"].decode()
    page = symbp.render(d, "second_order", file="second_order.html")
    assert page.startswith("<!DOCTYPE html>") and "Second order" in page
    assert "def hvp(" in symbp.render(d, "py")
    with pytest.raises(ValueError, match=r"cannot render 'second_order': .*order 2"):
        symbp.render(built("default").d, "second_order")


def test_render_names_the_files_a_format_writes():
    b = built("default")
    page = symbp.render(b.d, "html", b.proof, file="matrix.html")
    assert page.startswith("<!DOCTYPE html>") and "Matrix Calculus" in page
    with pytest.raises(ValueError, match=r"format 'html' writes derivation.html, matrix.html; "
                                         r"got file='x.pdf'"):
        symbp.render(b.d, "html", b.proof, file="x.pdf")
    with pytest.raises(ValueError, match=r"wrote no worked\.json"):
        symbp.render(b.d, "json", b.proof, file="worked.json")  # no example given


def test_render_compiles_only_the_pdf_it_returns(monkeypatch):
    """render(d, "slides") is slides.tex: pdflatex is not run for a PDF nobody gets."""
    from symbp.render import formats

    compiled = []
    monkeypatch.setattr(formats, "compile_all", lambda texs, **_: compiled.append(texs) or [
        type("Compiled", (), {"pdf": b"%PDF"})() for _ in texs])
    b = built("default")
    for fmt in ("slides", "matrix"):
        assert symbp.render(b.d, fmt, b.proof).startswith("\\documentclass")
    assert compiled == []
    assert symbp.render(b.d, "slides", b.proof, file="slides.pdf") == b"%PDF"
    assert compiled == [[b.slides_tex]]


@pytest.mark.slow
@pytest.mark.needs_pdflatex
def test_render_returns_a_pdf_as_bytes():
    b = built("default")
    pdf = symbp.render(b.d, "pdf", b.proof)
    assert isinstance(pdf, bytes) and pdf.startswith(b"%PDF")
    chapter = symbp.render(b.d, "matrix", b.proof, file="matrix.pdf")
    assert isinstance(chapter, bytes) and chapter.startswith(b"%PDF")


# ---------------------------------------------------------------- the web page


@cache
def _pages(name):
    """The html format's files of a network, made once: its page and its chapter's."""
    return {file: data.decode() for file, data in FORMATS["html"].make(built(name)).items()}


def _page(name, which="derivation.html"):
    return _pages(name)[which]


def test_the_page_is_self_contained_and_its_math_is_mathml():
    page = _page("default")
    assert page.startswith("<!DOCTYPE html>") and '<meta name="viewport"' in page
    assert not re.search(r"""(src|href)=["'](?!#)""", page)  # nothing fetched, only anchors
    assert "<script" not in page and "@media print" in page
    assert page.count("<svg ") >= 2 and page.count("<math ") > 200
    prose = re.sub(r"<math .*?</math>|<svg .*?</svg>|<style>.*?</style>", "", page, flags=re.S)
    for tex in (r"\frac", r"\sum", "$$", r"\(", r"\begin"):
        assert tex not in prose
    assert "\\" not in prose  # no TeX escape left in the text either (it read count\_ops)


# the pages each test below looks at, in one Chromium (a start costs more than a page):
# (network, file, width)
BROWSED = [("default", "derivation.html", width) for width in (375, 1280)] + [
    (name, which, width) for name in ("softmax", "relu")
    for which in ("derivation.html", "matrix.html") for width in (375, 1280)]


@pytest.fixture(scope="module")
def browsed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chromium")
    pages = [(_page(name, which), width) for name, which, width in BROWSED]
    return dict(zip(BROWSED, browser.inspect_all(pages, folder)))


@pytest.mark.skipif(browser.CHROMIUM is None, reason=browser.MISSING)
@pytest.mark.parametrize("width", [375, 1280])
def test_every_formula_renders_and_nothing_overflows_in_chromium(width, browsed):
    """The default network's page in a real Chromium: at a phone's and a laptop's width."""
    browser.assert_clean(browsed["default", "derivation.html", width], width)


@pytest.mark.slow
@pytest.mark.skipif(browser.CHROMIUM is None, reason=browser.MISSING)
@pytest.mark.parametrize("which", ["derivation.html", "matrix.html"])
@pytest.mark.parametrize("name", ["softmax", "relu"])
@pytest.mark.parametrize("width", [375, 1280])
def test_wide_and_softmax_pages_render_in_chromium(name, which, width, browsed):
    browser.assert_clean(browsed[name, which, width], width)


# ---------------------------------------------------------------- the slides


@pytest.mark.slow
@pytest.mark.needs_pdflatex
@pytest.mark.parametrize("name", NETWORKS)
def test_the_slides_compile_with_every_frame_on_its_page(name):
    b = built(name)
    compiled = compile_tex(b.slides_tex)
    assert compiled.pdf.startswith(b"%PDF")
    assert compiled.overfull == []
    assert not [line for line in compiled.log.splitlines() if line.startswith("Overfull \\vbox")]


def test_the_slides_reveal_the_recursion_one_move_at_a_time():
    tex = built("default").slides_tex
    frame = tex.split(r"\begin{frame}{The $\delta$ recursion, one move at a time}")[1]
    frame = frame.split(r"\end{frame}")[0]
    rows = built("default").document.recursion
    for n in range(1, len(rows) + 1):
        assert rf"\uncover<{n}->" in frame
    # a frame for each step, one for its numbers, and one more for the output layer's factors
    assert tex.count(r"\begin{frame}{Step ") == 2 * built("default").d.L + 1
    assert r"\begin{frame}{The tree of dependencies" in tex and r"\pause" in tex


def test_the_path_sum_slide_writes_out_only_the_paths_that_fit_its_frame():
    # one row per path (default, relu): all eight as in the document; two rows per path
    # (softmax_ce): three, so that the frame does not shrink them past reading
    for name, shown in (("default", 6), ("relu", 8), ("softmax", 3)):
        paths = built(name).document.path_sum
        assert (paths.slide == paths.explicit) == (shown == paths.shown)
        assert paths.slide.count(r"\\") <= SLIDE_ROWS + 1  # the rows and the note
        if shown < paths.paths:
            assert f"{paths.paths} paths; the first {shown} are written out" in paths.slide
        assert paths.slide in built(name).slides_tex


# ---------------------------------------------------------------- the notebook


def test_the_notebook_is_the_same_on_every_build():
    b = built("default")
    one = FORMATS["ipynb"].make(b)["derivation.ipynb"]
    assert one == FORMATS["ipynb"].make(Build(b.d, b.proof))["derivation.ipynb"]
    nb = json.loads(one)
    ids = [c["id"] for c in nb["cells"]]
    assert ids == [f"cell-{n:02d}" for n in range(1, len(ids) + 1)]
    sources = "\n".join("".join(c["source"]) for c in nb["cells"])
    for call in ("symbp.derive(net)", "symbp.prove(d)", "symbp.theorem(", "symbp.lambdify(d)"):
        assert call in sources
    assert "the biases move too" in sources


def _run(notebook_text):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.reads(notebook_text, as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.outputs)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["default", "softmax", "relu"])
def test_the_notebook_runs_top_to_bottom(name):
    printed = _run(FORMATS["ipynb"].make(built(name))["derivation.ipynb"].decode())
    assert "proved" in printed and "central difference" in printed and "after 300" in printed
    # the entry checked is the largest: with ReLU, w^(1)_11's gradient was 0 (a unit that is
    # off), a check that could not fail
    checked = re.search(r"central difference (\S+), backpropagation (\S+)", printed)
    assert float(checked[1]) != 0 and checked[1] == checked[2]


@pytest.mark.slow
def test_the_worked_example_runs_in_the_notebook_with_its_own_numbers():
    d = symbp.derive(symbp.Network([2, 2, 2]))
    b = Build(d, symbp.prove(d), example=MAZUR)
    printed = _run(FORMATS["ipynb"].make(b)["derivation.ipynb"].decode())
    assert "cost before 0.29837110" in printed


# ---------------------------------------------------------------- every example network




# an example whose document or theorem another test file builds is derived there, where the
# theorem, lemmas and document it shares are built once (a file runs in one worker): its name,
# the file
ELSEWHERE = {"batchnorm.toml": "test_batchnorm.py", **{
    f"{name}.toml": "test_kinds_documents.py"
    for name in ("residual", "conv1d", "layernorm-mlp", "recurrent", "attention", "digits-conv")},
    **{p.name: "test_text.py" for p in dense_examples()}}


def derive_page_slides_and_notebook(example: str, out: Path) -> None:
    """``symbp derive`` writes the page, slides and notebook of an example network file."""
    # the formats are what is tested here (each example's proof is tested on its own), so
    # the cheapest method that proves: local lemmas
    # the deck of dense layers is compiled by the slides tests above (default, softmax); here
    # every example of layer kinds gets its own, each kind's LaTeX in a frame
    dense = config.load(EXAMPLES / example).net.dense
    formats = "html,ipynb" if dense else "html,slides,ipynb"
    assert main(["derive", str(EXAMPLES / example), "--format", formats,
                 "--method", "local", "--out", str(out), "-q"]) == 0
    written = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    if not dense:  # layer kinds: the matrix chapter layer by layer, and the deck
        assert written == ["derivation.html", "derivation.ipynb", "matrix.html", "slides.pdf",
                           "slides.tex"]
    else:
        assert written == ["derivation.html", "derivation.ipynb", "matrix.html"]
    assert shutil.which("pdflatex")


def test_every_example_gets_its_page_slides_and_notebook_here_or_in_its_file():
    tests = Path(__file__).parent
    for example, file in ELSEWHERE.items():
        assert (EXAMPLES / example).is_file(), example
        source = (tests / file).read_text()
        assert "derive_page_slides_and_notebook(" in source, file


@pytest.mark.slow
@pytest.mark.needs_pdflatex
@pytest.mark.parametrize("example", [p.name for p in sorted(EXAMPLES.glob("*.toml"))
                                     if p.name not in ELSEWHERE])
def test_derive_writes_page_slides_and_notebook_for_every_example(example, tmp_path):
    derive_page_slides_and_notebook(example, tmp_path / "out")

"""The documents of networks with layer kinds (examples/residual.toml, examples/conv1d.toml):
every format says what the network is, never a dense formula under another kind."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import re
import shutil
from functools import cache
from pathlib import Path

import pytest

import symbp
from symbp.cli import config
from symbp.cli.main import main
from symbp.document.kinds import KindsDocument, document
from symbp.render.documents import render_document
from symbp.render.figures import markdown_images
from tests import browser
from tests.test_formats import ELSEWHERE, derive_page_slides_and_notebook

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@cache
def written(name):
    net = config.load(EXAMPLES / f"{name}.toml").net
    d = symbp.derive(net)
    doc = document(d, symbp.prove(d, "local"))
    images = markdown_images(d)  # the tree of dependencies, inline in the web page
    return doc, {fmt: render_document(doc, fmt, images=images) for fmt in ("tex", "md", "html")}


@pytest.mark.parametrize("name", ["residual", "conv1d"])
def test_a_network_of_layer_kinds_gets_the_kinds_document_and_no_dense_layer(name):
    doc, texts = written(name)
    assert isinstance(doc, KindsDocument)
    for text in texts.values():
        # the seed's dense forward pass and its induction over dense layers are not there
        assert r"z_l = W_l\, a_{l-1} + b_l" not in text
        assert "For every width and depth" not in text
        assert "written for dense layers only" not in text  # nothing is left out any more
        assert "The same products, computed again and again" in text
        assert "Expression swell, measured" in text


def test_the_residual_document_has_the_skip_the_highway_and_the_projection_gradient():
    _, texts = written("residual")
    tex = texts["tex"]
    assert r"a_{1} = \tanh(z_{1}) + a_{0}" in tex  # the skip, in the forward pass
    assert r"a_{2} = \tanh(z_{2}) + P_{2}\, a_{1}" in tex  # the projection
    assert r"g_{0} &= W_{1}^{T} \delta_{1} + g_{1}" in tex  # the highway in δ's step
    assert r"g_{1} &= W_{2}^{T} \delta_{2} + P_{2}^{T} g_{2}" in tex
    assert r"\frac{\partial C}{\partial P_{2}} &= g_{2}\, a_{1}^{T}" in tex  # P's gradient
    # entry by entry, printed from the maps: the skip adds the input's entry
    assert r"{a^{(1)}}_{j} &= \tanh\bigl({z^{(1)}}_{j}\bigr) + {{x}}_{j}" in tex
    assert r"\frac{\partial C}{\partial {P^{(2)}}_{j,k}} &= {{g^{(2)}}}_{j} {{a^{(1)}}}_{k}" in tex
    # a residual layer is never given the dense layer's output a_l = σ(W_l a_(l-1) + b_l)
    assert r"a_{1} = \tanh(z_{1}), " not in tex
    assert r"\partial C / \partial P_{2} &= g_{2}\, a_{1}^{T}" in tex  # the whole pass


def test_the_conv1d_document_has_the_position_sum_and_the_flipped_kernel():
    _, texts = written("conv1d")
    tex = texts["tex"]
    assert r"\frac{\partial C}{\partial {K^{(1)}}_{o,c,s}} &= \sum_{t=1}^{6} " \
           r"{{\delta^{(1)}}}_{o,t} {{x}}_{c,s + t - 1}" in tex  # a sum over positions
    assert r"{g^{(0)}}_{c,u} &= \sum_{o=1}^{2} \sum_{s=1}^{3} [1 \le s + u - 3 \le 6] " \
           r"{{K^{(1)}}}_{o,c,4 - s}" in tex  # the full convolution with the flipped kernel
    assert r"\operatorname{flip}(K_{1}) \ast_{\text{full}} \delta_{1}" in tex
    assert r"$\partial C/\partial K_{1}$" in tex  # the proof's table names the kernel K
    assert "average pooling over 2" in tex


ROW = {"tex": (" & ", r" \\"), "md": (" | ", " |"), "html": ("</td><td>", "</td></tr>")}


@pytest.mark.parametrize("name", ["residual", "conv1d",  # recurrent: its document, about 5 s
                                  pytest.param("recurrent", marks=pytest.mark.slow)])
def test_every_format_carries_the_counts_and_the_swell_sympy_counts_too(name):
    from tests.test_kinds_swell import _by_sympy

    doc, texts = written(name)
    d = symbp.derive(config.load(EXAMPLES / f"{name}.toml").net)
    first = doc.work[0]  # the first entry of layer 1's first parameter, path by path in SymPy
    expected = _by_sympy(d, 1, d.layer_parameters(1)[next(iter(d.layer_parameters(1)))][0, 0])
    assert (first.paths, first.expansion, first.recursion) == (
        expected.paths, expected.path_multiplications, expected.delta_multiplications)
    assert first.paths == doc.paths[0].paths  # the table of paths counts the same
    swell = doc.swell.tables["md"]["rows"][-1]["cells"]  # depth 4: D, layers, input, paths, ...
    for fmt, text in texts.items():
        between, closing = ROW[fmt]  # a row's last cells
        for w in doc.work:
            assert between.join(map(str, (w.paths, w.expansion, w.recursion, w.saved))) + \
                closing in text, (fmt, w)
        assert between.join(swell[3:]) + closing in text, fmt
        assert "Expression swell, measured" in text and "Left out" not in text


def test_a_kinds_document_is_the_same_every_time():
    doc, texts = written("residual")
    assert render_document(doc, "md") == texts["md"]


@pytest.fixture(scope="module")
def derived(tmp_path_factory):
    """``symbp derive FILE`` of an example, every default format, run once in this file: its
    folder and what it said on stderr (the notebook test below runs the notebook it wrote,
    byte for byte the one ``--format ipynb`` writes)."""
    found: dict = {}

    def run(name):
        if name not in found:
            out, said = tmp_path_factory.mktemp(name) / "out", io.StringIO()
            with contextlib.redirect_stderr(said):
                assert main(["derive", str(EXAMPLES / f"{name}.toml"), "--out", str(out)]) == 0
            found[name] = out, said.getvalue()
        return found[name]

    return run


@pytest.mark.slow
@pytest.mark.needs_pdflatex
@pytest.mark.parametrize("name", ["residual", "conv1d"])
def test_derive_writes_every_document_format_and_the_pdf_compiles(name, derived):
    out, err = derived(name)
    written_files = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert {"derivation.tex", "derivation.md", "derivation.pdf", "derivation.html",
            "derivation.ipynb", "proof.json"} <= set(written_files)
    assert {"matrix.tex", "matrix.md", "matrix.pdf", "matrix.html"} <= set(written_files)
    assert {"graph.svg", "swell.svg"} <= set(written_files)
    assert (out / "derivation.pdf").read_bytes().startswith(b"%PDF")
    assert (out / "matrix.pdf").read_bytes().startswith(b"%PDF")
    assert re.search(r"[a-z]\. The example:", (out / "derivation.md").read_text())  # its space
    assert "note:" not in err
    cells = json.loads((out / "derivation.ipynb").read_text())["cells"]
    text = "".join("".join(c["source"]) for c in cells)
    assert "d = symbp.derive(net)" in text
    assert shutil.which("pdflatex")


# the pages the two tests below look at, in one Chromium (a start costs more than a page):
# (example, width)
BROWSED = [(name, 1280) for name in ("residual", "conv1d", "layernorm-mlp", "recurrent",
                                     "attention")] + [(name, 375) for name in ("recurrent",
                                                                               "attention")]


@pytest.fixture(scope="module")
def browsed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chromium")
    pages = [(written(name)[1]["html"], width) for name, width in BROWSED]
    return dict(zip(BROWSED, browser.inspect_all(pages, folder)))


@pytest.mark.slow
@pytest.mark.skipif(browser.CHROMIUM is None, reason=browser.MISSING)
@pytest.mark.parametrize("name", ["residual", "conv1d", "layernorm-mlp", "recurrent", "attention"])
def test_the_kinds_page_has_no_math_errors_in_chromium(name, browsed):
    report = browsed[name, 1280]
    assert report["maths"] > 20 and report["merror"] == 0
    assert report["tex"] == [] and report["mathTex"] == []


@pytest.mark.slow
@pytest.mark.skipif(browser.CHROMIUM is None, reason=browser.MISSING)
@pytest.mark.parametrize("name", ["recurrent", "attention"])
def test_a_kinds_page_fits_a_phone(name, browsed):
    # recurrent: its lemma δ_1 = (∂a_1/∂z_1)ᵀ ∂C/∂a_1 + (∂z_(1,t+1)/∂z_(1,t))ᵀ δ_(1,t+1) sat
    # inline, where math never breaks, 23 px past a 375 px screen; long lemmas are displayed
    browser.assert_clean(browsed[name, 375], 375)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """``derive_page_slides_and_notebook`` of an example, run once in this file: its folder,
    and what pdflatex made of each document it compiled (the slides test below reads the deck
    derive compiled, rather than compile the same .tex a second time)."""
    from symbp.render import formats

    found: dict = {}

    def run(name):
        if name not in found:
            compiled, real = {}, formats.compile_all

            def kept(texs, **kwargs):  # the real compile, its results noted
                results = real(texs, **kwargs)
                compiled.update(zip(texs, results))
                return results

            out = tmp_path_factory.mktemp(name) / "out"
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(formats, "compile_all", kept)
                derive_page_slides_and_notebook(f"{name}.toml", out)
            found[name] = out, compiled
        return found[name]

    return run


@pytest.mark.slow
@pytest.mark.needs_pdflatex
@pytest.mark.parametrize("name", ["residual", "conv1d"])
def test_the_kinds_slides_compile_with_every_frame_on_its_page(name, published):
    from symbp.render.slides import render_slides

    doc, _ = written(name)
    out, compiled_by_derive = published(name)
    tex = (out / "slides.tex").read_text()  # the deck symbp derive wrote and compiled: this
    # document's frames, under the network file's title, and its worked example's frames
    titled = dataclasses.replace(doc, title=config.load(EXAMPLES / f"{name}.toml").title)
    plain = render_slides(titled)
    frames = re.findall(r"\\begin\{frame\}.*?\\end\{frame\}", plain, re.S)
    assert len(frames) > 3 and all(frame in tex for frame in frames)
    assert plain.split(r"\begin{frame}")[0] == tex.split(r"\begin{frame}")[0]  # preamble
    compiled = compiled_by_derive[tex]
    assert compiled.pdf.startswith(b"%PDF")
    assert compiled.overfull == []
    assert not [line for line in compiled.log.splitlines() if line.startswith("Overfull \\vbox")]
    # one frame forward and two back (the step, then entry by entry) for every layer
    assert tex.count(r"\begin{frame}{Forward, layer ") == len(doc.layers)
    assert tex.count(r"\begin{frame}{Backward, layer ") == 2 * len(doc.layers)
    assert r"\begin{frame}{For every size}" in tex and r"\begin{frame}{Paths of influence}" in tex
    # the tree of dependencies on a frame of its own, as in the deck of dense layers
    assert tex.count(r"\begin{frame}{The tree of dependencies of $") == 1
    assert tex.count(r"\begin{tikzpicture}") == 1


@pytest.mark.slow
@pytest.mark.parametrize("name", ["conv1d"])  # a kernel of three axes, channels × positions
def test_the_kinds_notebook_runs_its_numbers_and_trains(name, derived):
    from tests.test_formats import _run

    out, _ = derived(name)  # the notebook symbp derive wrote, beside the other formats
    printed = _run((out / "derivation.ipynb").read_text())
    assert "proved" in printed and "central difference" in printed
    assert "cost before" in printed and "after 300" in printed


def test_rows_too_wide_for_a_page_are_elided_or_broken_never_run_off():
    from symbp.document.kinds_layer import _rows
    wide = " + ".join(f"x_{{{i}}} y_{{{i}}}" for i in range(60))
    assert re.search(r"written out, about \d+ lines long", _rows([("z_{j}", wide)], entries=True))
    forms = r",\ ".join(f"u_{{{i}}} = {wide[:300]}" for i in range(3))
    broken = _rows([("v", forms)])
    assert broken.count(r"&\hphantom{{}={}}") == 2 and "lines long" not in broken
    assert _rows([("a", "b")], entries=True) == "\\begin{aligned}\na &= b\n\\end{aligned}"


@pytest.mark.slow
@pytest.mark.needs_pdflatex
def test_the_table_of_layers_wraps_its_long_descriptions_inside_the_margin():
    # "a 1-D convolution, 2 channels, kernel 3, valid padding, average pooling over 2, relu"
    # ran 190 pt into the margin, its parameters off the page (the documents are this file's)
    from symbp.render.latex import compile_all

    texts = [written(name)[1]["tex"] for name in ("conv1d", "residual", "recurrent")]
    assert r">{\raggedright\arraybackslash}p{0.3\linewidth}" in texts[0]
    for compiled in compile_all(texts):
        assert compiled.overfull == []


@pytest.mark.slow
@pytest.mark.needs_pdflatex
def test_the_attention_document_fits_its_pages():
    """Its entries written out hold the whole softmax: 2,603 pt past the margin before."""
    from symbp.render.latex import compile_tex
    assert compile_tex(written("attention")[1]["tex"]).overfull == []  # proved once per file


@pytest.mark.slow
@pytest.mark.needs_pdflatex
@pytest.mark.parametrize("example", [e for e, file in ELSEWHERE.items() if file == Path(
    __file__).name])
def test_derive_writes_page_slides_and_notebook_for_every_example(example, published):
    """test_formats.py's test of every example, for the examples whose theorem this file
    proves (for a document or for every size below): it is proved once per file."""
    published(example.removesuffix(".toml"))  # its checks run inside, once per example


# attention's document proves its theorem for every size (~25 s): the tests that need that
# theorem sit here, beside the document, so it is proved once (the theorem is cached by its
# program in a process, and a file runs in one worker); so do those of the other examples


@pytest.mark.slow
def test_the_attention_document_says_what_it_is():
    text = written("attention")[1]["md"]
    assert "causal softmax attention, one head" in text
    assert r"\operatorname{rowsum}" in text and "{W^{Q}}_{1}" in text
    assert "vanishes by itself" in text
    assert ("softmax Jacobian over a row of attention weights under the causal mask, of "
            "any length: **proved**") in " ".join(text.split())  # its theorem for every size


@pytest.mark.slow
def test_the_attention_example_is_proved_for_every_size(capsys):
    written("attention")  # proves its theorem in this process, as a document would
    assert main(["prove", str(EXAMPLES / "attention.toml"), "--general", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["holds"] is True
    names = [c["name"] for c in data["claims"]]
    for name in ("step", "dC/dW_l", "dC/db_l", "dC/dWQ_l", "dC/dWK_l",
                 "causal row softmax Jacobian", "cross-check", "theorem"):
        assert name in names
    assert all(c["status"] == "proved" for c in data["claims"])
    theorem = next(c for c in data["claims"] if c["name"] == "theorem")
    assert theorem["statement"].startswith("for every depth L and all widths")


@pytest.mark.slow
def test_an_attention_network_gets_its_module_and_a_notebook_that_runs_its_numbers(tmp_path,
                                                                                   capsys):
    # attention's softmax is printed as code (symbp.numeric.maps_staged): --format py writes
    # gradients.py with no note, and the notebook runs the worked example with numbers. The
    # smallest network of the example's kinds, activations and output units, so fast proofs
    # per network: its theorem (every size, so not its widths) is the example's, proved here
    from tests.test_formats import _run

    written("attention")
    out, network = tmp_path / "out", tmp_path / "attention.toml"
    network.write_text('inputs = [1, 2]\n[[layers]]\nkind = "attention"\ncausal = true\n'
                       '[[layers]]\nkind = "dense"\nunits = 2\n')
    assert main(["derive", str(network), "--method", "local", "--format", "md,py,ipynb",
                 "--out", str(out)]) == 0
    assert not [line for line in capsys.readouterr().err.splitlines()
                if line.startswith("note:")]
    assert "PROGRAM = " in (out / "gradients.py").read_text()
    notebook = (out / "derivation.ipynb").read_text()
    cells = ["".join(c["source"]) for c in json.loads(notebook)["cells"]]
    assert cells[0].endswith(", runs a worked example with numbers and trains the network.")
    assert "cannot be run with numbers" not in notebook and "## Training" in cells[-2]
    assert "proved (local)" in _run(notebook)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "kinds"), [
    ("conv1d", None), ("digits-conv", None), ("residual", "residual, residual, dense"),
    ("layernorm-mlp", "dense, layernorm, dense"), ("recurrent", "recurrent, dense")])
def test_every_kinds_example_is_proved_for_every_size_of_its_shape(name, kinds, capsys):
    """``symbp prove FILE --general`` (test_file_theorem.py tests which theorem a file gets):
    each theorem here is the one its document, or its page, slides and notebook, proved."""
    code = main(["prove", str(EXAMPLES / f"{name}.toml"), "--general", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert (code, data["holds"]) == (0, True)
    said = next(c for c in data["claims"] if c["name"] == "theorem")["statement"]
    if kinds is None:
        assert data["network"].startswith("every depth and width: ")
        assert said.startswith("for every depth L and all widths")
        return
    depth = kinds.count(",") + 1
    assert data["network"].startswith(
        f"depth {depth}, this network's sequence of kinds, every size: ")
    assert said.startswith(f"at depth {depth} (this network's sequence of kinds: {kinds}), "
                           "for every size")
    assert not [c["name"] for c in data["claims"] if "every depth" in c["statement"]]
    assert not [c["name"] for c in data["claims"] if "for every layer l" in c["statement"]]

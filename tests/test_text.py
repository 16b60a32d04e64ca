"""Text that follows the network: what the documents say, compared with the network's own counts.

Over the example networks and the three the documents are most read for (the default, a
softmax classifier, a wide ReLU network): every count, name and index a sentence carries
comes from the network at hand, sums run 1, 2, ..., 16, weight indices are written one
way throughout, and an elided column of W_l is an elided entry of the vector it multiplies.
"""

import re
from functools import cache
from pathlib import Path

import pytest

import symbp
from symbp.cli import config
from symbp.document.build import build
from symbp.document.kinds import document
from symbp.document.matrix import matrix_chapter
from symbp.document.paths import paths_of_influence
from symbp.render.documents import render_document, render_matrix
from symbp.render.figures import markdown_images
from tests.examples import dense_examples
from tests.test_formats import ELSEWHERE, derive_page_slides_and_notebook

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NETWORKS = {
    # networks of dense layers; the layer kinds' documents: tests/test_kinds_documents.py
    **{p.stem: p for p in dense_examples()},
    "default": symbp.Network(),
    "softmax": symbp.Network([4, 5, 5, 3], activation="tanh", cost="softmax_ce"),
    "wide-relu": symbp.Network([8, 16, 16, 4], activation="relu"),
}
LOG_TEXT = ["n_L", "n_l-1", "n_(l-1)", "z_(l+1)", "delta^(", "output steps", "distinct",
            "traced at layer", "more", "dC/dz", "1..4", "1..5"]


@cache
def written(name):
    """The network, its document and the text of both documents in every text format."""
    spec = NETWORKS[name]
    job = config.load(spec) if isinstance(spec, Path) else config.Job(spec)
    d = symbp.derive(job.net)
    doc = build(d, symbp.prove(d, "local"), example=job.example)
    chapter = matrix_chapter(d)
    texts = {fmt: render_document(doc, fmt, images=markdown_images(d))
             for fmt in ("tex", "md", "html")}
    texts |= {f"matrix.{fmt}": render_matrix(chapter, fmt) for fmt in ("tex", "md", "html")}
    return job.net, d, doc, chapter, texts


def _slow(name):
    return pytest.param(name, marks=pytest.mark.slow) if name in ("softmax", "wide-relu") \
        else name


NAMES = [_slow(name) for name in NETWORKS]


@pytest.mark.parametrize("name", NAMES)
def test_the_network_sentences_count_what_the_network_has(name):
    net, _, doc, _, texts = written(name)
    tex = texts["tex"]
    weights_and_biases = sum(n * m + n for m, n in zip(net.widths, net.widths[1:]))
    assert f"and {weights_and_biases} weights and biases" in tex
    for l in range(1, net.L + 1):
        assert (f"Layer {l} has ${net.widths[l]}$ neurons fed by ${net.widths[l - 1]}$ inputs"
                in tex)
        assert f"its activation is\n{net.activations[l - 1]}" in tex.replace("\\_", "_") or \
            f"its activation is {net.activations[l - 1]}" in tex.replace("\\_", "_")
    used = {}
    for l, act in enumerate(net.activations, 1):
        used.setdefault(act, []).append(l)
    for act in doc.network.activations:
        layers = used[act.name]
        if len(layers) == net.L:
            assert act.used_by in ("Every layer uses", "The layer uses")
        else:
            assert act.used_by.startswith("Layer " if len(layers) == 1 else "Layers ")
            assert re.findall(r"\d+", act.used_by) == [str(l) for l in layers]


@pytest.mark.parametrize("name", NAMES)
def test_the_path_sum_says_how_many_paths_there_are(name):
    _, d, doc, _, texts = written(name)
    count, _ = paths_of_influence(d, 1, 1, 1)
    assert doc.path_sum.paths == doc.graph.paths == count
    if count == 1:
        assert "there is a single\npath" in texts["tex"] or "there is a single path" in texts["tex"]
    else:
        assert f"there are {count} paths" in texts["tex"]


@pytest.mark.parametrize("name", NAMES)
def test_the_one_layer_swell_sentence_matches_its_table_row(name):
    _, _, doc, _, texts = written(name)
    shallow = doc.swell.shallow
    tex = " ".join(texts["tex"].split())
    if shallow["expansion"] is None or shallow["recursion"] <= shallow["expansion"]:
        assert "With a single layer" not in tex  # (None: too wide to measure the expansion)
    elif shallow["paths"] == 1:
        assert "is a single product" in tex
    else:  # a softmax output: as many paths as output units, never "a single product"
        assert "is a single product" not in tex
        assert f"it has {shallow['paths']} paths, one through each output unit" in tex
        assert f"and {shallow['terms']} terms once SymPy has multiplied them out" in tex


@pytest.mark.parametrize("name", NAMES)
def test_a_figure_named_at_the_start_of_a_sentence_is_capitalised(name):
    *_, texts = written(name)
    assert "rediscovered. The figure below plots" in " ".join(texts["md"].split())
    assert "rediscovered. Figure" in " ".join(texts["tex"].split())


@pytest.mark.parametrize("name", NAMES)
def test_weight_indices_are_written_one_way(name):
    net, _, _, _, texts = written(name)
    wide = max(net.widths) > 9
    for key in ("tex", "matrix.tex"):
        numbered = re.findall(r"w\^\{\(\d+\)\}_\{(\d+,?\d+)\}", texts[key])
        assert numbered or key == "matrix.tex"
        assert all(("," in index) == wide for index in numbered), set(numbered)


@pytest.mark.parametrize("name", NAMES)
def test_sums_run_in_natural_index_order(name):
    _, _, _, _, texts = written(name)
    # two neighbouring terms of one shape whose indices go 1, 10 (string order) never appear
    for match in re.finditer(r"_\{(\d+)(?:,\d+)?\}( w\^\{\(\d\)\}_\{(\d+),\d+\})? \+ "
                             r"\\delta\^\{\(\d\)\}_\{(\d+)\}", texts["tex"]):
        first, after = int(match.group(1)), int(match.group(4))
        assert after == first + 1 or after < first or match.group(0).count("cdots"), \
            match.group(0)
    if name == "wide-relu":
        assert (r"\delta^{(2)}_{1} w^{(2)}_{1,1} + \delta^{(2)}_{2} w^{(2)}_{2,1} + \cdots + "
                r"\delta^{(2)}_{16} w^{(2)}_{16,1}") in texts["tex"]


@pytest.mark.parametrize("name", NAMES)
def test_an_elided_column_of_w_is_an_elided_entry_of_its_input(name):
    _, _, doc, _, _ = written(name)
    for layer in doc.network.layers:
        matrices = re.findall(r"\\begin\{bmatrix\}\n(.*?)\n\\end\{bmatrix\}", layer.forward,
                              re.S)
        _, W, a_prev, _ = matrices
        columns = W.splitlines()[0].split(" & ")
        entries = a_prev.split(" \\\\\n")
        assert len(columns) == len(entries)
        assert [c == r"\cdots" for c in columns] == [e == r"\vdots" for e in entries]


@pytest.mark.parametrize("name", NAMES)
def test_a_softmax_output_is_written_as_softmax(name):
    net, _, _, chapter, texts = written(name)
    chapter_tex = " ".join(texts["matrix.tex"].split())
    if net.activations[-1] == "softmax":
        assert chapter.softmax
        assert r"$a_L = \operatorname{softmax}(z_L)$ at it" in chapter_tex
        assert r"A_L = \operatorname{softmax}(Z_L)" in chapter_tex
    else:
        assert r"\operatorname{softmax}(z_L)" not in chapter_tex


@pytest.mark.parametrize("name", NAMES)
def test_what_was_checked_reads_as_sentences_not_a_log(name):
    *_, texts = written(name)
    for key, text in texts.items():
        checked = text[text.rindex("What was checked"):]
        for raw in LOG_TEXT:
            assert raw not in checked, (key, raw)
    derivation = " ".join(texts["md"].split())
    assert "(each one a lemma above)" in derivation
    assert "as a symbolic identity, for every width at once" in derivation


@pytest.mark.slow
@pytest.mark.needs_pdflatex
@pytest.mark.parametrize("name", ["softmax", "wide-relu"])
def test_both_documents_compile_without_a_line_into_the_margin(name):
    from symbp.render.latex import compile_all

    *_, texts = written(name)
    for compiled in compile_all([texts["tex"], texts["matrix.tex"]]):
        assert compiled.overfull == []


# the proof section's own list of claims: how each was settled, said in sentences with math,
# whatever method settled it and whatever kinds the network has (the prover's log line,
# "dC/da_L, then J_σ(z_m) W_m ...", never reaches a document)
PROVER_LOG = ["dC/da", "J_σ", "J\\_", "dz_l", "dz\\_l", "W_l, b_l", "W\\_l", "grad's",
              "da_m", "da\\_m", "θ_l", "VJPs", "function lemmas"]


@pytest.mark.parametrize(("net", "method"), [
    (symbp.Network([2, 3, 2]), "construction"),
    (symbp.Network([2, 3, 2]), "expand"),
    (symbp.Network(layers=[symbp.Layer("residual", activation="tanh"),
                           symbp.Layer("residual", units=3, projection=True),
                           symbp.Layer("dense", units=2)], inputs=2), "construction"),
])
def test_how_each_route_claim_was_settled_reads_as_sentences(net, method):
    d = symbp.derive(net)
    doc = document(d, symbp.prove(d, method))
    for fmt in ("tex", "md"):
        text = render_document(doc, fmt, images=markdown_images(d) if net.dense else {})
        claims = text[text.index("Result:"):text.index("Method.")]
        for raw in PROVER_LOG:
            assert raw not in claims, (fmt, raw)
    items = {item.text: "".join(part for _, part in item.how) for item in doc.proof.claims}
    if method == "construction":
        expansion = items[r"$\text{expansion} = \text{recursion}$ for every layer"]
        assert expansion.startswith(r"by construction: each factor of the chain rule, "
                                    r"\partial C/\partial a_L, then ")
        assert "associativity of the matrix product" in expansion
    assert "the lemmas of the activations and the cost" in items


def test_the_recursion_claim_names_every_parameter_of_a_network_of_kinds():
    d = symbp.derive(config.load(EXAMPLES / "conv1d.toml").net)  # a kernel K, not W
    doc = document(d, symbp.prove(d, "local"))
    assert doc.proof.claims[0].text == (r"$\text{recursion} = \partial C/\partial \theta_l$ for "
                                        r"every parameter $\theta_l$ of every layer $l$")
    assert "the gradient for every parameter." in doc.proof.result  # a kernel is no weight matrix


@pytest.mark.parametrize(("name", "words"), [
    ("g_2", r"the gradient $g_{2}$ at the layer's output $a_{2}$"),
    ("dC/dP_2", r"the gradient of $P_{2}$"),  # a residual block's projection
    ("dC/dU_1", r"the gradient of $U_{1}$"),  # a recurrent layer's input weights
    ("dC/dW_3", r"the gradient of $W_{3}$"),
    # the theorem's lemmas of a kind's other parameters (they read "DC/dWQ l")
    ("dC/dU_l", r"Lemma 3, the gradient of $U_{l}$"),
    ("dC/dWQ_l", r"Lemma 3, the gradient of $W^{Q}_{l}$"),
    ("dC/dWK_l", r"Lemma 3, the gradient of $W^{K}_{l}$"),
])
def test_every_lemma_of_a_kind_has_a_title_in_words(name, words):
    from symbp.document.checks import title

    assert title(name) == words


@pytest.mark.slow
@pytest.mark.needs_pdflatex
@pytest.mark.parametrize("example", [e for e, file in ELSEWHERE.items() if file == Path(
    __file__).name])
def test_derive_writes_page_slides_and_notebook_for_every_example(example, tmp_path):
    """test_formats.py's test of every example, for the networks of dense layers, whose
    documents this file builds (``written``): the theorem, lemmas and forms they share are
    built once per file."""
    derive_page_slides_and_notebook(example, tmp_path / "out")

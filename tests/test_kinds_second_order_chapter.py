"""The chapter "Second order" of a network of layer kinds (document/kinds_second_order.py,
document/kinds_second_numbers.py, templates/sections/kinds_second_order.j2): it renders in
every text format, its numbers are SymPy's second derivatives at the example's point, every
"proved" in it is a claim's status, and a planted mistake makes it say so."""

from __future__ import annotations

import copy
import re
from functools import cache

import numpy as np
import pytest
import sympy as sp

import symbp
from symbp import Layer
from symbp.document.kinds_numbers import check_layers
from symbp.document.kinds_second_numbers import evaluate_kinds_second
from symbp.document.kinds_second_order import kinds_second_order_chapter
from symbp.render.documents import render_second_order
from tests import browser
from tests.test_kinds_second_order import skip_dropped

NET = dict(layers=[Layer("recurrent", units=2, activation="tanh"), Layer("dense", units=1)],
           inputs=(1, 2))
EXAMPLE = {"x": [[0.5, -0.25]], "y": [0.75], "digits": 6,
           "params": [{"W": [[0.5, -0.25], [0.25, 0.5]], "U": [[1.0], [-0.5]], "b": [0.1, -0.1]},
                      {"W": [[0.8, -0.6]], "b": [0.05]}]}


@cache
def derived():
    d = symbp.derive(symbp.Network(**NET), order=2)
    return d, symbp.prove(d)


def rendered(proof=None) -> dict[str, str]:
    d, proved = derived()
    chapter = kinds_second_order_chapter(d, proof or proved, EXAMPLE)
    return {fmt: render_second_order(chapter, fmt) for fmt in ("tex", "md", "html")}


def test_the_chapter_renders_in_every_text_format_and_again_byte_for_byte():
    texts = rendered()
    assert texts == rendered()  # determinism
    md = texts["md"]
    for heading in ("The next derivative", "Step 1: The Curvature at the Split",
                    "Step 2: The Graph, Node by Node", "Layer 1: a recurrent",
                    "Hessian-vector products", "Gauss-Newton", "Three routes, block by block",
                    "The worked example in numbers", "The claims"):
        assert heading in md, heading
    # the graph: the recurrent statement split into its 2 steps, the second reading the first
    assert r"| 1 | $`z_{1}\ (\text{step } 2)`$ | 2 | $`z_{1}\ (\text{step } 1), U_{1}, W_{1}, " \
           r"b_{1}`$ | 8 |" in md
    assert r"| 1 | $`a_{1}`$ | 2 | $`z_{1}\ (\text{step } 2)`$ | 2 |" in md
    assert "| $`(1, 2)`$ | **proved** | **proved** | **proved** | **proved** |" in md
    assert "They agree to every digit shown." in md
    assert r"\section{Three routes, block by block}" in texts["tex"]
    assert "<h2" in texts["html"] and "$" not in re.sub(r"<[^>]*>", "", texts["html"])


def test_the_worked_hessian_is_pytorchs_at_the_example():
    torch = pytest.importorskip("torch")
    d, _ = derived()
    numbers = evaluate_kinds_second(d, EXAMPLE)
    ex = check_layers(EXAMPLE, d.net.resolved)
    theta = d.parameters()
    at = [float(ex.params[l - 1][name][k]) for l in d.layers
          for name, M in d.layer_parameters(l).items() for k in range(len(M))]
    x, y = (torch.tensor([float(v) for v in values], dtype=torch.float64)
            for values in (ex.x, ex.y))
    cost = sp.lambdify([theta, list(d.x), list(d.y)], symbp.explicit(d.composed_cost()),
                       modules="torch")
    out = sp.lambdify([theta, list(d.x)], list(symbp.explicit(d.composed_a(d.L))),
                      modules="torch")
    point = torch.tensor(at, dtype=torch.float64)
    H = torch.autograd.functional.hessian(lambda p: cost(list(p), list(x), list(y)), point)
    J = torch.autograd.functional.jacobian(lambda p: torch.stack(out(list(p), list(x))),
                                           point).numpy()
    assert np.abs(np.array(numbers.hessian, dtype=float) - H.numpy()).max() < 1e-12
    assert np.abs(np.array(numbers.gauss_newton, dtype=float) - J.T @ J).max() < 1e-12  # mse
    value, quotient, _ = numbers.check  # H_11 swept against the central difference
    assert abs(float(value) - float(quotient)) < 1e-9


def test_every_proved_is_a_claims_status():
    _, proof = derived()
    texts = rendered()
    byline = "Derived and proved by symbp."
    for fmt in ("md", "html"):
        # the byline says the proof's status, all its claims'
        rest = re.sub(r"<style>.*?</style>", "", texts[fmt], flags=re.S).replace(byline, "")
        rest = re.sub(r"\*\*proved\*\*|<strong class=\"status proved\">proved</strong>", "",
                      rest)
        assert "proved" not in rest, fmt
    failed = copy.deepcopy(proof)
    for c in failed.claims:
        c.status = "failed"
    for fmt, text in rendered(failed).items():
        text = re.sub(r"<style>.*?</style>", "", text, flags=re.S)
        text = text[text.find(r"\begin{document}"):]  # tex: the preamble's colour "proved"
        assert not re.search(r"(?<!not )proved", text), fmt


def test_a_planted_mistake_makes_the_chapter_say_not_proved():
    net = symbp.Network(layers=[Layer("dense", units=1, activation="tanh"),
                                Layer("residual", activation="tanh"), Layer("dense", units=1)],
                        inputs=1)
    d = symbp.derive(net, order=2, recursion=skip_dropped)
    md = render_second_order(kinds_second_order_chapter(d, symbp.prove(d)), "md")
    assert "Derived by symbp, not proved (see the claims)." in md
    assert "Per network (method expand): **failed**." in md
    # the program route of θ_1's rows fails; the recursion and G read the forward pass only
    assert "| $`(1, 1)`$ | **failed** | **proved** | **proved** | **proved** |" in md
    assert "| $`(2, 2)`$ | **proved** | **proved** | **proved** | **proved** |" in md
    assert "$`(H v)_{W_{1}}`$: **failed**" in md
    assert "Layer 2: a residual block" in md and "what the skip adds" in md


def test_a_dense_derivation_is_refused():
    d = symbp.derive(symbp.Network([1, 1]), order=2)
    with pytest.raises(ValueError, match=r"^the second-order chapter of layer kinds needs "):
        kinds_second_order_chapter(d, None)  # type: ignore[arg-type]  # refused first


@pytest.mark.slow
@pytest.mark.needs_pdflatex
def test_the_chapter_compiles_without_overfull_boxes():
    from symbp.render.latex import compile_tex

    compiled = compile_tex(rendered()["tex"])
    assert compiled.pdf.startswith(b"%PDF")
    assert compiled.overfull == []
    assert not [line for line in compiled.log.splitlines() if line.startswith("Overfull")]


@pytest.mark.slow
@pytest.mark.skipif(browser.CHROMIUM is None, reason=browser.MISSING)
def test_the_chapters_page_has_no_math_errors_in_chromium(tmp_path):
    report = browser.inspect(rendered()["html"], 1280, tmp_path)
    assert report["maths"] > 50 and report["merror"] == 0
    assert report["tex"] == [] and report["mathTex"] == []

"""The chapter "Second order": its sections, its numbers, byte-identical renders."""

import pytest

import symbp
from symbp.document import second_order as chapter_module
from symbp.document.second_numbers import evaluate_second
from symbp.document.second_order import second_order_chapter
from symbp.proof.claims import Claim, Proof
from symbp.proof.curvature import prove_second_order
from symbp.render.documents import render_second_order

EXAMPLE = {"x": [0.05, 0.10], "y": [0.01, 0.99], "learning_rate": 0.5,
           "weights": [[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]],
           "biases": [0.35, 0.60]}
NET = symbp.Network([2, 2, 2], activation="sigmoid", cost="mse")


@pytest.fixture(scope="module")
def derived():
    d = symbp.derive(NET, order=2)
    return d, prove_second_order(d, "local")


@pytest.fixture
def quick_theorem(monkeypatch):
    """The theorem's claims replaced by one, so that rendering is tested on its own."""
    stub = Proof("general", [Claim("stub", "x = x", "general", "proved", "a stub",
                                   name="theorem")])
    monkeypatch.setattr(chapter_module, "second_order_theorem", lambda *a, **k: stub)


def test_the_chapter_has_the_seeds_steps(derived, quick_theorem):
    d, proof = derived
    md = render_second_order(second_order_chapter(d, proof), "md")
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings == [
        "# Second order: the Hessian, Gauss–Newton and H v", "## The next derivative",
        "## Backpropagating curvature, step by step", "### Step 1: The Output Layer's Block",
        "### Step 2: Propagate Curvature Back", "### Step 3: The Cross-Layer Blocks",
        "## Hessian-vector products, without the Hessian", "## Gauss-Newton", "## What was proved"]
    assert r"\Omega^{(2)}_{11} &= \sigma'^{2}\bigl(z^{(2)}_{1}\bigr)" in md
    assert "**H row 2, H row 1**: **proved**; by per-layer lemmas" in md


def test_renders_are_byte_identical(derived, quick_theorem):
    d, proof = derived
    for fmt in ("tex", "md"):
        first = render_second_order(second_order_chapter(d, proof), fmt)
        assert first == render_second_order(second_order_chapter(d, proof), fmt)


def test_the_chapter_needs_order_two(derived):
    _, proof = derived
    with pytest.raises(ValueError, match=r"needs symbp\.derive"):
        second_order_chapter(symbp.derive(NET), proof)


def test_the_worked_example_in_numbers():
    d = symbp.derive(NET, order=2)
    numbers = evaluate_second(d, EXAMPLE)
    H, G = numbers.hessian, numbers.gauss_newton
    assert H.shape == (12, 12)
    assert H == H.T
    value, quotient, _ = numbers.check
    assert abs(value - quotient) < 1e-12
    assert abs(H[0, 0] - (-3.02154655e-6)) < 1e-14  # ∂²C/∂(w^(1)_11)², Mazur's network
    assert G[6:, 6:] != H[6:, 6:]  # sigmoid output: the residual does not vanish


@pytest.mark.slow
def test_the_chapter_with_the_theorem_and_numbers(derived):
    d, proof = derived
    md = render_second_order(second_order_chapter(d, proof, EXAMPLE), "md")
    assert "## The worked example in numbers" in md
    assert "They agree to every digit shown." in md
    assert "For every depth and all widths:\n**proved**." in md
    assert "The theorem speaks for them" in md

"""The batch-norm kind: its routes against sympy.diff, its per-network proof and the mistakes it
catches, the theorem for every size, its errors, its documents and its example.

The batch is the input's second axis (features × samples); the layers on either side of a
batch norm act on each sample alike (``dense_per_sample``). The network that exercises the
textbook ∂C/∂x is a batch norm *between* two such layers: as the first layer its input is x,
and nothing reads the gradient it would pass back.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path

import pytest
import sympy as sp

import symbp
from symbp import Layer
from symbp.cli import config
from symbp.cli.main import main
from symbp.core import layers
from symbp.core.layers import batchnorm as bn
from symbp.core.layers.base import Map
from tests.test_formats import derive_page_slides_and_notebook

ROOT = Path(__file__).resolve().parent.parent
SANDWICH = [Layer("dense_per_sample", units=2), Layer("batchnorm"),
            Layer("dense_per_sample", units=2)]


def sandwich() -> symbp.Network:
    return symbp.Network(layers=SANDWICH, inputs=[2, 3])


@cache
def example_derivation() -> symbp.Derivation:
    return symbp.derive(config.load(ROOT / "examples" / "batchnorm.toml").net)


@pytest.fixture(scope="module")
def derived():
    return symbp.derive(sandwich())


def test_its_routes_equal_sympy_diff_of_the_composed_cost():
    """The batch norm first (γ's and β's gradients), then a layer on each sample."""
    d = symbp.derive(symbp.Network(layers=[Layer("batchnorm"),
                                           Layer("dense_per_sample", units=2)], inputs=[2, 3]))
    cost = d.composed_cost()
    point = {s: sp.Float(0.1 + 0.07 * i * (-1) ** i, 40) for i, s in
             enumerate(sorted(cost.free_symbols, key=str))}
    for r in d.net.resolved:
        for name, M in d.layer_parameters(r.index).items():
            truth = sp.Matrix(*M.shape, [sp.diff(cost, p) for p in M])
            for route in symbp.ROUTES:
                gap = (d.grad(r.index, route, name) - truth).xreplace(point).evalf(30)
                assert max(abs(v) for v in gap) < 1e-25, (r.index, name, route)


def _layer_values(features: int, samples: int):
    x = sp.Matrix(features, samples, lambda c, s: sp.Symbol(f"x{c}_{s}"))
    delta = sp.Matrix(features, samples, lambda c, s: sp.Symbol(f"d{c}_{s}"))
    gamma = sp.symbols(f"g0:{features}")
    values = {"x": lambda i: x[i], "W": lambda i: gamma[i[0]], "b": lambda i: 0,
              "delta": lambda i: delta[i]}
    return x, delta, values


@pytest.mark.parametrize(("features", "samples"), [(1, 2), (2, 3), (1, 4)])
def test_its_input_gradient_is_sympy_diff_of_its_forward_map(features, samples):
    """∂C/∂x[c, s] = Σ_(c', s') δ[c', s'] ∂z[c', s']/∂x[c, s], sympy.diff through the map."""
    sizes = {bn.FEATURES: features, bn.SAMPLES: samples}
    m = bn.maps(Layer("batchnorm", eps=1e-5))
    x, delta, values = _layer_values(features, samples)
    z = m.pre.entries(sizes, values)
    textbook = m.input_vjp.entries(sizes, values)
    points = [(c, s) for c in range(features) for s in range(samples)]
    for n, (c, s) in enumerate(points):
        chain = sum(delta[p] * sp.diff(z[k], x[c, s]) for k, p in enumerate(points))
        assert symbp.equivalent(textbook[n], chain), (c, s)
        assert not symbp.equivalent(textbook[n], chain + delta[0, 0] / 10**6)  # it can fail


@pytest.mark.parametrize("method", ["expand", "construction", "local"])
def test_it_is_proved_per_network(derived, method):
    proof = symbp.prove(derived, method)
    assert proof.holds, proof.summary()
    assert {c.name for c in proof.claims} >= {"vector forms 1", "vector forms 2",
                                              "vector forms 3"}


def _dy(r: sp.Symbol = bn.S) -> sp.Expr:
    return bn.GAMMA[bn.C] * bn.DELTA[bn.C, r]


def _total() -> sp.Expr:
    return sp.Sum(_dy(bn.R), (bn.R, 1, bn.SAMPLES))


def _along(eps: sp.Expr) -> sp.Expr:
    return sp.Sum(_dy(bn.R) * bn.normalized(bn.X, bn.C, bn.R, eps), (bn.R, 1, bn.SAMPLES))


def _unbiased(eps: sp.Expr) -> sp.Expr:
    """The textbook form with the variance divided by B − 1 (x̂ and s both)."""
    root = bn.root(bn.X, bn.C, eps, divisor=bn.SAMPLES - 1)

    def hat(s: sp.Symbol) -> sp.Expr:
        return bn.centred(bn.X, bn.C, s) / root

    along = sp.Sum(_dy(bn.R) * hat(bn.R), (bn.R, 1, bn.SAMPLES))
    return (bn.SAMPLES * _dy() - _total() - hat(bn.S) * along) / (bn.SAMPLES * root)


def _over_features(eps: sp.Expr) -> sp.Expr:
    """The layer norm's sums (over the features of one sample) in place of the batch's."""
    other = sp.Symbol("q", integer=True, positive=True)
    dy = bn.GAMMA[other] * bn.DELTA[other, bn.S]
    total = sp.Sum(dy, (other, 1, bn.FEATURES))
    along = sp.Sum(dy * bn.normalized(bn.X, other, bn.S, eps), (other, 1, bn.FEATURES))
    return (bn.FEATURES * _dy() - total - bn.normalized(bn.X, bn.C, bn.S, eps) * along) \
        / (bn.FEATURES * bn.root(bn.X, bn.C, eps))


WRONG_INPUT_VJPS = {  # the textbook form with one mistake each
    "xhat sum(dy xhat) dropped": lambda eps: (bn.SAMPLES * _dy() - _total())
    / (bn.SAMPLES * bn.root(bn.X, bn.C, eps)),
    "sum dy missing": lambda eps: (bn.SAMPLES * _dy() - bn.normalized(bn.X, bn.C, bn.S, eps)
                                   * _along(eps)) / (bn.SAMPLES * bn.root(bn.X, bn.C, eps)),
    "1/(B - 1) instead of 1/B": _unbiased,
    "the mean over features instead of samples": _over_features,
}


def _wrong_kind(mistake: str) -> layers.Kind:
    def maps(layer):
        formula = WRONG_INPUT_VJPS[mistake](bn.exact_eps(layer))
        return dataclasses.replace(bn.maps(layer), input_vjp=Map(
            bn.DX, (bn.C, bn.S), formula, (bn.DELTA, bn.X), (bn.GAMMA,)))
    return dataclasses.replace(bn.KIND, maps=maps)


SLOW_TO_EXPAND = ("sum dy missing", "1/(B - 1) instead of 1/B",
                  "the mean over features instead of samples")


@pytest.mark.parametrize(("mistake", "method"), [
    pytest.param(mistake, method, marks=[pytest.mark.slow] if method == "expand"
                 and mistake in SLOW_TO_EXPAND else [])  # 3 to 4 s each
    for mistake in WRONG_INPUT_VJPS for method in ("expand", "local")])
def test_a_wrong_input_gradient_is_not_proved_and_named(monkeypatch, mistake, method):
    monkeypatch.setitem(layers.KINDS, "batchnorm", _wrong_kind(mistake))
    proof = symbp.prove(symbp.derive(sandwich()), method)  # the network reads its kinds anew
    assert not proof.holds
    failed = [c for c in proof.claims if not c.proved and c.name != "vector forms 2"]
    # the layer below the batch norm is the one its gradient reaches
    assert {c.name for c in failed} >= {"dC/dW_1", "dC/db_1"}
    assert all(c.layer == 1 for c in failed)
    assert failed[0].entry is not None  # the first entry that differs, named
    # and the map is no longer what the batch norm's vector form states
    assert "vector forms 2" in {c.name for c in proof.claims if not c.proved}


def test_the_unbiased_variance_differs_from_the_textbook_form_at_a_batch_of_two():
    """The planted 1/(B − 1) changes x̂ and s: already one feature over 2 samples tells it."""
    eps = sp.Rational(1, 100000)
    sizes = {bn.FEATURES: 1, bn.SAMPLES: 2}
    *_, values = _layer_values(1, 2)
    right = bn.maps(Layer("batchnorm")).input_vjp.entries(sizes, values)
    wrong = Map(bn.DX, (bn.C, bn.S), _unbiased(eps), (bn.DELTA, bn.X), (bn.GAMMA,))
    assert not symbp.equivalent(right[0], wrong.entries(sizes, values)[0])


@pytest.mark.slow
def test_it_is_proved_for_every_depth_width_and_batch():
    """Symbolic features c_l and batch size m_0: the lemmas close symbolically."""
    for kinds in ((Layer("batchnorm"), Layer("dense")),
                  (Layer("dense_per_sample"), Layer("batchnorm"))):
        proof = symbp.theorem("identity", layers=kinds)
        assert proof.holds, proof.summary()
        assert all(c.proved for c in proof.claims)


@pytest.mark.slow
def test_a_wrong_input_gradient_fails_the_theorem(monkeypatch):
    monkeypatch.setitem(layers.KINDS, "batchnorm", _wrong_kind("sum dy missing"))
    proof = symbp.theorem("identity", layers=(Layer("dense_per_sample"), Layer("batchnorm")))
    assert not proof.holds
    assert any(c.name == "step" and not c.proved for c in proof.claims)


def test_eps_is_exact_in_the_maps_and_a_float_in_the_code(derived):
    assert bn.maps(Layer("batchnorm", eps=0.25)).pre.formula.has(sp.Rational(1, 4))
    code = symbp.lambdify(derived).source.split('"""', 2)[2]  # past the docs
    assert "+ 1e-05)" in code and "100000" not in code


@pytest.mark.parametrize("eps", [0, -1e-3, "1e-5", True, float("inf"), float("nan")])
def test_a_bad_eps_is_refused_naming_it(eps):
    with pytest.raises(ValueError, match=r"layer 1 \(batchnorm\): key 'eps' must be a positive "
                                         r"number, got"):
        symbp.Network(layers=[Layer("batchnorm", eps=eps), Layer("dense", units=1)],
                      inputs=[3, 4])


def test_a_vector_input_is_refused_saying_how_to_give_a_batch():
    with pytest.raises(ValueError, match=r"^layer 2 \(batchnorm\): batch norm normalizes each "
                                         r"feature over the samples of a batch, so it needs an "
                                         r"input of features × samples, and it got a vector of "
                                         r"3; give the network inputs = \[features, batch size\]"):
        symbp.Network(layers=[Layer("dense", units=3), Layer("batchnorm")], inputs=[2, 4])
    with pytest.raises(ValueError, match=r"layer 1 \(dense_per_sample\): a dense layer per "
                                         r"sample reads features × samples"):
        symbp.Network(layers=[Layer("dense_per_sample", units=3)], inputs=3)


def test_a_batch_of_one_sample_is_refused():
    with pytest.raises(ValueError, match=r"layer 1 \(batchnorm\): a batch of 1 sample cannot "
                                         r"be normalized"):
        symbp.Network(layers=[Layer("batchnorm"), Layer("dense", units=1)], inputs=[3, 1])


@pytest.mark.parametrize(("layers_text", "inputs", "wanted"), [
    ("batchnorm:eps=0,dense:2", "3x4", "key 'eps' must be a positive number, got 0"),
    ("batchnorm:eps=abc,dense:2", "3x4", "key 'eps' must be a positive number, got 'abc'"),
    ("batchnorm,dense:2", "3", "it needs an input of features × samples"),
    ("batchnorm,dense:2", "3x1", "a batch of 1 sample cannot be normalized"),
])
def test_the_cli_refuses_bad_batch_norms_in_one_line(tmp_path, monkeypatch, capsys,
                                                     layers_text, inputs, wanted):
    monkeypatch.chdir(tmp_path)
    assert main(["prove", "--layers", layers_text, "--inputs", inputs]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and wanted in err and "layer 1 (batchnorm)" in err
    assert not list(tmp_path.iterdir())


def test_its_document_names_the_samples_gamma_beta_and_the_parts():
    # the example network's (without its worked example): the theorem of its sequence of
    # kinds is proved once here for the document and for the formats test below
    text = " ".join(symbp.render(example_derivation(), "tex").split())
    assert "features $\\times$ samples, one column per sample; the cost is summed" in text
    assert "one row per feature and one column per sample" not in text  # no worked example
    assert r"\frac{\partial C}{\partial \gamma_{2}}" in text
    assert r"{\hat{x}^{(2)}}_{c,s}" in text and r"{s^{(2)}}_{c}" in text  # the entry forms
    assert r"\mu_{2}" in text and r"\hat{x}_{2}" in text  # the vector forms
    assert r"\oslash" in text and "the two subtracted terms" in text
    assert "positions" not in text.split("Notation")[1].split("Layer")[0]


@pytest.mark.needs_pdflatex
def test_its_document_compiles():
    # the name dense_per_sample, TeX text in the swell plot's title, once stopped pdflatex
    assert symbp.render(example_derivation(), "pdf")[:5] == b"%PDF-"


@pytest.mark.slow
def test_the_example_network_file_is_proved(capsys):
    assert main(["prove", str(ROOT / "examples" / "batchnorm.toml"), "-q"]) == 0
    assert "proved (expand): the three routes agree" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.needs_pdflatex
def test_derive_writes_page_slides_and_notebook_for_the_example(tmp_path):
    """test_formats.py's test of every example, for this one: after the document test above,
    its theorem is already proved in this process."""
    derive_page_slides_and_notebook("batchnorm.toml", tmp_path / "out")

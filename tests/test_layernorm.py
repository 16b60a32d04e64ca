"""The layer-norm kind: its routes against sympy.diff, its per-network proof and the mistakes it
catches, exact square roots, the theorem for every width, and its errors.

The network that exercises the textbook ∂C/∂x is a layer norm *between* two dense layers:
as the first layer its input is x, and nothing reads the gradient it would pass back.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import sympy as sp

import symbp
from symbp import Layer
from symbp.cli.main import main
from symbp.core import layers
from symbp.core.layers import layernorm as ln
from symbp.core.layers.base import Map
from symbp.core.layers.dense import J, K

ROOT = Path(__file__).resolve().parent.parent
SANDWICH = [Layer("dense", units=3), Layer("layernorm"), Layer("dense", units=2)]


def sandwich() -> symbp.Network:
    return symbp.Network(layers=SANDWICH, inputs=2)


@pytest.fixture(scope="module")
def derived():
    return symbp.derive(sandwich())


def test_its_routes_equal_sympy_diff_of_the_composed_cost():
    """The layer norm first (γ's and β's gradients), as the fourth kind's test does it."""
    d = symbp.derive(symbp.Network(layers=[Layer("layernorm"), Layer("dense", units=2)],
                                   inputs=3))
    cost = d.composed_cost()
    point = {s: sp.Float(0.1 + 0.07 * i * (-1) ** i, 40) for i, s in
             enumerate(sorted(cost.free_symbols, key=str))}
    for r in d.net.resolved:
        for name, M in d.layer_parameters(r.index).items():
            truth = sp.Matrix(*M.shape, [sp.diff(cost, p) for p in M])
            for route in symbp.ROUTES:
                gap = (d.grad(r.index, route, name) - truth).xreplace(point).evalf(30)
                assert max(abs(v) for v in gap) < 1e-25, (r.index, name, route)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_its_input_gradient_is_sympy_diff_of_its_forward_map(n):
    """∂C/∂x_k = Σ_j δ_j ∂z_j/∂x_k, sympy.diff through the layer's own map, exactly."""
    sizes = {ln.N: n}
    layer = Layer("layernorm", eps=1e-5)
    m = ln.maps(layer)
    x = sp.symbols(f"x1:{n + 1}")
    gamma, delta = sp.symbols(f"g1:{n + 1}"), sp.symbols(f"d1:{n + 1}")
    values = {"x": lambda i: x[i[0]], "W": lambda i: gamma[i[0]], "b": lambda i: 0,
              "delta": lambda i: delta[i[0]]}
    z = m.pre.entries(sizes, values)
    textbook = m.input_vjp.entries(sizes, values)
    for k in range(n):
        chain = sum(delta[j] * sp.diff(z[j], x[k]) for j in range(n))
        assert symbp.equivalent(textbook[k], chain), k
        assert not symbp.equivalent(textbook[k], chain + delta[0] / 10**6)  # it can fail


@pytest.mark.parametrize("method", ["expand", "construction", "local"])
def test_it_is_proved_per_network(derived, method):
    proof = symbp.prove(derived, method)
    assert proof.holds, proof.summary()


def _dy() -> sp.Expr:
    return ln.GAMMA[K] * ln.DELTA[K]


def _total() -> sp.Expr:
    return sp.Sum(ln.GAMMA[J] * ln.DELTA[J], (J, 1, ln.N))


def _along(eps: sp.Expr) -> sp.Expr:
    return sp.Sum(ln.GAMMA[J] * ln.DELTA[J] * ln.normalized(ln.X, J, eps), (J, 1, ln.N))


WRONG_INPUT_VJPS = {  # the textbook form with one mistake each
    "xhat sum(dy xhat) dropped": lambda eps: (ln.N * _dy() - _total())
    / (ln.N * ln.root(ln.X, eps)),
    "sum dy missing": lambda eps: (ln.N * _dy() - ln.normalized(ln.X, K, eps) * _along(eps))
    / (ln.N * ln.root(ln.X, eps)),
    "n instead of 1/n": lambda eps: ln.N * (ln.N * _dy() - _total()
                                            - ln.normalized(ln.X, K, eps) * _along(eps))
    / ln.root(ln.X, eps),
}


def _wrong_kind(mistake: str) -> layers.Kind:
    def maps(layer):
        formula = WRONG_INPUT_VJPS[mistake](ln.exact_eps(layer))
        return dataclasses.replace(ln.maps(layer), input_vjp=Map(
            ln.DX, (K,), formula, (ln.DELTA, ln.X), (ln.GAMMA,)))
    return dataclasses.replace(ln.KIND, maps=maps)


@pytest.mark.parametrize("mistake", list(WRONG_INPUT_VJPS))
@pytest.mark.parametrize("method", ["expand", "local"])
def test_a_wrong_input_gradient_is_not_proved_and_named(monkeypatch, mistake, method):
    monkeypatch.setitem(layers.KINDS, "layernorm", _wrong_kind(mistake))
    proof = symbp.prove(symbp.derive(sandwich()), method)
    assert not proof.holds
    failed = [c for c in proof.claims if not c.proved and c.name != "vector forms 2"]
    # the layer below the layer norm is the one its gradient reaches
    assert {c.name for c in failed} >= {"dC/dW_1", "dC/db_1"}
    # and the map is no longer what the layer norm's vector form states
    assert "vector forms 2" in {c.name for c in proof.claims if not c.proved}
    assert all(c.layer == 1 for c in failed)
    assert failed[0].entry is not None


def test_the_exact_prover_decides_roots_honestly():
    """A root is one generator; p^(m/q) its m-th power; (p^(1/q))^q = p. Nothing more: √(xy)
    is not √x √y (x, y < 0), √(x²) is not x."""
    x, y = sp.symbols("x y")
    p = x**2 + y**2 + 1
    assert symbp.equivalent(1 / sp.sqrt(p) * (x / sp.sqrt(p)), x / p)
    assert symbp.equivalent(sp.diff(1 / sp.sqrt(p), x), -x / (p * sp.sqrt(p)))
    assert symbp.equivalent(sp.sqrt(p) ** 3 / p, sp.sqrt(p))
    assert not symbp.equivalent(sp.sqrt(x * y), sp.sqrt(x) * sp.sqrt(y))
    assert not symbp.equivalent(sp.sqrt(x**2), x)
    assert not symbp.equivalent(sp.sqrt(p), p)


@pytest.mark.slow
def test_it_is_proved_for_every_depth_and_width():
    for kinds in ((Layer("layernorm"), Layer("dense")), (Layer("dense"), Layer("layernorm"))):
        proof = symbp.theorem("identity", layers=kinds)
        assert proof.holds, proof.summary()


@pytest.mark.slow
def test_a_wrong_input_gradient_fails_the_theorem(monkeypatch):
    monkeypatch.setitem(layers.KINDS, "layernorm", _wrong_kind("sum dy missing"))
    proof = symbp.theorem("identity", layers=(Layer("layernorm"), Layer("dense")))
    assert not proof.holds
    assert any(c.name == "step" and not c.proved for c in proof.claims)


def test_eps_is_exact_in_the_maps_and_a_float_in_the_code():
    assert ln.exact_eps(Layer("layernorm", eps=1e-5)) == sp.Rational(1, 100000)
    assert ln.exact_eps(Layer("layernorm", eps=2)) == 2
    code = symbp.lambdify(symbp.derive(sandwich())).source.split('"""', 2)[2]  # past the docs
    assert "+ 1e-05)" in code and "100000" not in code


@pytest.mark.parametrize("eps", [0, -1e-3, "1e-5", True, float("inf"), float("nan")])
def test_a_bad_eps_is_refused_naming_it(eps):
    with pytest.raises(ValueError, match=r"layer 1 \(layernorm\): key 'eps' must be a positive "
                                         r"number, got"):
        symbp.Network(layers=[Layer("layernorm", eps=eps), Layer("dense", units=1)], inputs=3)


def test_one_unit_is_refused():
    with pytest.raises(ValueError, match=r"layer 2 \(layernorm\): an input of 1 unit cannot be "
                                         r"normalized"):
        symbp.Network(layers=[Layer("dense", units=1), Layer("layernorm")], inputs=3)


@pytest.mark.parametrize(("layers_text", "inputs", "wanted"), [
    ("layernorm:eps=0,dense:2", "3", "key 'eps' must be a positive number, got 0"),
    ("layernorm:eps=abc,dense:2", "3", "key 'eps' must be a positive number, got 'abc'"),
    ("dense:1,layernorm", "3", "an input of 1 unit cannot be normalized"),
])
def test_the_cli_refuses_bad_layer_norms_in_one_line(tmp_path, monkeypatch, capsys,
                                                     layers_text, inputs, wanted):
    # in this process: exit codes and stderr are main's (tests/test_cli.py starts real ones)
    monkeypatch.chdir(tmp_path)
    assert main(["prove", "--layers", layers_text, "--inputs", inputs]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and wanted in err
    assert not list(tmp_path.iterdir())


def test_its_document_names_gamma_beta_and_the_parts_of_the_input_gradient(derived):
    text = symbp.render(derived, "tex")
    assert r"\frac{\partial C}{\partial \gamma_{2}}" in text
    assert r"\frac{\partial C}{\partial \beta_{2}}" in text
    assert r"\hat{x}^{(2)}" in text and r"\mu_{2}" in text
    assert "the two subtracted terms" in text
    assert r"The gradient of $\gamma_{2}$" in text  # the proof's lemma, under γ's name


def test_the_example_network_file_is_proved(capsys):
    assert main(["prove", str(ROOT / "examples" / "layernorm-mlp.toml"), "-q"]) == 0
    assert "proved (expand): the three routes agree" in capsys.readouterr().out

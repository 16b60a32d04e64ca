"""Every kind's vector forms are printed from one operator expression and proved equal to the
kind's maps entry by entry at the network's sizes; a wrong form, planted through a kind
re-registered in ``KINDS``, is "not proved", named, and never shown as proved."""

from __future__ import annotations

import dataclasses

import pytest
import sympy as sp

import symbp
from symbp import Layer
from symbp.core import layers
from symbp.core.layers import layernorm
from symbp.core.layers import vector as v
from symbp.printing.vector import printed
from symbp.proof.vector_forms import vector_form_claims

W, P, U = v.operand("W"), v.operand("P"), v.operand("U")

NETWORKS = {
    "dense": ([Layer("dense", units=3), Layer("dense", units=2)], 2),
    "residual": ([Layer("residual"), Layer("dense", units=2)], 2),
    "projection": ([Layer("residual", units=3, projection=True), Layer("dense", units=2)], 2),
    "conv1d": ([Layer("conv1d", channels=2, kernel=2), Layer("dense", units=2)], [2, 4]),
    "conv1d same": ([Layer("conv1d", channels=1, kernel=2, padding="same"),
                     Layer("dense", units=1)], [1, 4]),
    "conv1d pooled": ([Layer("conv1d", channels=2, kernel=3, pool="avg", pool_size=2),
                       Layer("dense", units=2)], [1, 6]),
    "recurrent": ([Layer("recurrent", units=2), Layer("dense", units=1)], [1, 3]),
    "recurrent all": ([Layer("recurrent", units=2, output="all"), Layer("dense", units=1)],
                      [2, 2]),
    "layernorm": ([Layer("dense", units=3), Layer("layernorm"), Layer("dense", units=2)], 2),
    "attention": ([Layer("attention"), Layer("dense", units=1)], [1, 2]),
    "causal attention": ([Layer("attention", causal=True), Layer("dense", units=1)], [2, 2]),
}


def claims(name: str) -> list[symbp.Claim]:
    layer_list, inputs = NETWORKS[name]
    return vector_form_claims(symbp.derive(symbp.Network(layers=layer_list, inputs=inputs)))


@pytest.mark.parametrize("name", list(NETWORKS))
def test_every_kinds_forms_are_proved_at_the_networks_sizes(name):
    found = claims(name)
    assert [c.name for c in found] == [f"vector forms {l}" for l in range(1, len(found) + 1)]
    for c in found:
        assert c.status == "proved", (c.culprit, c.residual)
        assert "at this network's sizes" in c.statement and "every" not in c.statement


# ---------------------------------------------------------------- planted wrong forms


def replaced(monkeypatch, kind: str, form: str, rhs) -> None:
    """``kind`` re-registered with the rhs of its form ``form`` rewritten by ``rhs``."""
    real = layers.KINDS[kind]

    def forms(layer):
        found = real.forms(layer)
        return v.Forms(tuple(dataclasses.replace(eq, rhs=rhs(eq.rhs)) if eq.name == form
                             else eq for eq in found.equations), found.sizes)

    monkeypatch.setitem(layers.KINDS, kind, dataclasses.replace(real, forms=forms))


def rewritten(old, new):
    return lambda rhs: rhs.xreplace({old: new})


MISTAKES = {  # (network, kind, form, the rewrite), each a textbook slip
    "dense: dC/dW transposed": ("dense", "dense", "W", lambda r: v.Dot(v.X, v.T(v.DELTA))),
    "dense: sigma' missing": ("dense", "dense", "delta", lambda r: v.G),
    "dense: W, not W^T, passed back": ("dense", "dense", "input",
                                       rewritten(v.T(W), W)),
    "residual: the skip dropped": ("residual", "residual", "input", lambda r: r.args[0]),
    "residual: P, not P^T, on the highway": ("projection", "residual", "input",
                                             rewritten(v.T(P), P)),
    "conv1d: the kernel not flipped": ("conv1d", "conv1d", "input",
                                       rewritten(v.Flip(W), W)),
    "conv1d: the kernel's gradient as K * a": ("conv1d", "conv1d", "W",
                                               lambda r: v.Star(W, *r.args[1:])),
    "conv1d: the pool's spread missing": ("conv1d pooled", "conv1d", "delta",
                                          rewritten(v.AvgPoolT(sp.Symbol("q_pool", integer=True,
                                                                         positive=True), v.G),
                                                    v.G)),
    "recurrent: delta from t - 1": ("recurrent", "recurrent", "delta",
                                    rewritten(v.Step(v.DELTA, 1), v.Step(v.DELTA, -1))),
    "recurrent: dC/dW against s_t": ("recurrent", "recurrent", "W",
                                     rewritten(v.Step(v.S, -1), v.Step(v.S, 0))),
    "layernorm: a subtracted term dropped": ("layernorm", "layernorm", "input",
                                             lambda r: v.Over(v.Plus(*r.args[0].args[:2]),
                                                              r.args[1])),
    "attention: no 1/sqrt(d_k)": ("causal attention", "attention", "S", lambda r: r.args[0]),
    "attention: the mask forgotten": ("causal attention", "attention", "P",
                                      lambda r: v.RowSoftmax(r.args[0], False)),
}
FOUND_AT = {"S": "z", "P": "z"}  # a wrong intermediate is found at the first form reading it


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_wrong_vector_form_is_not_proved_and_named(monkeypatch, mistake):
    network, kind, form, rhs = MISTAKES[mistake]
    replaced(monkeypatch, kind, form, rhs)
    found = claims(network)
    failed = [c for c in found if c.status != "proved"]
    assert failed, mistake
    assert all(c.culprit == f"vector form {FOUND_AT.get(form, form)}" for c in failed)
    assert all(c.residual for c in failed)


def test_a_wrong_form_fails_the_proof_and_its_document_shows_it_not_proved(monkeypatch):
    replaced(monkeypatch, "residual", "input", lambda r: r.args[0])
    d = symbp.derive(symbp.Network(layers=NETWORKS["residual"][0], inputs=2))
    proof = symbp.prove(d)
    assert not proof.holds
    assert [c.name for c in proof.claims if not c.proved] == ["vector forms 1"]
    tex = symbp.render(d, "tex", proof=proof)
    assert r"g_{0} &= W_{1}^{T} \delta_{1} \quad \text{(not proved)}" in tex
    assert r"g_{1} &= W_{2}^{T} \delta_{2}" + "\n" in tex  # the dense layer's form was proved


def test_a_proved_form_is_shown_without_a_mark():
    d = symbp.derive(symbp.Network(layers=NETWORKS["residual"][0], inputs=2))
    tex = symbp.render(d, "tex", proof=symbp.prove(d))
    assert r"g_{0} &= W_{1}^{T} \delta_{1} + g_{1}" + "\n" in tex
    assert r"\text{(not proved)}" not in tex


def test_a_form_shown_but_used_by_no_target_is_not_proved(monkeypatch):
    real = layers.KINDS["dense"]

    def forms(layer):
        found = real.forms(layer)
        stray = v.Equation("h", v.Dot(v.T(W), W), slot="input")  # shown, compared with nothing
        return v.Forms((*found.equations, stray), found.sizes)

    monkeypatch.setitem(layers.KINDS, "dense", dataclasses.replace(real, forms=forms))
    (first, *_) = claims("dense")
    assert first.status == "failed" and first.culprit == "vector form h"
    assert "used by no form" in first.residual


def test_a_form_that_states_no_gradient_of_a_parameter_is_not_proved(monkeypatch):
    real = layers.KINDS["residual"]

    def forms(layer):
        found = real.forms(layer)
        return v.Forms(tuple(eq for eq in found.equations if eq.name != "P"), found.sizes)

    monkeypatch.setitem(layers.KINDS, "residual", dataclasses.replace(real, forms=forms))
    (first, _) = claims("projection")
    assert first.culprit == "vector form P" and "do not state it" in first.residual


def test_a_wrong_named_entry_form_of_a_layer_norm_is_not_proved(monkeypatch):
    def wrong(layer, formula, l):
        named, names = layernorm.shorthand(layer, formula, l)
        return named.xreplace({layernorm.SPREAD: 2 * layernorm.SPREAD}), names

    monkeypatch.setitem(layers.KINDS, "layernorm",
                        dataclasses.replace(layernorm.KIND, shorthand=wrong))
    found = claims("layernorm")
    assert [c.status for c in found] == ["proved", "failed", "proved"]
    assert found[1].culprit == "vector form shorthand of input_vjp"


# ---------------------------------------------------------------- printed from the forms


def shown(name: str, l: int = 1, sigma: str = r"\sigma") -> dict[str, str]:
    layer_list, inputs = NETWORKS[name]
    return printed(symbp.Network(layers=layer_list, inputs=inputs).resolved[l - 1], sigma)


def test_the_forms_print_as_the_textbook_writes_them():
    assert shown("dense") == {
        "forward": r"z_{1} = W_{1}\, a_{0} + b_{1}, \qquad a_{1} = \sigma(z_{1})",
        "delta": r"\delta_{1} = g_{1} \odot \sigma'(z_{1})",
        "W": r"\delta_{1}\, a_{0}^{T}", "b": r"\delta_{1}",
        "input": r"g_{0} = W_{1}^{T} \delta_{1}"}
    conv = shown("conv1d pooled")
    assert conv["delta"] == (r"\delta_{1} = \bigl(\operatorname{avgpool}_{2}^{T}\, g_{1}\bigr) "
                             r"\odot \sigma'(z_{1})")
    assert conv["input"] == r"g_{0} = \operatorname{flip}(K_{1}) \ast_{\text{full}} \delta_{1}"
    assert conv["b"] == r"\sum_{t} \delta_{1,t}"
    assert shown("projection")["input"] == r"g_{0} = W_{1}^{T} \delta_{1} + P_{1}^{T} g_{1}"


def test_a_product_under_a_transpose_keeps_its_parentheses():
    forward = shown("attention")["forward"]
    assert r"z_{1} &= \bigl(P\, V\bigr)^{T}" in forward
    assert r"S &= \frac{Q\, K^{T}}{\sqrt{d_k}}" in forward
    norm = shown("layernorm", 2)
    assert norm["input"].startswith(
        r"g_{1} = \frac{n\, dy_{2} - \bigl(\mathbf{1}^{T} dy_{2}\bigr)\, \mathbf{1} - ")


@pytest.mark.parametrize("fmt", ["tex", "md", "html"])
def test_a_kinds_document_of_a_failed_proof_is_not_signed_proved(monkeypatch, fmt):
    replaced(monkeypatch, "residual", "input", lambda r: r.args[0])
    d = symbp.derive(symbp.Network(layers=NETWORKS["residual"][0], inputs=2))
    text = symbp.render(d, fmt)
    assert "Derived and proved by symbp" not in text
    assert "Derived by symbp, not proved (see the proof)" in text


def test_a_kind_without_forms_is_shown_by_its_maps_jacobians_pooling_and_steps_too(monkeypatch):
    from symbp.document.kinds_layer import _vector

    for kind in ("conv1d", "recurrent"):
        monkeypatch.setitem(layers.KINDS, kind, dataclasses.replace(layers.KINDS[kind],
                                                                    forms=None))
    pooled = _vector(claims_network("conv1d pooled").resolved[0], r"\sigma", False)
    assert pooled["forward"] == (r"z_{1} = f_{1}(a_{0}), \qquad "
                                 r"a_{1} = p_{1}\bigl(\sigma(z_{1})\bigr)")
    assert pooled["delta"].startswith(r"\delta_{1} = \bigl(\bigl(\partial a_{1} / ")
    steps = _vector(claims_network("recurrent").resolved[0], r"\sigma", False)
    assert r"\bigl(\partial z_{1,t+1} / \partial \sigma(z_{1,t})\bigr)^{T} \delta_{1,t+1}" in \
        steps["delta"]
    assert "(not proved)" not in pooled["delta"]  # the generic forms are definitions, not claims


def claims_network(name: str) -> symbp.Network:
    layer_list, inputs = NETWORKS[name]
    return symbp.Network(layers=layer_list, inputs=inputs)


def test_a_row_where_the_map_has_a_column_is_not_proved(monkeypatch):
    replaced(monkeypatch, "dense", "input", lambda r: v.T(r))  # (W^T δ)^T: the same entries
    (first, _) = claims("dense")
    assert first.culprit == "vector form input" and "shape (1, 2)" in first.residual

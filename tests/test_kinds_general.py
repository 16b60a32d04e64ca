"""The section "For every size" of a kinds document (document/kinds_general.py): the theorem
for the network's kinds when its layers fit, the instance check, and the reason otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

import symbp
from symbp.cli import config
from symbp.document.kinds_general import fit, kinds_general
from symbp.proof.theorem import covers
from tests.oracles import doubled_output_error

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _derived(name):
    return symbp.derive(config.load(EXAMPLES / f"{name}.toml").net)


def test_a_convolution_under_a_dense_output_is_covered_by_the_theorem_for_its_kinds():
    d = _derived("conv1d")
    g = kinds_general(d)
    assert (g.fits, g.status, g.covers, g.L) == ("", "proved", "", 2)
    assert g.hidden == 'conv1d layers (padding "valid", pool "avg") with relu'
    assert g.output == "a dense layer with sigmoid"
    assert r"\text{ and all sizes}" in g.theorem and "gathered" in g.theorem
    assert {c.name for c in g.claims} >= {"trace", "base case", "step", "dC/dW_l", "dC/db_l",
                                          "cross-check"}
    assert all(c.status == "proved" for c in g.claims)


def test_the_instance_check_fails_for_kinds_the_program_does_not_have():
    d = _derived("conv1d")
    assert covers(d, layers=(symbp.Layer("conv1d", channels=2, kernel=3, pool="avg",
                                         activation="relu"),
                             symbp.Layer("dense", units=2, activation="sigmoid"))) == ""
    wrong = covers(d, layers=(symbp.Layer("residual", activation="relu"),
                              symbp.Layer("dense", units=2, activation="sigmoid")))
    assert "differs from the recursion recorded for every depth" in wrong


@pytest.mark.slow
def test_hidden_layers_that_differ_beyond_their_sizes_are_proved_as_the_networks_own_sequence():
    g = kinds_general(_derived("residual"))
    assert g.why == ("its hidden layers differ in more than their sizes (layer 1 is a residual "
                     "block with tanh, layer 2 is a residual block with a projection with tanh)")
    assert (g.fits, g.depth, g.status, g.covers) == ("", 3, "proved", "")
    assert g.reach == "at depth 3 (this network's sequence of kinds), for every size"
    assert g.theorem.startswith(r"\begin{gathered}L = 3 \text{ (this network's kinds)")
    # two lemmas of one name (a step through each residual block) say which layer is which
    steps = [c.title for c in g.claims if c.name == "step"]
    assert steps == ["Lemma 2, one step back, at layer 2 (residual)",
                     "Lemma 2, one step back, at layer 1 (residual)"]
    assert [c.title for c in g.claims if c.name == "base case"] == [
        "Lemma 1, the output layer, at layer 3 (dense)"]


def test_hidden_layers_of_different_sizes_fit():
    net = symbp.Network(layers=[symbp.Layer("residual", units=3, projection=True),
                                symbp.Layer("residual", units=2, projection=True),
                                symbp.Layer("dense", units=1)], inputs=2)
    assert fit(symbp.derive(net)) == ""


def test_a_softmax_output_over_layer_kinds_is_proved_for_every_size():
    net = symbp.Network(layers=[symbp.Layer("conv1d", channels=2, kernel=2, pool="avg"),
                                symbp.Layer("dense", units=3, activation="softmax")],
                        inputs=[1, 5], cost="softmax_ce")
    g = kinds_general(symbp.derive(net))
    assert (g.fits, g.status, g.covers) == ("", "proved", "")
    assert g.output == "a dense layer with softmax"
    names = {c.name for c in g.claims}
    assert {"base case", "softmax Jacobian", "softmax_ce output delta", "cross-check"} <= names
    assert all(c.status == "proved" for c in g.claims)


def test_a_softmax_hidden_layer_under_kinds_is_not_claimed():
    net = symbp.Network(layers=[symbp.Layer("dense", units=2, activation="softmax"),
                                symbp.Layer("residual"),
                                symbp.Layer("dense", units=2)], inputs=2)
    g = kinds_general(symbp.derive(net))
    assert g.fits.startswith("hidden layer 1 has the softmax activation")
    assert g.status == ""


def test_softmax_on_an_output_of_channels_is_refused_with_its_reason():
    net = symbp.Network(layers=[symbp.Layer("conv1d", channels=2, kernel=2),
                                symbp.Layer("conv1d", channels=2, kernel=1,
                                            activation="softmax")],
                        inputs=[1, 5], cost="softmax_ce")
    g = kinds_general(symbp.derive(net))
    assert g.fits == ("its output layer is a 1-D convolution, 2 channels, kernel 1, valid "
                      "padding with softmax; the theorem for layer kinds takes the softmax "
                      "activation on a dense output only")
    assert g.status == ""


SOFTMAX_NET = dict(layers=[symbp.Layer("conv1d", channels=2, kernel=2),
                           symbp.Layer("dense", units=3, activation="softmax")],
                   inputs=[1, 4], cost="softmax_ce")


@pytest.mark.slow
def test_a_wrong_output_error_under_softmax_over_kinds_is_not_proved():
    from symbp.proof.theorem import theorem
    proof = theorem("relu", "softmax_ce", output="softmax", recursion=doubled_output_error,
                    layers=(SOFTMAX_NET["layers"][0], SOFTMAX_NET["layers"][1]))
    assert proof.status == "failed"
    failed = [c.name for c in proof.claims if c.status == "failed"]
    assert "base case" in failed and "theorem" in failed


@pytest.mark.slow
def test_a_wrong_softmax_jacobian_under_kinds_is_not_proved(monkeypatch):
    from symbp.core import registry
    from symbp.proof.theorem import theorem
    monkeypatch.setattr(registry, "softmax_jacobian_entry", lambda aj, ak, same: aj * (1 - ak))
    proof = theorem("relu", "mse", output="softmax",
                    layers=(SOFTMAX_NET["layers"][0], SOFTMAX_NET["layers"][1]))
    assert proof.status == "failed"
    assert {"softmax Jacobian", "theorem"} <= {c.name for c in proof.claims
                                               if c.status == "failed"}


@pytest.mark.slow
def test_softmax_under_mse_over_kinds_goes_through_the_jacobian_and_is_proved():
    from symbp.proof.theorem import theorem
    proof = theorem("relu", "mse", output="softmax",
                    layers=(SOFTMAX_NET["layers"][0], SOFTMAX_NET["layers"][1]))
    assert proof.status == "proved", proof

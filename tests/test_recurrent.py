"""The recurrent (Elman) layer through time: its forward pass against an RNN written out by
hand, its three routes against sympy.diff of the composed cost, its per-network proof, and
the mistakes BPTT invites planted into a kind registered here."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest
import sympy as sp

import symbp
from symbp import Layer
from symbp.core import layers
from symbp.core.layers import recurrent
from symbp.core.layers.base import Bound, Map


def network(units: int = 2, steps: int = 3, features: int = 1, output: str = "last",
            activation: str = "tanh") -> symbp.Network:
    return symbp.Network(layers=[Layer("recurrent", units=units, output=output,
                                       activation=activation), Layer("dense", units=1)],
                         inputs=(features, steps))


def by_hand(d: Any, units: int, steps: int, features: int) -> list[sp.Matrix]:
    """h_t = tanh(W h_(t-1) + U x_t + b), h_0 = 0: the states of layer 1, written out (tanh
    as symbp's opaque σ, the one the layer's maps apply)."""
    p, tanh = d.layer_parameters(1), d.net.activation(1).apply
    x = sp.Matrix(features, steps, list(d.x))  # features × steps, row-major as the input
    h = sp.zeros(units, 1)
    states = []
    for t in range(steps):
        h = sp.Matrix(tanh(list(p["W"] * h + p["U"] * x[:, t] + p["b"])))
        states.append(h)
    return states


@pytest.mark.parametrize(("units", "steps", "features"), [(1, 1, 1), (2, 3, 1), (2, 2, 2)])
@pytest.mark.parametrize("output", ["last", "all"])
def test_its_forward_pass_is_the_rnn_written_out(units, steps, features, output):
    d = symbp.derive(network(units, steps, features, output))
    states = by_hand(d, units, steps, features)
    want = states[-1] if output == "last" else sp.Matrix.hstack(*states)
    assert list(d.composed_a(1)) == list(want)


@pytest.mark.parametrize(("units", "steps"), [(1, 1), (1, 2), (2, 1), (2, 3)])
@pytest.mark.parametrize("output", ["last", "all"])
def test_its_three_routes_equal_sympy_diff_of_the_composed_cost(units, steps, output):
    d = symbp.derive(network(units, steps, output=output))
    cost = d.composed_cost()
    rng = random.Random(units * 10 + steps)
    # in name order, so that the point is the same under every hash seed (a set's order is
    # not); 50 digits: exact rationals under nested tanh are slow
    point = {s: sp.Float(sp.Rational(rng.randint(-9, 9), rng.randint(1, 9)), 50)
             for s in sorted(cost.free_symbols, key=sp.default_sort_key)}
    for l in (1, 2):
        for name, M in d.layer_parameters(l).items():
            truth = sp.Matrix(*M.shape, [sp.diff(cost, p) for p in M]).xreplace(point)
            for route in symbp.ROUTES:
                gap = d.grad(l, route, name).xreplace(point) - truth
                assert max(abs(v) for v in gap) < 1e-30, (l, name, route)


@pytest.mark.parametrize(("options", "inputs", "message"), [
    ({"units": 0}, (1, 3), "layer 1 (recurrent): key 'units' must be a positive integer"),
    ({"units": 2, "output": "first"}, (1, 3),
     "layer 1 (recurrent): key 'output' must be \"last\" or \"all\", got 'first'"),
    ({"units": 2}, 3, "layer 1 (recurrent): a recurrent layer reads a sequence (features x "
                      "steps), got an input of shape 3"),
    ({"units": 2, "activation": "softmax"}, (1, 3),
     "layer 1 (recurrent): key 'activation': 'softmax' is not elementwise"),
    ({"units": 2, "steps": 3}, (1, 3), "layer 1 (recurrent): unknown key 'steps'"),
])
def test_a_bad_layer_is_one_line_naming_the_layer_and_the_key(options, inputs, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        symbp.Network(layers=[Layer("recurrent", **options), Layer("dense", units=1)],
                      inputs=inputs)


@pytest.mark.parametrize("method", ["expand", "local", "auto"])
@pytest.mark.parametrize("output", ["last", "all"])
def test_it_is_proved_per_network(method, output):
    proof = symbp.prove(symbp.derive(network(output=output)), method)
    assert proof.holds, proof.summary()
    assert {c.parameter for c in proof.claims if c.layer == 1} == {"W", "U", "b"}


def test_the_construction_proves_the_recursion_and_says_it_does_not_compare_the_routes():
    proof = symbp.prove(symbp.derive(network()), "construction")
    assert proof.holds
    assert all(c.status == "not compared" for c in proof.claims if c.kind != "recursion"
               and c.layer is not None)
    assert "layer 1 reads its own state through time" in proof.note
    assert "the routes are not compared" in proof.note


# ---------------------------------------------------------------- planted mistakes


def _planted(monkeypatch, *, maps=None, backward=None) -> symbp.Network:
    kind = dataclasses.replace(recurrent.KIND, **{k: v for k, v in
                                                 (("maps", maps), ("backward", backward))
                                                 if v is not None})
    monkeypatch.setitem(layers.KINDS, "recurrent", kind)
    return network(units=2, steps=3)


def _first_failure(net: symbp.Network, method: str) -> Any:
    proof = symbp.prove(symbp.derive(net), method)
    assert not proof.holds
    return next(c for c in proof.claims if c.status == "failed")


@pytest.mark.parametrize("method", ["expand", "local"])
def test_a_recursion_without_the_step_through_time_is_not_proved(monkeypatch, method):
    """δ_t = σ'(z_t) ⊙ gs_t: the Wᵀ δ_(t+1) term dropped, as if each step were its own layer."""
    def backward(ops, l, g):
        g = ops.vjp(l, "delta_from_g", g)
        delta = ops.bind_delta(l, ops.activation_vjp(l, g))
        ops.gradient(l, weight=ops.vjp(l, "W", delta, ops.state(l)),
                     bias=ops.vjp(l, "b", delta), U=ops.vjp(l, "U", delta, ops.activation(0)))
        return Bound(delta)

    failed = _first_failure(_planted(monkeypatch, backward=backward), method)
    assert failed.layer == 1 and "delta_1" in failed.culprit


@pytest.mark.parametrize("method", ["expand", "local"])
def test_a_recursion_that_forgets_sigma_prime_is_not_proved(monkeypatch, method):
    def backward(ops, l, g):
        g = ops.vjp(l, "delta_from_g", g)
        delta = ops.bind_delta(l, g + ops.vjp(l, "own_vjp"))
        ops.gradient(l, weight=ops.vjp(l, "W", delta, ops.state(l)),
                     bias=ops.vjp(l, "b", delta), U=ops.vjp(l, "U", delta, ops.activation(0)))
        return Bound(delta)

    failed = _first_failure(_planted(monkeypatch, backward=backward), method)
    assert failed.layer == 1 and "delta_1" in failed.culprit


@pytest.mark.parametrize("method", ["expand", "local"])
def test_a_weight_gradient_summed_from_t_1_with_a_state_before_the_first_is_not_proved(
        monkeypatch, method):
    """∂C/∂W summed over t ≥ 1 as if h_0 were the last state (a wrapped index), not 0."""
    T, J, K = recurrent.T, recurrent.J, recurrent.K

    def maps(layer):
        m = recurrent.maps(layer)
        t = recurrent.tensors(layer.get("output", "last"))
        wrong = sp.Sum(t["delta"][J, T] * t["s"][K, sp.Mod(T - 2, recurrent.STEPS) + 1],
                       (T, 1, recurrent.STEPS))
        return dataclasses.replace(m, param_vjps={**m.param_vjps, "W": Map(
            t["dW"], (J, K), wrong, (t["delta"], t["s"]))})

    failed = _first_failure(_planted(monkeypatch, maps=maps), method)
    assert (failed.layer, failed.parameter) == (1, "W") and "dC/dW_1" in failed.culprit


def test_auto_does_not_expand_the_paths_through_time():
    """8 states over 16 steps: about 8^15 paths through the steps, far past what expand takes;
    auto goes by construction (the recursion proved, the routes said not compared)."""
    from symbp.proof.prove import choose_method, expansion_size

    d = symbp.derive(network(units=8, steps=16))
    assert expansion_size(d) > 8 ** 15
    assert choose_method(d, "auto") == "construction"
    with pytest.raises(ValueError, match="for a recurrent layer, the recursion's claims only"):
        choose_method(d, "expand")


THEOREM_LAYERS = (Layer("recurrent", units=2, output="all"), Layer("dense"))


@pytest.mark.slow
def test_the_theorem_proves_stacks_of_it_for_every_depth_width_and_number_of_steps():
    proof = symbp.theorem("tanh", layers=THEOREM_LAYERS)
    assert proof.holds, proof.summary()
    assert "m_0" in proof.summary()  # T, the input's steps, is a symbol
    assert "induction over the steps from the last" in proof.claims[-1].how


def test_the_theorem_refuses_a_last_state_under_it():
    """Its hidden layer repeats at every depth, so it must read what it gives: a sequence."""
    with pytest.raises(ValueError, match="reads the input of a recurrent layer with 2 axes, "
                                         "and the layer below gives 1"):
        symbp.theorem("tanh", layers=(Layer("recurrent", units=2), Layer("dense")))


@pytest.mark.slow
@pytest.mark.parametrize("mistake", ["no step through time", "no sigma prime", "h_0 not 0"])
def test_the_theorem_does_not_prove_a_planted_mistake(monkeypatch, mistake):
    """Each after the right kind was proved in the same process: the theorem's cache must not
    answer for a kind registered again with another backward step or map."""
    assert symbp.theorem("tanh", layers=THEOREM_LAYERS).holds
    T, J, K = recurrent.T, recurrent.J, recurrent.K

    def backward(ops, l, g):
        ds = g if mistake == "no sigma prime" else ops.activation_vjp(l, g)
        delta = ops.bind_delta(l, ds + ops.vjp(l, "own_vjp") if mistake == "no sigma prime"
                               else ds)
        ops.gradient(l, weight=ops.vjp(l, "W", delta, ops.state(l)),
                     bias=ops.vjp(l, "b", delta), U=ops.vjp(l, "U", delta, ops.activation(l - 1)))
        return Bound(delta)

    def maps(layer):  # ∂C/∂W over t ≥ 1, reading a state s_0 that is not 0
        m = recurrent.maps(layer)
        t = recurrent.tensors(layer.get("output", "last"))
        wrong = sp.Sum(t["delta"][J, T] * t["s"][K, T - 1] * recurrent.Inside(
            T - 1, 0, recurrent.STEPS), (T, 1, recurrent.STEPS))
        return dataclasses.replace(m, param_vjps={**m.param_vjps, "W": Map(
            t["dW"], (J, K), wrong, (t["delta"], t["s"]))})

    change = {"maps": maps} if mistake == "h_0 not 0" else {"backward": backward}
    monkeypatch.setitem(layers.KINDS, "recurrent", dataclasses.replace(recurrent.KIND, **change))
    proof = symbp.theorem("tanh", layers=THEOREM_LAYERS)
    assert not proof.holds
    failed = next(c for c in proof.claims if c.status == "failed" and c.name != "theorem")
    assert ("dC/dW_l" if mistake == "h_0 not 0" else "step") in failed.statement + failed.name

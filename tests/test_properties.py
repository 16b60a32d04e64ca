"""Property-based tests over random small architectures, activations and costs."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import central_differences, random_point, symbolic_values

import symbp

pytestmark = pytest.mark.slow  # Hypothesis over whole networks

ELEMENTWISE = ["generic", "sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity"]


@st.composite
def networks(draw, numeric=False):
    depth = draw(st.integers(1, 3))
    widths = draw(st.lists(st.integers(1, 3), min_size=depth + 1, max_size=depth + 1))
    names = [n for n in ELEMENTWISE if not (numeric and n == "generic")]
    acts = draw(st.lists(st.sampled_from(names), min_size=depth, max_size=depth))
    cost = draw(st.sampled_from(["mse", "bce", "softmax_ce"]))
    if cost == "softmax_ce":
        widths[-1] = max(widths[-1], 2)
        acts[-1] = "softmax"
    if cost == "bce" and numeric:
        acts[-1] = "sigmoid"
    return symbp.Network(widths, activation=acts, cost=cost)


SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(networks(), st.sampled_from(["expand", "construction", "local"]))
def test_any_small_network_is_proved(net, method):
    proof = symbp.prove(symbp.derive(net), method=method)
    assert proof.holds, (net, proof.summary())


@SETTINGS
@given(networks(), st.data())
def test_any_wrong_entry_is_caught(net, data):
    """Scale one random entry of one layer's gradient: every method must refuse."""
    l = data.draw(st.integers(1, net.L))
    j = data.draw(st.integers(0, net.widths[l] - 1))
    k = data.draw(st.integers(0, net.widths[l - 1] - 1))
    factor = data.draw(st.sampled_from([2, -1, 0]))

    mask = [[1] * net.widths[l - 1] for _ in range(net.widths[l])]
    mask[j][k] = factor

    class Scaled:  # backprop_deltas, with layer l's weight gradient times a constant mask
        def __init__(self, ops):
            self.ops, self.L = ops, ops.L

        def __getattr__(self, name):
            return getattr(self.ops, name)

        def gradient(self, m, weight, bias):
            self.ops.gradient(m, weight=weight * mask if m == l else weight, bias=bias)

    def wrong(ops):
        symbp.core.recursion.backprop_deltas(Scaled(ops))

    for method in ("expand", "construction", "local"):
        proof = symbp.prove(symbp.derive(net, recursion=wrong), method=method)
        assert not proof.holds
        first = proof.failures[0]
        assert (first.layer, first.entry) == (l, (j + 1, k + 1)), str(first)


@settings(max_examples=15, deadline=None)
@given(networks(numeric=True), st.integers(0, 2**32 - 1))
def test_numeric_values_match_central_differences(net, seed):
    point = random_point(net, np.random.default_rng(seed))
    got = symbolic_values(symbp.derive(net), "recursion", *point, formulas=False)
    want = central_differences(net, *point)
    for wrt in ("W", "b"):
        for g, w in zip(got[wrt], want[wrt]):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)

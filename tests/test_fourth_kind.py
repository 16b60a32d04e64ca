"""Adding a kind touches one module: a kind written here, in the test, and registered in
``KINDS`` is described, derived three ways, proved per network and for every depth, written
up and computed, with no other change to symbp.

The kind: a damped skip, a = σ(W x + b) + x / 2 (a residual block whose highway carries
half of the gradient back)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import sympy as sp

import symbp
from symbp import Layer
from symbp.core import layers
from symbp.core.layers import base, dense, residual
from symbp.core.layers.base import Bound, Kind, Map, Maps, Option
from tests.differences import assert_central_differences

HALF = sp.Rational(1, 2)


def maps(layer: base.Layer) -> Maps:
    plain = residual.maps(base.Layer("residual", {"activation": layer.get("activation", "tanh")}))
    return dataclasses.replace(
        plain, skip=Map(residual.SAME, (dense.J,), HALF * dense.X[dense.J], (dense.X,)),
        skip_vjp=Map(dense.DX, (dense.K,), HALF * residual.G[dense.K], (residual.G,)))


def backward(ops: Any, l: Any, g: Any) -> Bound:
    g = ops.bind_grad(l, g)
    delta = ops.bind_delta(l, ops.activation_vjp(l, g))
    ops.gradient(l, weight=ops.outer(delta, ops.activation(l - 1)), bias=delta)
    return Bound(delta, g)


def pass_back(ops: Any, l: Any, bound: Bound) -> Any:
    return ops.transpose_times(l, bound.delta) + ops.vjp(l, "skip_vjp", bound.grad)


DAMPED = Kind(
    name="damped", summary="a = σ(W x + b) + x / 2",
    options={"activation": Option(lambda v: isinstance(v, str), "an activation's name", "tanh")},
    maps=maps, backward=backward, pass_back=pass_back)


@pytest.fixture
def damped(monkeypatch):
    monkeypatch.setitem(layers.KINDS, "damped", DAMPED)
    return symbp.Network(layers=[Layer("damped"), Layer("damped"), Layer("dense", units=2)],
                         inputs=2)


def test_its_routes_equal_sympy_diff_of_the_composed_cost(damped):
    d = symbp.derive(damped)
    cost = d.composed_cost()
    point = {s: sp.Float(0.1 + 0.07 * i, 40) for i, s in
             enumerate(sorted(cost.free_symbols, key=str))}
    for r in damped.resolved:
        for name, M in d.layer_parameters(r.index).items():
            truth = sp.Matrix(*M.shape, [sp.diff(cost, p) for p in M])
            for route in symbp.ROUTES:
                gap = (d.grad(r.index, route, name) - truth).xreplace(point).evalf(30)
                assert max(abs(v) for v in gap) < 1e-25, (r.index, name, route)


@pytest.mark.parametrize("method", ["expand", "construction", "local"])
def test_it_is_proved_per_network(damped, method):
    proof = symbp.prove(symbp.derive(damped), method)
    assert proof.holds, proof.summary()


@pytest.mark.usefixtures("damped")
def test_a_full_highway_in_its_recursion_is_not_proved(monkeypatch):
    """The mistake the kind invites: passing g back whole, as a residual block does."""
    monkeypatch.setitem(layers.KINDS, "damped", dataclasses.replace(
        DAMPED, pass_back=lambda ops, l, b: ops.transpose_times(l, b.delta) + b.grad))
    net = symbp.Network(layers=[Layer("damped"), Layer("damped"), Layer("dense", units=2)],
                        inputs=2)  # the network reads its kinds when it is made
    proof = symbp.prove(symbp.derive(net), "expand")
    assert not proof.holds and any(c.layer == 1 for c in proof.claims if not c.proved)


def test_it_is_proved_for_every_depth_and_width(damped):
    proof = symbp.theorem("tanh", layers=(Layer("damped"), Layer("dense")))
    assert proof.holds, proof.summary()


def test_its_gradients_are_computed_and_match_central_differences(damped):
    d = symbp.derive(damped)
    f = symbp.lambdify(d)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, 2)), rng.uniform(size=(3, 2))
    params = [{"W": rng.normal(size=(2, 2)), "b": rng.normal(size=2)} for _ in range(3)]
    assert_central_differences(f, x, y, params)


def test_its_document_says_what_it_is(damped):
    text = symbp.render(symbp.derive(damped), "md")
    assert "damped" in text and "W_{1}" in text.replace(" ", "")

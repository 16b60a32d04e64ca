"""Second order for layer kinds: the kinds whose curvature the programs carry (a residual
block, with or without its projection) against SymPy's second derivatives of the composed
cost; every other kind refused before any work, in one line."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
import sympy as sp

import symbp
from symbp import Layer


def test_a_residual_networks_hessian_is_sympys_second_derivative_of_its_cost():
    net = symbp.Network(layers=[Layer("residual", activation="tanh", units=2, projection=True),
                                Layer("dense", units=1)], inputs=1)
    s = symbp.derive(net, order=2)
    H, params, cost = s.hessian(), s.parameters(), s.composed_cost()
    rng = random.Random(0)  # a point in 40-digit floats: every function evaluates at once
    point = {v: sp.Float(rng.uniform(-0.9, 0.9), 40) for v in cost.free_symbols | H.free_symbols}
    for i, p in enumerate(params):
        first = sp.diff(cost, p)
        for j, q in enumerate(params[i:], start=i):  # H is symmetric: the upper triangle
            truth = sp.diff(first, q).xreplace(point)
            assert abs(H[i, j].xreplace(point) - truth) < 1e-30, (p, q)


@pytest.mark.parametrize(("layer", "inputs"), [
    (Layer("conv1d", channels=1, kernel=2), (1, 3)),
    (Layer("recurrent", units=1), (1, 2)),
    (Layer("layernorm"), 2),
    (Layer("attention"), (1, 2)),
])
def test_other_kinds_are_refused_at_order_two(layer, inputs):
    net = symbp.Network(layers=[layer, Layer("dense", units=1)], inputs=inputs)
    with pytest.raises(ValueError, match=rf"order 2 takes dense and residual layers .* layer 1 "
                                         rf"is {layer.kind} "):
        symbp.derive(net, order=2)


def test_the_cli_refuses_it_in_one_line():
    done = subprocess.run([sys.executable, "-m", "symbp", "prove", "--order", "2", "--layers",
                           "conv1d:channels=1;kernel=2,dense:1", "--inputs", "1x3"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr == ("symbp: error: order 2 takes dense and residual layers in this "
                           "version of symbp; layer 1 is conv1d (its curvature is not written "
                           "yet); use order 1\n")

"""Second order for layer kinds: the programs carry dense layers only. A residual block's
skip adds paths that the dense curvature recursion does not have, so it is refused, as every
other kind is, before any work, in one line; the first test shows why."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
import sympy as sp

import symbp
from symbp import Layer
from symbp.core import second_order


def test_the_dense_curvature_recursion_misses_a_residual_blocks_skip(monkeypatch):
    # a residual block below another: the skip a_2 = tanh(z_2) + a_1 carries W_1's curvature
    # past layer 2, which the dense recursion (through W_2 and σ' only) leaves out
    net = symbp.Network(layers=[Layer("residual", activation="tanh", units=1),
                                Layer("residual", activation="tanh", units=1),
                                Layer("dense", units=1)], inputs=1)
    monkeypatch.setattr(second_order, "supported", lambda net: None)  # past the refusal
    s = symbp.derive(net, order=2)
    w = s.parameters(1)[0]
    cost = s.composed_cost()
    rng = random.Random(0)  # a point in 40-digit floats: every function evaluates at once
    recursion = s.hessian(1, 1)[0, 0]
    point = {v: sp.Float(rng.uniform(-0.9, 0.9), 40)
             for v in sorted(cost.free_symbols | recursion.free_symbols, key=str)}
    truth = sp.diff(cost, w, 2).xreplace(point)
    assert abs(recursion.xreplace(point) - truth) > 1e-3 * abs(truth)


@pytest.mark.parametrize("projection", [False, True])
def test_a_residual_block_is_refused_at_order_two(projection):
    net = symbp.Network(layers=[Layer("residual", activation="tanh", units=2,
                                      projection=projection),
                                Layer("dense", units=1)], inputs=1 if projection else 2)
    with pytest.raises(ValueError, match=r"^order 2 takes dense layers in this version of "
                                         r"symbp; layer 1 is residual \(its curvature is not "
                                         r"written yet\); use order 1$"):
        symbp.derive(net, order=2)
    with pytest.raises(ValueError, match="layer 1 is residual"):
        second_order.SecondDerivation(net)  # built directly too


@pytest.mark.parametrize(("layer", "inputs"), [
    (Layer("conv1d", channels=1, kernel=2), (1, 3)),
    (Layer("recurrent", units=1), (1, 2)),
    (Layer("layernorm"), 2),
    (Layer("attention"), (1, 2)),
])
def test_other_kinds_are_refused_at_order_two(layer, inputs):
    net = symbp.Network(layers=[layer, Layer("dense", units=1)], inputs=inputs)
    with pytest.raises(ValueError, match=rf"order 2 takes dense layers .* layer 1 "
                                         rf"is {layer.kind} "):
        symbp.derive(net, order=2)


def test_the_cli_refuses_it_in_one_line():
    done = subprocess.run([sys.executable, "-m", "symbp", "prove", "--order", "2", "--layers",
                           "conv1d:channels=1;kernel=2,dense:1", "--inputs", "1x3"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr == ("symbp: error: order 2 takes dense layers in this "
                           "version of symbp; layer 1 is conv1d (its curvature is not written "
                           "yet); use order 1\n")

"""Second order for layer kinds: the dense curvature programs carry dense layers only. A
residual block's skip adds paths that the dense curvature recursion does not have, so
``SecondDerivation`` refuses every other kind, before any work, in one line; the first test
shows why. ``derive(net, order=2)`` hands such a network to ``KindsSecondDerivation``
(tests/test_kinds_second_order.py), which takes every kind."""

from __future__ import annotations

import random

import pytest
import sympy as sp

import symbp
from symbp import Layer
from symbp.cli.main import main
from symbp.core import second_order
from symbp.core.kinds_second_scope import KINDS_SECOND_ORDER, NOT_YET
from symbp.core.layers import KINDS


def test_the_dense_curvature_recursion_misses_a_residual_blocks_skip(monkeypatch):
    # a residual block below another: the skip a_2 = tanh(z_2) + a_1 carries W_1's curvature
    # past layer 2, which the dense recursion (through W_2 and σ' only) leaves out
    net = symbp.Network(layers=[Layer("residual", activation="tanh", units=1),
                                Layer("residual", activation="tanh", units=1),
                                Layer("dense", units=1)], inputs=1)
    monkeypatch.setattr(second_order, "supported", lambda net: None)  # past the refusal
    s = second_order.SecondDerivation(net)
    w = s.parameters(1)[0]
    cost = s.composed_cost()
    rng = random.Random(0)  # a point in 40-digit floats: every function evaluates at once
    recursion = s.hessian(1, 1)[0, 0]
    point = {v: sp.Float(rng.uniform(-0.9, 0.9), 40)
             for v in sorted(cost.free_symbols | recursion.free_symbols, key=str)}
    truth = sp.diff(cost, w, 2).xreplace(point)
    assert abs(recursion.xreplace(point) - truth) > 1e-3 * abs(truth)


@pytest.mark.parametrize("projection", [False, True])
def test_the_dense_programs_refuse_a_residual_block(projection):
    net = symbp.Network(layers=[Layer("residual", activation="tanh", units=2,
                                      projection=projection),
                                Layer("dense", units=1)], inputs=1 if projection else 2)
    with pytest.raises(ValueError, match=r"^order 2 takes dense layers in this version of "
                                         r"symbp; layer 1 is residual \(its curvature is not "
                                         r"written yet\); use order 1$"):
        second_order.SecondDerivation(net)
    assert type(symbp.derive(net, order=2)).__name__ == "KindsSecondDerivation"


def test_every_layer_kind_is_taken_at_order_two():
    assert set(KINDS_SECOND_ORDER) == set(KINDS) and not NOT_YET


def test_the_cli_refuses_what_order_two_does_not_take_in_one_line(capsys):
    # in this process: exit codes and stderr are main's (tests/test_cli.py starts real ones)
    assert main(["prove", "--order", "2", "--layers", "dense:units=2;activation=softmax,dense:1",
                 "--inputs", "2"]) == 2
    assert capsys.readouterr().err == (
        "symbp: error: second order: activation 'softmax' in a hidden layer (layer 1) has no "
        "second derivative symbp writes; choose elementwise activations, and softmax only with "
        "cost 'softmax_ce'\n")

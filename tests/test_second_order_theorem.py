"""The second-order theorem: the curvature and Gauss–Newton programs for every depth and width."""

import pytest

import symbp
from symbp.core import curvature_recursions
from symbp.core.curvature_generic import record_curvature_generic
from symbp.core.curvature_program import record_curvature
from symbp.core.generic import Concrete
from symbp.core.second_order import SecondDerivation
from symbp.proof.second_order_theorem import (
    covers_second_order,
    prove_second_order_theorem,
    second_order_theorem,
)


@pytest.mark.parametrize("function", [curvature_recursions.backprop_curvature,
                                      curvature_recursions.backprop_gauss_newton])
def test_the_programs_are_recorded_once_for_every_depth(function):
    generic = record_curvature_generic(function)
    assert generic.problems == []
    assert [c.where for c in generic.cases] == [
        "when L - 1 > 0 and l - 1 > 0", "when L - 1 > 0 and l - 1 <= 0", "when L - 1 <= 0"]
    name = "hessian" if function is curvature_recursions.backprop_curvature else "gauss_newton"
    for widths in ([3, 2], [2, 3, 3, 2], [1, 2, 3, 2, 2]):
        d = symbp.derive(symbp.Network(widths), order=2)
        instance = generic.instance(d.L, lambda m, w=widths: w[m],
                                    context=f"{name}\n{d.net.meaning()}")
        assert instance.fingerprint == d.programs[name].fingerprint


def test_the_generic_layer_is_explored_up_to_l_equals_l_minus_1():
    """A step wrong at l = L - 1 only is a case of its own, so what the instance writes there
    is what a network runs (it was once skipped: l ran to L - 2)."""

    def doubled_below_top(ops):
        L = ops.L
        omega = ops.bind_curvature(L, ops.sandwich(L, ops.cost_hessian()))
        cross = ops.bind_cross(L, ops.times_parameters(L, omega))
        for l in ops.layers():
            ops.hessian_row(l, ops.parameter_transpose(l, cross))
            if l > 1:
                below = ops.activation_vjp(l - 1, ops.transpose_times(l, cross))
                if l == L - 1:
                    below = 2 * below
                omega = ops.bind_curvature(l - 1, ops.sandwich(l - 1, ops.congruence(l, omega)))
                cross = ops.bind_cross(l - 1, ops.prepend(
                    l - 1, ops.times_parameters(l - 1, omega), below))

    generic = record_curvature_generic(doubled_below_top)
    assert any("-L + l + 1 == 0" in c.where for c in generic.cases)
    for depth in range(1, 7):
        recorded = record_curvature(doubled_below_top, depth, lambda m: 2)
        assert generic.instance(depth, lambda m: 2).text() == recorded.text()


def test_the_theorem_speaks_for_symbps_own_programs():
    assert covers_second_order(symbp.derive(symbp.Network(), order=2)) == ""


def test_a_program_that_reads_a_concrete_depth_is_refused():
    def concrete(ops):
        for _l in range(ops.L, 0, -1):  # a Python integer: what it does at one depth only
            ops.cost_hessian()

    with pytest.raises(Concrete, match="as a Python integer"):
        record_curvature_generic(concrete)


@pytest.mark.slow
@pytest.mark.parametrize(("activation", "cost"), [("generic", "mse"), ("sigmoid", "bce"),
                                                  ("tanh", "softmax_ce")])
def test_the_theorem_is_proved(activation, cost):
    proof = second_order_theorem(activation, cost)
    assert proof.holds, proof.summary()
    names = [c.name for c in proof.claims]
    for expected in ("H trace", "H delta base", "H delta step", "H curvature base",
                     "H curvature step", "H cross base", "H cross step", "H row step",
                     "G trace", "G curvature step", "G cross step", "G row step", "cross-check",
                     "theorem"):
        assert expected in names
    assert all(c.kind == "general" for c in proof.claims)


def no_residual(ops):
    """The curvature program with every residual term Σ g ∂²a left out: Gauss–Newton, not H."""
    L = ops.L
    omega = ops.bind_curvature(L, ops.sandwich(L, ops.cost_hessian()))
    cross = ops.bind_cross(L, ops.times_parameters(L, omega))
    g = ops.cost_gradient()
    delta = ops.bind_delta(L, ops.activation_vjp(L, g))
    for l in ops.layers():
        ops.hessian_row(l, ops.parameter_transpose(l, cross))
        if l > 1:
            g = ops.transpose_times(l, delta)
            below = ops.activation_vjp(l - 1, ops.transpose_times(l, cross)
                                       + ops.weight_cross(l, delta))
            delta = ops.bind_delta(l - 1, ops.activation_vjp(l - 1, g))
            omega = ops.bind_curvature(l - 1, ops.sandwich(l - 1, ops.congruence(l, omega)))
            cross = ops.bind_cross(l - 1, ops.prepend(l - 1, ops.times_parameters(
                l - 1, omega), below))


@pytest.mark.slow
def test_a_wrong_program_fails_the_theorem():
    proof = prove_second_order_theorem("sigmoid", "mse", programs={"hessian": no_residual})
    failed = {c.name for c in proof.claims if c.status == "failed"}
    assert {"H curvature base", "H curvature step", "cross-check", "theorem"} <= failed
    assert not proof.holds


def test_the_theorem_does_not_speak_for_a_program_passed_in():
    d = SecondDerivation(symbp.Network([2, 2, 2]), curvature=no_residual)
    assert "hessian program differs" in covers_second_order(d)

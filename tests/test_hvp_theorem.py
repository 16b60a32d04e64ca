"""H v for every width: the R-operator program the generated ``hvp`` runs, step by step.

Proved for symbp's own program; each planted mistake (a program with one piece wrong,
passed in as the theorem's hvp program) is refuted by the claim of the step it breaks.
"""

import functools

import pytest

import symbp
from symbp.core import curvature_recursions
from symbp.core.curvature_generic import record_curvature_generic
from symbp.core.generic import BOX
from symbp.proof import hvp_theorem
from symbp.proof.hvp_theorem import covers_hvp, hvp_claims
from symbp.proof.second_order_theorem import prove_second_order_theorem, second_order_summary
from symbp.proof.theorem import entries

NAMES = ["Hv trace", "Hv delta base", "Hv delta step", "Hv tangent first", "Hv tangent step",
         "Hv rdelta base", "Hv rdelta step", "Hv row first", "Hv row step", "Hv theorem"]


def rop(*, v_term=True, sigma2="g", output_sigma2=True, forward_w=True, delta_vjp=True,
        first_bias=True, at_top=1):
    """pearlmutter_hvp with one piece left out or wrong (``at_top``: the δ̇ step scaled at
    the layer L - 1 only, never recorded apart)."""

    def program(ops):
        L = ops.L
        for l in ops.layers_up():
            value = ops.tangent_times(l, ops.activation(l - 1))
            if l > 1 or first_bias:
                value = value + ops.tangent_bias(l)
            if l > 1 and forward_w:
                value = value + ops.times(l, ops.activation_jvp(l - 1, ops.tangent(l - 1)))
            ops.bind_tangent(l, value)
        g = ops.cost_gradient()
        delta = ops.bind_delta(L, ops.activation_vjp(L, g))
        rz = ops.tangent(L)
        top = ops.activation_vjp(L, ops.cost_hessian_times(ops.activation_jvp(L, rz)))
        if output_sigma2:
            top = top + ops.residual_times(L, g, rz)
        rdelta = ops.bind_tangent_delta(L, top)
        for l in ops.layers():
            weight = ops.outer(rdelta, ops.activation(l - 1))
            if l > 1:
                weight = weight + ops.outer(delta, ops.activation_jvp(l - 1, ops.tangent(l - 1)))
            ops.gradient(l, weight=weight, bias=rdelta)
            if l > 1:
                g = ops.transpose_times(l, delta)
                rg = (ops.tangent_transpose_times(l, delta) + ops.transpose_times(l, rdelta)
                      if v_term else ops.transpose_times(l, rdelta))
                weights = {"g": g, "rg": rg}[sigma2]  # what σ'' is weighted by
                below = ops.activation_vjp(l - 1, g) if delta_vjp else g
                delta = ops.bind_delta(l - 1, below)
                rdelta = ops.activation_vjp(l - 1, rg) + ops.residual_times(
                    l - 1, weights, ops.tangent(l - 1))
                if at_top != 1 and l == L - 1:
                    rdelta = at_top * rdelta
                rdelta = ops.bind_tangent_delta(l - 1, rdelta)

    return program


def carried(ops):
    """The forward loop carrying ȧ_(l-1) from one step to the next (concretely right)."""
    ra = None
    for l in ops.layers_up():
        value = ops.tangent_times(l, ops.activation(l - 1)) + ops.tangent_bias(l)
        if l > 1:
            value = value + ops.times(l, ra)
        ra = ops.activation_jvp(l, ops.bind_tangent(l, value))


def branches_up(ops):
    """A forward step wrong from layer 3 on: a branch inside the loop up."""
    for l in ops.layers_up():
        value = ops.tangent_times(l, ops.activation(l - 1)) + ops.tangent_bias(l)
        if l > 1 and l < 3:
            value = value + ops.times(l, ops.activation_jvp(l - 1, ops.tangent(l - 1)))
        ops.bind_tangent(l, value)


def deep_only(ops):
    """symbp's program, wrong only past depth 12."""
    if ops.L > 12:
        ops.bind_tangent(1, ops.tangent_bias(1))
    curvature_recursions.pearlmutter_hvp(ops)


def old_style(ops):
    """The forward loop over range(1, L + 1): the depth as a number."""
    for l in range(1, ops.L + 1):
        ops.bind_tangent(l, ops.tangent_times(l, ops.activation(l - 1)) + ops.tangent_bias(l))


@functools.cache
def symbps(activation: str, cost: str, output: str | None = None) -> tuple:
    """The claims for symbp's own program, made once (two tests read sigmoid's and mse's)."""
    return tuple(hvp_claims(*entries(activation, cost, output)))


@pytest.mark.parametrize(("activation", "cost", "output"), [
    ("sigmoid", "mse", None), ("tanh", "bce", "sigmoid"), ("tanh", "softmax_ce", None)])
def test_symbps_hvp_program_is_proved_for_every_depth_and_width(activation, cost, output):
    claims = symbps(activation, cost, output)
    assert [c.name for c in claims] == NAMES
    assert all(c.proved for c in claims), [(c.name, c.residual) for c in claims]
    assert "recorded once for a symbolic depth L" in claims[0].how
    assert "for every depth L," in claims[-1].statement


def test_the_rewritten_program_is_symbps():
    ours = [c.status for c in hvp_claims(*entries("sigmoid", "mse"), rop())]
    assert ours == [c.status for c in symbps("sigmoid", "mse")]
    assert record_curvature_generic(rop()).fingerprint == \
        record_curvature_generic(curvature_recursions.pearlmutter_hvp).fingerprint


@pytest.mark.parametrize(("planted", "broken"), [
    pytest.param(rop(v_term=False), "Hv rdelta step", id="no V_l^T delta term"),
    pytest.param(rop(sigma2="rg"), "Hv rdelta step", id="sigma'' weighted by the tangent"),
    pytest.param(rop(output_sigma2=False), "Hv rdelta base", id="no sigma'' at the output"),
    pytest.param(rop(forward_w=False), "Hv tangent step", id="no W_l a-dot term"),
    pytest.param(rop(first_bias=False), "Hv tangent first", id="no v_b at layer 1"),
    pytest.param(rop(delta_vjp=False), "Hv delta step", id="wrong delta program"),
    pytest.param(rop(at_top=2), "Hv rdelta step", id="deltadot doubled at L - 1 only"),
])
def test_a_planted_mistake_is_refuted_by_name(planted, broken):
    claims = {c.name: c for c in hvp_claims(*entries("sigmoid", "mse"), planted)}
    assert claims[broken].status == "failed", claims[broken]
    assert claims[broken].entry is not None  # the counterexample's entry
    assert claims["Hv theorem"].status == "failed"
    assert claims["Hv theorem"].culprit == claims[broken].label
    assert [n for n, c in claims.items() if c.status == "failed"] == [broken, "Hv theorem"]


@pytest.mark.parametrize(("planted", "why"), [
    pytest.param(carried, "ops.tangent(l - 1)", id="a value carried through the loop up"),
    pytest.param(branches_up, "inside its loop over ops.layers_up()", id="a branch in it"),
    pytest.param(deep_only, "a concrete depth", id="wrong past depth 12"),
    pytest.param(old_style, "as a Python integer", id="range(1, L + 1)"),
])
def test_a_program_not_recorded_for_every_depth_is_not_proved(planted, why):
    claims = {c.name: c for c in hvp_claims(*entries("sigmoid", "mse"), planted)}
    assert claims["Hv trace"].status == "not compared"
    assert why in claims["Hv trace"].residual and "\n" not in claims["Hv trace"].residual
    assert not claims["Hv theorem"].proved
    assert claims["Hv theorem"].culprit == claims["Hv trace"].label


def test_a_program_without_a_tangent_fails_its_trace():
    def no_rows(ops):  # the tangents, then nothing
        for l in ops.layers_up():
            ops.bind_tangent(l, ops.tangent_times(l, ops.activation(l - 1))
                             + ops.tangent_bias(l))

    claims = {c.name: c for c in hvp_claims(*entries("sigmoid", "mse"), no_rows)}
    assert claims["Hv trace"].status == "failed"
    assert "no block row (or H v) for layer 1" in claims["Hv trace"].residual
    assert claims["Hv theorem"].status == "failed"


def test_the_summary_says_h_v_only_when_proved():
    wrong = prove_second_order_theorem("sigmoid", "mse", programs={"hvp": rop(v_term=False)})
    names = {c.name: c.status for c in wrong.claims}
    assert names["theorem"] == "proved" and names["cross-check"] == "proved"
    assert names["Hv rdelta step"] == names["Hv cross-check"] == names["Hv theorem"] == "failed"
    assert "H v: not proved" in second_order_summary(wrong)
    assert "gives H v" not in second_order_summary(wrong)
    assert not wrong.holds


def test_the_claims_speak_for_a_networks_own_program_at_every_depth():
    d = symbp.derive(symbp.Network(), order=2)
    assert covers_hvp(d) == ""
    deep = symbp.derive(symbp.Network([2, 1] + [1] * 13), order=2)  # depth 14 > BOX
    assert deep.L > BOX and covers_hvp(deep) == ""
    other = symbp.derive(symbp.Network(), order=2, hvp=rop(v_term=False))
    assert "differs" in covers_hvp(other)
    assert curvature_recursions.pearlmutter_hvp is hvp_theorem.HVP

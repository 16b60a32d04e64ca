"""H v for every width: the R-operator program the generated ``hvp`` runs, step by step.

Proved for symbp's own program; each planted mistake (a program with one piece wrong,
passed in as the theorem's hvp program) is refuted by the claim of the step it breaks.
"""

import pytest

import symbp
from symbp.core import curvature
from symbp.proof import hvp_theorem
from symbp.proof.hvp_theorem import covers_hvp, hvp_claims
from symbp.proof.second_order_theorem import prove_second_order_theorem, second_order_summary
from symbp.proof.theorem import entries

NAMES = ["Hv trace", "Hv delta base", "Hv delta step", "Hv tangent first", "Hv tangent step",
         "Hv rdelta base", "Hv rdelta step", "Hv row first", "Hv row step", "Hv theorem"]


def rop(*, v_term=True, sigma2="g", output_sigma2=True, forward_w=True, delta_vjp=True):
    """pearlmutter_hvp with one piece left out or wrong."""

    def program(ops):
        L = ops.L
        rz, ra = {}, {}
        for l in range(1, L + 1):
            value = ops.tangent_times(l, ops.activation(l - 1)) + ops.tangent_bias(l)
            if l > 1 and forward_w:
                value = value + ops.times(l, ra[l - 1])
            rz[l] = ops.bind_tangent(l, value)
            ra[l] = ops.activation_jvp(l, rz[l])
        g = ops.cost_gradient()
        delta = ops.bind_delta(L, ops.activation_vjp(L, g))
        top = ops.activation_vjp(L, ops.cost_hessian_times(ra[L]))
        if output_sigma2:
            top = top + ops.residual_times(L, g, rz[L])
        rdelta = ops.bind_tangent_delta(L, top)
        for l in range(L, 0, -1):
            weight = ops.outer(rdelta, ops.activation(l - 1))
            if l > 1:
                weight = weight + ops.outer(delta, ra[l - 1])
            ops.gradient(l, weight=weight, bias=rdelta)
            if l > 1:
                g = ops.transpose_times(l, delta)
                rg = ops.transpose_times(l, rdelta)
                if v_term:
                    rg = ops.tangent_transpose_times(l, delta) + rg
                weights = {"g": g, "rg": rg}[sigma2]  # what σ'' is weighted by
                below = ops.activation_vjp(l - 1, g) if delta_vjp else g
                delta = ops.bind_delta(l - 1, below)
                rdelta = ops.bind_tangent_delta(l - 1, ops.activation_vjp(l - 1, rg)
                                                + ops.residual_times(l - 1, weights, rz[l - 1]))

    return program


@pytest.mark.parametrize(("activation", "cost", "output"), [
    ("sigmoid", "mse", None), ("tanh", "bce", "sigmoid"), ("tanh", "softmax_ce", None)])
def test_symbps_hvp_program_is_proved_for_every_width(activation, cost, output):
    claims = hvp_claims(*entries(activation, cost, output))
    assert [c.name for c in claims] == NAMES
    assert all(c.proved for c in claims), [(c.name, c.residual) for c in claims]
    assert f"depths 1..{hvp_theorem.DEPTHS}" in claims[0].how


def test_the_rewritten_program_is_symbps(monkeypatch):
    monkeypatch.setattr(hvp_theorem, "DEPTHS", 3)
    ours = [c.status for c in hvp_claims(*entries("sigmoid", "mse"), rop())]
    assert ours == [c.status for c in hvp_claims(*entries("sigmoid", "mse"))]


@pytest.mark.parametrize(("planted", "broken"), [
    pytest.param(rop(v_term=False), "Hv rdelta step", id="no V_l^T delta term"),
    pytest.param(rop(sigma2="rg"), "Hv rdelta step", id="sigma'' weighted by the tangent"),
    pytest.param(rop(output_sigma2=False), "Hv rdelta base", id="no sigma'' at the output"),
    pytest.param(rop(forward_w=False), "Hv tangent step", id="no W_l a-dot term"),
    pytest.param(rop(delta_vjp=False), "Hv delta step", id="wrong delta program"),
])
def test_a_planted_mistake_is_refuted_by_name(monkeypatch, planted, broken):
    monkeypatch.setattr(hvp_theorem, "DEPTHS", 3)
    claims = {c.name: c for c in hvp_claims(*entries("sigmoid", "mse"), planted)}
    assert claims[broken].status == "failed", claims[broken]
    assert claims[broken].entry is not None  # the counterexample's entry
    assert claims["Hv theorem"].status == "failed"
    assert claims["Hv theorem"].culprit == claims[broken].label
    assert [n for n, c in claims.items() if c.status == "failed"] == [broken, "Hv theorem"]


def test_a_program_without_a_tangent_fails_its_trace(monkeypatch):
    def no_rows(ops):  # the tangents, then nothing
        for l in range(1, ops.L + 1):
            ops.bind_tangent(l, ops.tangent_times(l, ops.activation(l - 1))
                             + ops.tangent_bias(l))

    monkeypatch.setattr(hvp_theorem, "DEPTHS", 2)
    claims = {c.name: c for c in hvp_claims(*entries("sigmoid", "mse"), no_rows)}
    assert claims["Hv trace"].status == "failed"
    assert "no delta at layer 1" in claims["Hv trace"].residual
    assert claims["Hv theorem"].status == "failed"


def test_the_summary_says_h_v_only_when_proved(monkeypatch):
    monkeypatch.setattr(hvp_theorem, "DEPTHS", 2)
    wrong = prove_second_order_theorem("sigmoid", "mse", programs={"hvp": rop(v_term=False)})
    names = {c.name: c.status for c in wrong.claims}
    assert names["theorem"] == "proved" and names["cross-check"] == "proved"
    assert names["Hv rdelta step"] == names["Hv cross-check"] == names["Hv theorem"] == "failed"
    assert "H v: not proved" in second_order_summary(wrong)
    assert "gives H v" not in second_order_summary(wrong)
    assert not wrong.holds


def test_the_claims_speak_for_a_networks_own_program():
    d = symbp.derive(symbp.Network(), order=2)
    assert covers_hvp(d) == ""
    deep = symbp.derive(symbp.Network([1] * (hvp_theorem.DEPTHS + 2)), order=2)
    assert f"depths 1..{hvp_theorem.DEPTHS}" in covers_hvp(deep)
    other = symbp.derive(symbp.Network(), order=2, hvp=rop(v_term=False))
    assert "differs" in covers_hvp(other)
    assert curvature.pearlmutter_hvp is hvp_theorem.HVP

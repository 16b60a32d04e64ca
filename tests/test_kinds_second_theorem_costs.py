"""The second-order theorem for layer kinds under a cost that absorbs the output activation
(softmax_ce, proof/kinds_second_theorem.py): the recursion starts at z_K from ∂²C/∂z_K² and
δ_K, the output layer's lemma runs the step on its z node alone, and the planted mistakes in
the fused output's curvature, the step and the δ program are each refused by name. Sizes are
the smallest that reach each path (the suite's time budget)."""

from __future__ import annotations

import dataclasses

import sympy as sp

from symbp import Layer, Network
from symbp.cli.config import load
from symbp.core import curvature, registry
from symbp.core.forms import UnitForm
from symbp.core.kinds_curvature import push_curvature
from symbp.core.recursion import backprop_deltas
from symbp.core.registry import OutputDelta
from symbp.proof.kinds_cross_check import cross_check_claim, cross_check_network
from symbp.proof.kinds_second_lemmas import Sequence
from symbp.proof.kinds_second_steps import KINDS as STEP_KINDS
from symbp.proof.kinds_second_theorem import (
    base_claim,
    first_order_claim,
    layer_claims,
    prove_kinds_second_order_theorem,
    refusal,
)
from tests.oracles import doubled_output_error

SOFTMAX = Layer("dense", units=2, activation="softmax")


def one_layer() -> Network:
    return Network(layers=[SOFTMAX], inputs=1, cost="softmax_ce")


def two_layers() -> Network:
    return Network(layers=[Layer("dense", units=1, activation="tanh"), SOFTMAX], inputs=1,
                   cost="softmax_ce")


def by_name(claims) -> dict:
    return {c.name: c for c in claims}


def test_a_softmax_ce_network_is_proved_for_every_size():
    net = one_layer()
    assert refusal(net) == ""
    proof = prove_kinds_second_order_theorem(net)
    assert proof.holds, proof.failures
    claims = by_name(proof.claims)
    assert list(claims) == ["base", "H step 1", "G step 1", "Hv step 1", "first order",
                            "cross-check", "theorem"]
    assert claims["base"].statement == (
        "the recursion starts at z_L (softmax_ce absorbs softmax) from H_C = d2C/dz_L^2 and "
        "delta_L = dC/dz_L, for every width")
    assert "its node z_1 alone (the cost absorbs its softmax)" in claims["H step 1"].statement
    assert "the chain rule through its pre map" in claims["H step 1"].statement
    assert "the base case holds d2C/dz_1^2 and delta_1 = dC/dz_1" in claims["theorem"].how


def test_the_output_layers_lemma_reads_the_layer_below_through_its_pre_map_alone():
    s = Sequence(two_layers())
    assert s.fused(2) and not s.fused(1)
    assert s.top(2).symbol == sp.Symbol("z(L)") and s.top(1).symbol == sp.Symbol("a(L - 1)")
    (claim,) = layer_claims(s, 2, push_curvature, True)
    assert claim.proved, claim.residual
    assert claim.how.startswith("7 identities in index notation")  # a_(L-1), W, b: pairs, g


def residual_dropped_at_z(live, node, residual=True):
    """The recursion without Σ_i δ_i ∂²z_i at a pre map's node (the fused output's too)."""
    push_curvature(live, node, residual and node.name != "z")


def test_a_dropped_residual_term_at_the_fused_output_fails_its_lemma():
    # the claim stops at its first refuted identity (the second): the five after it are
    # not decided, and its how says so
    (claim,) = layer_claims(Sequence(two_layers()), 2, residual_dropped_at_z, True)
    assert claim.how.startswith("7 identities in index notation (2 decided, up to the first "
                                "refuted)")
    assert claim.status == "failed" and claim.name == "H step 2"
    assert claim.residual.startswith("d2C/da(L - 1) dW(L): refuted at widths")
    assert claim.residual.endswith("differs: -delta[L, 1]")  # the term dropped: δ ∂²z/∂a∂W


def _diagonal(z, a):
    return sp.Matrix(len(a), len(a), lambda j, k: a[j] if j == k else 0)


def test_a_fused_curvature_without_its_outer_product_fails_the_base_case(monkeypatch):
    """The registered softmax Jacobian with its -a_j a_k dropped: H_C = (Σ y) diag(a)."""
    softmax = registry.ACTIVATIONS["softmax"]
    wrong = type("DiagonalSoftmax", (type(softmax),), {"jacobian": staticmethod(_diagonal)})
    monkeypatch.setitem(registry.ACTIVATIONS, "softmax",
                        wrong(**{f.name: getattr(softmax, f.name)
                                 for f in dataclasses.fields(softmax)}))
    net = one_layer()
    claim = base_claim(Sequence(net))
    assert claim.status == "failed"
    assert claim.residual.startswith("H_C = d2C/dz_L^2: ")
    # the first-order premise's Jacobian lemma refutes it too, against the explicit softmax
    premise = first_order_claim(net, backprop_deltas, None)
    assert premise.status == "failed" and "softmax Jacobian" in premise.residual


def test_a_user_cost_whose_closed_delta_assumes_one_hot_targets_fails_the_base_case(
        monkeypatch):
    """δ_K = a - y (right only where Σ y = 1): its H_C, diag(a) - a aᵀ, lacks the factor Σ y."""
    ce = registry.COSTS["softmax_ce"]
    a, y = sp.symbols("a y")
    one_hot = dataclasses.replace(ce, output_deltas=(OutputDelta("softmax", UnitForm(
        (a, y), a - y, ())),))
    monkeypatch.setitem(registry.COSTS, "softmax_ce", one_hot)
    claim = base_claim(Sequence(one_layer()))
    assert claim.status == "failed"
    assert claim.residual.startswith("H_C = d2C/dz_L^2: ")


def test_a_wrong_fused_curvature_function_fails_the_cross_check(monkeypatch):
    """The per-network start from a curvature function with the p pᵀ term dropped."""
    def without_outer(cost, a, y):
        return sp.Add(*y) * sp.Matrix(len(a), len(a), lambda j, k: a[j] if j == k else 0)

    monkeypatch.setattr(curvature, "output_curvature_in_z", without_outer)
    claim = cross_check_claim(one_layer(), push_curvature, backprop_deltas)
    assert claim.status == "failed" and claim.name == "cross-check"


def test_a_wrong_delta_program_fails_the_first_order_premise():
    # through the whole theorem (the one of this suite with a wrong delta program): recursion=
    # reaches the premise and the cross-check, and what does not read the program holds
    proof = prove_kinds_second_order_theorem(one_layer(), recursion=doubled_output_error)
    claims = by_name(proof.claims)
    claim = claims["first order"]
    assert claim.status == "failed" and claim.name == "first order"
    assert {name for name, c in claims.items() if c.status == "failed"} == {
        "first order", "cross-check", "theorem"}
    assert claims["theorem"].culprit == "first order"


def test_a_network_past_the_symbolic_limit_is_cross_checked_on_a_small_one_of_its_kinds():
    net = load("examples/digits-conv.toml").net
    small = cross_check_network(net)
    assert [layer.kind for layer in small.layers] == ["conv1d", "dense"]
    assert small.widths == (6, 2, 2) and small.cost == "softmax_ce"
    assert [dict(layer.options)["activation"] for layer in small.layers] == ["relu", "softmax"]
    assert cross_check_network(one_layer()) == one_layer()  # within the limit: itself


# ---------------------------------------------------------------- a recurrent layer above another


def input_edge_dropped(live, node, residual=True):
    """A pre map's Jacobian without its edges to the layer below's output (a step's x_t)."""
    if node.name == "z":
        node = dataclasses.replace(node, jacobian=tuple(
            {u: e for u, e in row.items() if not u.name.startswith("a")} for row in node.jacobian))
    push_curvature(live, node, residual)


def test_a_recurrent_layer_above_another_reads_its_input_at_every_step():
    net = Network(layers=[Layer("conv1d", channels=1, kernel=1, activation="tanh"),
                          Layer("recurrent", units=1, activation="tanh")], inputs=(1, 2))
    assert refusal(net) == ""
    s, only = Sequence(net), (STEP_KINDS[-1],)  # T = 1, the cheapest step that reads x_t
    (right,) = layer_claims(s, 2, push_curvature, False, kinds=only)
    assert right.proved, right.residual
    assert right.name == "G step 2, time step 1 = T"
    (wrong,) = layer_claims(s, 2, input_edge_dropped, False, kinds=only)
    assert wrong.status == "failed" and wrong.name == "G step 2, time step 1 = T"
    assert wrong.residual.startswith("d2C/da(L - 1) d")

"""The curvature recursion for layer kinds (core/kinds_curvature.py), the third route of
second order: its graph (skips, shared kernels, steps through time), its independence from the
composed cost and from the δ program, and the prover against mistakes planted into it.
(Its blocks against sympy.diff and PyTorch: tests/test_kinds_second_order.py.)"""

from __future__ import annotations

import dataclasses

import pytest

import symbp
from symbp import Layer
from symbp.core.kinds_curvature import push_curvature
from symbp.core.kinds_second_order import KindsSecondDerivation
from symbp.proof.exact import Exact


def skip_net() -> symbp.Network:
    return symbp.Network(layers=[Layer("dense", units=1, activation="tanh"),
                                 Layer("residual", activation="tanh"), Layer("dense", units=1)],
                         inputs=1)


def blocks(matrix: str, pairs) -> set[str]:
    return {f"recursion {matrix} {l},{m}" for l, m in pairs}


ALL = [(l, m) for l in (1, 2, 3) for m in range(l, 4)]


def test_the_graph_has_a_node_per_step_and_the_skip_as_an_edge():
    d = symbp.derive(symbp.Network(layers=[Layer("recurrent", units=2, activation="tanh"),
                                           Layer("residual", activation="tanh")],
                                   inputs=(1, 3)), order=2)
    z = list(d.z_symbols(1))  # the recurrent layer's z: unit by unit, each over its 3 steps
    nodes = [(n.layer, n.name, n.symbols) for n in d.curvature_graph]
    assert nodes == [(1, "z", (z[0], z[3])), (1, "z", (z[1], z[4])), (1, "z", (z[2], z[5])),
                     (1, "a", tuple(d.a_symbols(1))), (2, "z", tuple(d.z_symbols(2))),
                     (2, "a", tuple(d.a_symbols(2)))]
    step2 = d.curvature_graph[1]
    assert {z[0], z[3]} <= set(step2.reads) and {z[1], z[4]}.isdisjoint(step2.reads)
    skip = d.curvature_graph[-1]  # a_2 = σ(z_2) + a_1: it reads a_1 beside z_2
    assert set(skip.reads) == set(d.z_symbols(2)) | set(d.a_symbols(1))


def test_the_recursion_never_differentiates_the_composed_cost(monkeypatch):
    d = symbp.derive(skip_net(), order=2)

    def refuse(self):
        raise AssertionError("the recursion read the composed cost")

    monkeypatch.setattr(KindsSecondDerivation, "composed_cost", refuse)
    H, G = d.hessian(route="recursion"), d.gauss_newton(route="recursion")
    monkeypatch.undo()
    session = Exact()
    assert session.first_difference(H, d.hessian(route="direct")) is None
    assert session.first_difference(G, d.gauss_newton(route="direct")) is None


def test_a_cost_that_absorbs_its_output_starts_the_recursion_at_z_L():
    net = symbp.Network(layers=[Layer("residual", activation="tanh", units=1),
                                Layer("dense", units=2, activation="softmax")],
                        inputs=1, cost="softmax_ce")
    d = symbp.derive(net, order=2)
    assert d.curvature_graph[-1].symbols == tuple(d.z_symbols(2))
    session = Exact()
    assert session.first_difference(d.hessian(route="recursion"),
                                    d.hessian(route="direct")) is None
    assert session.first_difference(d.gauss_newton(route="recursion"),
                                    d.gauss_newton(route="direct")) is None


def test_an_unknown_route_names_the_three():
    d = symbp.derive(skip_net(), order=2)
    with pytest.raises(ValueError, match=r"^unknown route 'rop'; choose one of: direct, "
                                         r"program, recursion$"):
        d.hessian(1, 1, route="rop")


# ---------------------------------------------------------------- planted mistakes


def residual_dropped_at_sigma(live, node, residual=True):
    """The recursion without Σ_i g_i σ''(z_i) where a node applies σ (and the rest right)."""
    push_curvature(live, node, residual and node.name != "a")


def failures(proof) -> dict:
    return {c.name: c for c in proof.claims if c.status == "failed"}


def test_a_dropped_residual_term_is_not_proved_and_named():
    proof = symbp.prove(KindsSecondDerivation(skip_net(), curvature=residual_dropped_at_sigma))
    assert not proof.holds
    failed = failures(proof)
    assert set(failed) == blocks("H", ALL)  # G has no residual term: it stays proved
    assert failed["recursion H 1,1"].entry == (1, 1)
    assert str(proof.failures[0]).startswith("layer 1, recursion H 1,1 entry (1, 1): ")
    proved = {c.name for c in proof.claims if c.proved}
    assert blocks("G", ALL) | {"program H 1,1", "G 1,1", "G PSD"} <= proved


def test_a_skip_left_out_of_the_curvature_is_not_proved_and_named():
    def skip_left_out(live, node, residual=True):
        """a_l = σ(z_l) + a_(l-1) with the skip's edge to a_(l-1) dropped."""
        if node.name == "a" and d.net.resolved[node.layer - 1].kind.name == "residual":
            below = set(d.a_symbols(node.layer - 1))
            node = dataclasses.replace(
                node, jacobian=tuple({u: e for u, e in row.items() if u not in below}
                                     for row in node.jacobian))
        push_curvature(live, node, residual)

    d = KindsSecondDerivation(skip_net(), curvature=skip_left_out)
    proof = symbp.prove(d)
    failed = failures(proof)
    below = [(1, 1), (1, 2), (1, 3)]  # the rows of θ_1, below the skip, and nothing else
    assert set(failed) == blocks("H", below) | blocks("G", below)
    assert str(proof.failures[0]).startswith("layer 1, recursion H 1,1 entry (1, 1): ")
    assert {"recursion H 2,2", "recursion G 3,3", "program H 1,1"} <= {
        c.name for c in proof.claims if c.proved}

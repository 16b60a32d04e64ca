"""The theorem for conv1d layers with same padding and pooling: a pooled layer reads q_e m_e
positions, so the lengths below it are tied to that from the top down (m_(e-1) = q_e m_e), and
every lemma is an identity at exactly the shapes such a network can have, at its own depth."""


import pytest
import sympy as sp

import symbp
from symbp.core import registry
from symbp.core.generic import DEPTH, Explorer, GenericRecorder, Template
from symbp.core.generic_network import theorem_layers
from symbp.core.layers import Layer, conv1d
from symbp.core.layers.argmax import Chosen, WindowArgmax
from symbp.core.layers.conv1d import POOL, O, U
from symbp.core.layers.symbolic import CHANNELS, KERNEL, LENGTH
from symbp.core.layers.symbolic import POOL as Q
from symbp.core.recursion import backprop_deltas
from symbp.proof import affine_sums
from symbp.proof.theorem import _of_network, prove_theorem
from symbp.proof.traced import trace
from tests.test_conv1d_maxpool import plant_pool_vjp

TANH, MSE = registry.activation("tanh"), registry.cost("mse")
WINDOW = sp.floor((U - 1) / POOL) + 1  # the pooled position that position u feeds


def same(pool, **options):
    return Layer("conv1d", activation="tanh", padding="same", pool=pool, **options)


def recorder(*layers):
    return GenericRecorder(Explorer([], len(layers)), "",
                           tuple(Template.of(s) for s in layers), len(layers))


def lemma_differences(*layers):
    """Every lemma of the sequence, decided as sums: its difference, by (kind, place)."""
    traced = trace(backprop_deltas, TANH, TANH, MSE, 5, tuple(Template.of(s) for s in layers),
                   len(layers))
    assert traced.problems == []
    return {(kind, group.places[0]): affine_sums.difference(group.identity.lhs,
                                                            group.identity.rhs,
                                                            group.identity.ranges)
            for kind, table in traced.groups.items() for group in table.values()}


# ---------------------------------------------------------------- the lengths, tied


def test_the_lengths_below_pooled_same_layers_are_tied_from_the_top():
    r = recorder(same("avg"), same("max"), Layer("dense", activation="tanh"))
    m, q, c = LENGTH[DEPTH - 1], Q, CHANNELS
    assert r.ties == {LENGTH[DEPTH - 2]: q[DEPTH - 1] * m,
                      LENGTH[DEPTH - 3]: q[DEPTH - 2] * q[DEPTH - 1] * m}
    assert [r.shape_at(DEPTH - 3 + k) for k in range(3)] == [
        (c[DEPTH - 3], q[DEPTH - 2] * q[DEPTH - 1] * m), (c[DEPTH - 2], q[DEPTH - 1] * m),
        (c[DEPTH - 1], m)]
    first = r._at(DEPTH - 2).sizes  # layer 1 gives the q_2 m_2 positions layer 2 reads
    assert first[conv1d.N_OUT] == q[DEPTH - 1] * m and first[conv1d.KERNEL] == KERNEL[DEPTH - 2]


def test_a_valid_layer_below_keeps_its_input_free_and_its_kernel_takes_the_slack():
    r = recorder(Layer("conv1d", activation="tanh"), same("avg"), Layer("dense"))
    assert r.ties == {LENGTH[DEPTH - 2]: Q[DEPTH - 1] * LENGTH[DEPTH - 1]}
    assert r.shape_at(DEPTH - 3) == (CHANNELS[DEPTH - 3], LENGTH[DEPTH - 3])  # the input
    assert r._at(DEPTH - 2).sizes[conv1d.KERNEL] == \
        LENGTH[DEPTH - 3] - Q[DEPTH - 1] * LENGTH[DEPTH - 1] + 1


def test_no_ties_where_every_layer_reads_what_it_is_given():
    assert recorder(Layer("conv1d", activation="tanh", padding="same"),
                    Layer("conv1d", activation="tanh", pool="avg"), Layer("dense")).ties == {}


def test_a_family_of_them_is_refused_and_the_network_taken_at_its_depth():
    net = symbp.Network(layers=[same("avg", channels=2, kernel=3, pool_size=2),
                                same("avg", channels=2, kernel=3, pool_size=2),
                                Layer("dense", units=2)], inputs=[1, 8])
    shape = theorem_layers(net)
    assert shape.depth == 3
    assert "hidden conv1d layers read (c_(l - 1), m_l*q_l) where the layer below gives " \
           "(c_(l - 1), m_(l - 1))" in shape.why


# ---------------------------------------------------------------- the lemmas


def test_every_lemma_of_a_chain_of_pooled_same_layers_is_an_identity():
    found = lemma_differences(same("avg"), same("max"), Layer("dense", activation="tanh"))
    assert {kind for kind, _ in found} == {"base", "step", "W", "b"}
    assert len(found) == 9 and set(found.values()) == {0}


MISTAKES = {  # the pooled layer's spread back, as a mistake writes it; right at q = 1, 2 or 2
    "avg divided by 2": ("avg", lambda t: t["g"][O, WINDOW] / 2),
    "max routed to the second entry from q = 3 on": ("max", lambda t: t["g"][O, WINDOW] * Chosen(
        sp.Min(U - POOL * (WINDOW - 1), 2), WindowArgmax(t["s"].base, O, WINDOW, POOL))),
}


def _plant(monkeypatch, mistake):
    pool, wrong = MISTAKES[mistake]
    plant_pool_vjp(monkeypatch, wrong)
    return pool


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_planted_spread_leaves_the_step_lemma_a_difference(monkeypatch, mistake):
    pool = _plant(monkeypatch, mistake)
    found = lemma_differences(same(pool), Layer("dense", activation="tanh"))
    assert {kind for (kind, _), difference in found.items() if difference != 0} == {"step"}


# ---------------------------------------------------------------- the theorem


def _theorem(pool):
    """The theorem for a pooled same-padded layer (window 2) under a dense output, uncached."""
    net = symbp.Network(layers=[same(pool, channels=2, kernel=3, pool_size=2),
                                Layer("dense", units=2, activation="tanh")], inputs=[1, 4])
    activation, output, cost, layers, depth, inputs = _of_network(net)
    return prove_theorem(activation, cost, output=output, layers=layers, depth=depth,
                         inputs=inputs)


@pytest.mark.slow  # about 2 s
def test_the_theorem_proves_a_max_pooled_same_layer_for_every_size_where_it_holds():
    proof = _theorem("max")
    assert proof.holds, [(c.label, c.residual) for c in proof.claims if not c.proved]
    said = proof.claims[-1].statement
    assert said.startswith("at depth 2 (this network's sequence of kinds: conv1d, dense), for "
                           "every size (the lengths the layers read: m_0 = m_1*q_1), ")
    assert said.endswith("; where it holds: layer 1: " + conv1d.MAX_POOL_SCOPE)
    assert r"\text{layer 1: max pooling, proved where every window's maximum is unique}" \
        in proof.claims[-1].latex


@pytest.mark.slow  # about 3 s for both
@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_planted_spread_is_not_proved_by_the_theorem_naming_the_step(monkeypatch, mistake):
    """Right at the network's window of 2, so its own proof (the cross-check) passes: only the
    step lemma, at every window q_l, refutes it, at the window that shows it."""
    proof = _theorem(_plant(monkeypatch, mistake))
    assert proof.status == "failed"
    failed = [c.name for c in proof.claims if not c.proved]
    assert failed == ["step", "theorem"] and proof.claims[-1].culprit == "step"
    window = "q_l = 1" if mistake.startswith("avg") else "q_l = 3"
    step = next(c for c in proof.claims if c.name == "step" and not c.proved)
    assert "refuted at widths" in step.how and window in step.how

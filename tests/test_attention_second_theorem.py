"""The second-order theorem for every size through an attention layer: its pre map one atom in
the layer lemmas (``proof.pre_atoms``), the step's result on the layer's own node bridged to the
atom result; and planted mistakes not proved, naming the identity and the claim."""

from __future__ import annotations

import dataclasses

import pytest

import symbp
from symbp import Layer
from symbp.core.kinds_curvature import push_curvature
from symbp.proof import kinds_second_theorem, pre_atoms
from symbp.proof.kinds_second_lemmas import Sequence, layer_identities, lemma_claim
from symbp.proof.row_softmax import RowSoftmax, _canonical

WQ2 = "d2C/dWQ(L - 1) dWQ(L - 1)"


def network(causal: bool = True) -> symbp.Network:
    return symbp.Network(layers=[Layer("attention", causal=causal), Layer("dense", units=1)],
                         inputs=(1, 2))


@pytest.fixture(scope="module")
def sequence() -> Sequence:
    return Sequence(network())


def _claim(identities, names=(WQ2,)):
    """The claim "H step 1" over the identities named (the others are those of the real step:
    deciding all 18 takes 5 s)."""
    chosen = [(w, i) for w, i in identities if w in names]
    assert [w for w, _ in chosen] == list(names)
    return lemma_claim("H step 1", "attention's step", chosen, "planted")


@pytest.mark.slow  # 3 s; the example's theorem below proves every lemma too
def test_the_attention_lemmas_read_the_atoms_and_bridge(sequence):
    found = dict(layer_identities(sequence, 1, push_curvature, True))
    identity = found[WQ2]
    assert isinstance(identity, pre_atoms.AtomIdentity) and identity.bridge
    sides = (identity.lhs, identity.rhs)
    assert not any(side.has(RowSoftmax) for side in sides)  # the softmax only in the atoms
    assert all(side.has(pre_atoms.Curve) for side in sides)  # the softmax Hessian's place
    assert _claim(list(found.items())).status == "proved"


def _dropping(condition):
    """push_curvature with the z node's ∂²z/∂W_Q² block (g times the softmax Hessian through
    W_Q) left out wherever ``condition(block)`` holds."""
    def step(live, node, residual=True):
        if node.name == "z":
            second = tuple({k: b for k, b in s.items()
                            if not (str(k[0]) == str(k[1]) == "WQ(L - 1)" and condition(b))}
                           for s in node.second)
            node = dataclasses.replace(node, second=second)
        push_curvature(live, node, residual)
    return step


def test_a_term_of_the_softmax_hessian_dropped_is_refuted(sequence):
    found = layer_identities(sequence, 1, _dropping(lambda b: True), True)
    identity = dict(found)[WQ2]  # the step does alike on the atoms and the own node
    assert isinstance(identity, pre_atoms.AtomIdentity) and identity.bridge
    assert not any(side.has(RowSoftmax) for side in (identity.lhs, identity.rhs))
    claim = _claim(found)
    assert claim.status == "failed" and claim.residual.startswith(WQ2)
    assert claim.entry is not None  # confirmed with the layer's own derivatives put in


def test_a_step_that_reads_the_entries_is_not_proved_through_the_atoms(sequence):
    # right on the atoms, wrong on the own node (whose entry holds the row softmax): the
    # bridge fails and the atom lemma decides nothing
    step = _dropping(lambda b: b.entry.has(RowSoftmax))
    found = dict(layer_identities(sequence, 1, step, True))
    assert not found[WQ2].bridge
    claim = _claim(list(found.items()))
    assert claim.status == "screened" and "the bridge" in claim.residual


def test_the_atoms_stand_for_sympys_derivatives_of_the_own_map(sequence):
    from symbp.proof.kinds_second_lemmas import _layer_nodes
    nodes, below = _layer_nodes(sequence, 1)
    atoms = pre_atoms.layer(sequence, 1, nodes[-1], below)
    assert atoms is not None
    z, (w, wq) = sequence.z(1), [v for v in atoms.reads if str(v.symbol) in ("W(L - 1)",
                                                                             "WQ(L - 1)")]
    i, alpha, beta = z.indices(), wq.indices(), wq.indices()
    first = atoms.pre(*i).diff(wq.entry(alpha))
    second = first.diff(wq.entry(beta))
    assert isinstance(first, pre_atoms.Slope) and isinstance(second, pre_atoms.Curve)
    own = sequence.pre(1, i)  # SymPy's own derivatives, the oracle of what the atoms stand for
    same = lambda a, b: _canonical(a) == _canonical(b)  # noqa: E731 (up to bound names)
    assert same(atoms.stands_for(first), own.diff(wq.entry(alpha)))
    assert same(atoms.stands_for(second), own.diff(wq.entry(alpha)).diff(wq.entry(beta)))
    # linear in W_V: SymPy's second derivative is a sum of zeros, an atom where the own
    # node holds it, standing for it
    ww = atoms.pre(*i).diff(w.entry(alpha)).diff(w.entry(beta))
    assert pre_atoms._zero_sums(atoms.stands_for(ww)) == 0


def test_the_cross_check_runs_on_a_smaller_attention():
    small = pre_atoms.cross_network(symbp.Network(layers=[Layer("attention", causal=True),
                                                          Layer("dense", units=2)],
                                                  inputs=(2, 3)))
    assert small.input_shape == (2, 2)
    assert dict(small.layers[0].options)["key"] == dict(small.layers[0].options)["value"] == 1
    dense = symbp.Network([2, 2, 1])
    assert pre_atoms.cross_network(dense) is dense
    assert kinds_second_theorem.refusal(network()) == ""


# A wrong attention δ program (the mask forgotten going back) fails the first-order theorem
# by name in test_attention_theorem.py; that the second-order theorem takes the first-order
# one as its premise is tested on cheaper layers (test_norms_second_order_theorem.py,
# test_kinds_second_theorem_costs.py): not again here through attention (~15 CPU-s).

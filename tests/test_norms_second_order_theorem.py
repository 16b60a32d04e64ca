"""The second-order theorem for every size through a layer norm and a batch norm
(proof/kinds_second_theorem.py, proof/norm_roots.py): √(v + ε) one atom whose derivative is the
chain rule, the lemmas proved on small networks, mistakes planted through public objects
refuted by name (attention's: test_attention_second_theorem.py). Each test runs one layer's
lemma, or a network of one layer, so that each stays near 10 CPU-s; the examples are proved from
the CLI (README)."""

from __future__ import annotations

import pytest
import sympy as sp

from symbp import Layer, Network
from symbp.core.kinds_curvature import push_curvature
from symbp.proof.kinds_second_lemmas import Sequence
from symbp.proof.kinds_second_theorem import (
    first_order_claim,
    layer_claims,
    prove_kinds_second_order_theorem,
)
from symbp.proof.norm_roots import Root, opaque
from tests.test_norm_second_order import stray_mean_term

# a norm above a layer: a^{(1)} reaches x̂ = (x − μ)/√(v + ε), its Jacobian and second derivatives
BELOW = {
    "layernorm": dict(layers=[Layer("dense", units=2, activation="identity"),
                              Layer("layernorm")], inputs=1),
    "batchnorm": dict(layers=[Layer("dense_per_sample", units=2, activation="identity"),
                              Layer("batchnorm")], inputs=(1, 2)),
}


def norm_residual_dropped(live, node, residual=True):
    """The curvature step, but the norm's node z_2 adds no Σ g ∂²f: x̂'s second derivatives
    (through μ and √(v + ε)) are lost."""
    push_curvature(live, node, residual and (node.layer, node.name) != (2, "z"))


def test_a_root_is_its_square_root_and_differentiates_by_the_chain_rule():
    x, y, i = sp.IndexedBase("x"), sp.Symbol("y"), sp.Dummy("i", integer=True)
    n = sp.Symbol("n", integer=True, positive=True)
    v = sp.Sum(x[i] ** 2, (i, 1, n)) / n + y
    written = opaque(v ** sp.Rational(-3, 2))
    assert written == Root(v) ** -3
    # the test's own oracle: SymPy's derivative of the power, against the atom's chain rule
    truth = sp.diff(v ** sp.Rational(-3, 2), y)
    got = written.diff(y).replace(lambda e: isinstance(e, Root), lambda e: sp.sqrt(e.args[0]))
    assert sp.simplify((got - truth).xreplace({n: 2}).doit()) == 0
    assert Root(v.xreplace({n: 2}).doit()) == sp.sqrt(v.xreplace({n: 2}).doit())


def test_a_layer_norm_is_proved_for_every_size():
    proof = prove_kinds_second_order_theorem(Network(layers=[Layer("layernorm")], inputs=2))
    assert proof.holds, proof.failures
    assert [c.name for c in proof.claims] == [
        "base", "H step 1", "G step 1", "Hv step 1", "first order", "cross-check", "theorem"]
    assert "a layer norm" in proof.claims[1].statement


@pytest.mark.parametrize("kind", list(BELOW))
def test_a_norms_gauss_newton_step_above_a_layer_is_proved(kind):
    claim, = layer_claims(Sequence(Network(**BELOW[kind])), 2, push_curvature, False)
    assert claim.proved, claim.residual
    assert claim.name == "G step 2" and "for every size" in claim.statement


@pytest.mark.parametrize("kind", list(BELOW))
def test_a_dropped_norm_residual_term_fails_its_H_step_by_name(kind):
    # the claim stops at its first identity, the one refuted (the six that hold after it
    # are not decided: ~70% of the time)
    claim, = layer_claims(Sequence(Network(**BELOW[kind])), 2, norm_residual_dropped, True)
    assert "(1 decided, up to the first refuted)" in claim.how
    assert claim.status == "failed"
    assert claim.name == "H step 2"
    assert claim.residual.startswith("d2C/da(L - 1) da(L - 1): refuted at widths")


def test_a_wrong_norm_delta_program_fails_the_first_order_premise():
    claim = first_order_claim(Network(**BELOW["layernorm"]), stray_mean_term, None)
    assert claim.status == "failed" and claim.name == "first order"
    assert claim.residual



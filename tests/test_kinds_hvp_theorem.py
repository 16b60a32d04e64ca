"""H v by the R-operator for every size at a network's sequence of kinds
(proof/kinds_hvp_lemmas.py): the rule route "program" runs (core/kinds_tangent.py) run on each
layer's statements in index notation, the planted rules it must refuse by name, and the
per-network oracle that refuses them too."""

from __future__ import annotations

import sympy as sp

import symbp
from symbp import Layer, Network
from symbp.core.kinds_curvature import push_curvature
from symbp.core.kinds_tangent import chain_tangent
from symbp.core.recursion import backprop_deltas
from symbp.proof import kinds_hvp_lemmas
from symbp.proof.kinds_cross_check import cross_check_claim
from symbp.proof.kinds_hvp_lemmas import hvp_claims
from symbp.proof.kinds_second_lemmas import Sequence
from symbp.proof.kinds_second_theorem import induction

# a residual block above a dense layer: a_1 is read by the block's map and by its skip
SKIP = dict(layers=[Layer("dense", units=1, activation="tanh"),
                    Layer("residual", activation="tanh")], inputs=1)
RNN = dict(layers=[Layer("recurrent", units=1, activation="tanh")], inputs=(1, 2))


def tensor(read) -> str:
    """The tensor a read is of, per network (w1_1_1: w) and in index notation (w[L, i, k])."""
    e = read.entry
    return e.base.name if isinstance(e, sp.Indexed) else e.name.rstrip("_0123456789")


def skip_tangent_dropped(value, reads, differentiate):
    """adot = sigma'(z) zdot without the skip's adot_(l-1): a term of the forward tangent
    dropped where a statement reads both z and the layer below's a (a residual block's)."""
    if any(tensor(r) == "z" for r in reads):
        reads = [r for r in reads if tensor(r) != "a"]
    return chain_tangent(value, reads, differentiate)


def curvature_term_dropped(value, reads, differentiate):
    """deltadot without its sigma'' term: the delta program's statements' z left out."""
    if any(tensor(r) in ("g", "delta") for r in reads):
        reads = [r for r in reads if tensor(r) != "z"]
    return chain_tangent(value, reads, differentiate)


def through_time_dropped(value, reads, differentiate):
    """zdot_t without W sigma'(z_(t-1)) zdot_(t-1): a recurrent step's own state constant."""
    if any(tensor(r) == "u" for r in reads):
        reads = [r for r in reads if tensor(r) != "z"]
    return chain_tangent(value, reads, differentiate)


def by_name(claims) -> dict:
    return {c.name: c for c in claims}


def test_every_statements_tangent_is_its_derivative_along_v_for_every_size():
    claims = hvp_claims(Sequence(Network(**SKIP)), chain_tangent, backprop_deltas)
    assert [c.name for c in claims] == ["Hv step 2", "Hv step 1"]
    assert all(c.proved for c in claims), [c.residual for c in claims]
    step = by_name(claims)["Hv step 2"]
    assert step.statement.startswith("Hv step, layer 2 (a residual block): the R-operator's "
                                     "tangent of each statement of the layer")
    assert step.statement.endswith("at depth 2, for every size")
    assert "chain_tangent itself" in step.how and "6 identities" in step.how
    # the rule the theorem runs is the one route "program" runs, given as users give it
    d = symbp.derive(Network(**SKIP), order=2, tangent=skip_tangent_dropped)
    assert d.tangent_rule is skip_tangent_dropped
    assert symbp.derive(Network(**SKIP), order=2).tangent_rule is chain_tangent


def test_a_dropped_skip_tangent_fails_the_residual_layer_by_name():
    net = Network(**SKIP)
    claims = by_name(hvp_claims(Sequence(net), skip_tangent_dropped, backprop_deltas))
    assert claims["Hv step 1"].proved  # a dense layer's a reads no a below it
    bad = claims["Hv step 2"]
    assert bad.status == "failed" and bad.entry == (1, 1)
    # what is missing is the skip's tangent, adot of the layer below
    assert bad.residual == "adot: refuted at widths n_L-1 = 1: entry (1, 1) differs: -ad[L - 1, 1]"
    # the per-network oracle (the program route against SymPy's Hessian) refuses it too
    cross = cross_check_claim(net, push_curvature, backprop_deltas, skip_tangent_dropped)
    assert cross.status == "failed" and cross.residual.startswith("Hv ")


def test_a_dropped_curvature_term_fails_each_layers_deltadot():
    claims = hvp_claims(Sequence(Network(**SKIP)), curvature_term_dropped, backprop_deltas)
    assert [c.status for c in claims] == ["failed", "failed"]
    assert claims[0].residual.startswith("deltadot(L): refuted")
    assert claims[1].residual.startswith("deltadot(L - 1): refuted")


def test_a_recurrent_steps_tangent_through_time_is_checked():
    s = Sequence(Network(**RNN))
    assert hvp_claims(s, chain_tangent, backprop_deltas)[0].proved
    bad = hvp_claims(s, through_time_dropped, backprop_deltas)[0]
    assert bad.status == "failed" and bad.residual.startswith("zdot: refuted")


def test_a_kind_not_taken_keeps_the_per_network_wording(monkeypatch):
    s = Sequence(Network(**SKIP))
    monkeypatch.setitem(kinds_hvp_lemmas.NOT_TAKEN, "residual", "planted")
    assert [c.name for c in hvp_claims(s, chain_tangent, backprop_deltas)] == ["Hv step 1"]
    said = kinds_hvp_lemmas.hvp_refused(s.net)
    assert said == "layer 2 is residual, planted"
    claim = induction([], 2, "dense, residual", False, hv=said)
    assert claim.statement.endswith("the delta program the R-operator differentiates is "
                                    "dC/dtheta (the R-operator itself compared per network "
                                    "only: layer 2 is residual, planted)")
    assert "H v for every direction v" in induction([], 2, "dense, residual", False).statement

"""The second-order theorem for networks of layer kinds (proof/kinds_second_theorem.py): the
curvature step run on blocks of every size (proof/curvature_blocks.py), its lemmas per layer,
the planted mistakes it must refuse by name, and the CLI."""

from __future__ import annotations

import dataclasses

import pytest
import sympy as sp

from symbp import Layer, Network
from symbp.core.kinds_curvature import push_curvature
from symbp.core.kinds_tangent import chain_tangent
from symbp.core.recursion import backprop_deltas
from symbp.proof.curvature_blocks import Block, LiveBlocks
from symbp.proof.kinds_cross_check import cross_check_claim, unread_steps
from symbp.proof.kinds_hvp_lemmas import hvp_claims
from symbp.proof.kinds_second_lemmas import Sequence
from symbp.proof.kinds_second_steps import KINDS as STEP_KINDS_OF
from symbp.proof.kinds_second_theorem import (
    first_order_claim,
    kinds_second_order_summary,
    kinds_second_order_theorem,
    layer_claims,
    prove_kinds_second_order_theorem,
)
from tests.oracles import skip_dropped

# a residual block above a dense layer: a_1 is read by the block's map and by its skip
SKIP = dict(layers=[Layer("dense", units=1, activation="tanh"),
                    Layer("residual", activation="tanh")], inputs=1)


def skip_net() -> Network:
    return Network(**SKIP)


def by_name(proof) -> dict:
    return {c.name: c for c in proof.claims}


# ---------------------------------------------------------------- blocks


def test_a_product_of_blocks_sums_over_the_nodes_output_on_either_side():
    n, m = sp.Symbol("n", integer=True, positive=True), sp.Symbol("m", integer=True,
                                                                    positive=True)
    v, u, r = sp.symbols("v u r")
    i, k, p, q = sp.symbols("i k p q", integer=True, positive=True)
    Om, Jb = sp.IndexedBase("Om"), sp.IndexedBase("J")
    omega = Block(Om[i, p], ((v, (i,), (n,)), (r, (p,), (m,))))  # Ω_vr
    jac = Block(Jb[k, q], ((v, (k,), (n,)), (u, (q,), (m,))), out=v)  # ∂v/∂u
    product = omega * jac  # Ω_rv J: rows r, columns u
    assert product.variables == (r, u)
    written = product.at((1,), (2,)).xreplace({n: 3}).doit()
    assert sp.expand(written - sum(Om[t, 1] * Jb[t, 2] for t in range(1, 4))) == 0
    live = LiveBlocks()  # Ω_ru then Ω_ur, one block: stored facing each key
    live.add(r, u, product)
    live.add(u, r, product)
    assert live.omega[u][r].variables == (u, r)
    assert live.omega[r][u].variables == (r, u)


# ---------------------------------------------------------------- the theorem


@pytest.mark.slow
def test_the_theorem_proves_every_layers_step_for_every_size(tmp_path, capsys):
    from symbp.cli.main import main

    proof = kinds_second_order_theorem(skip_net())
    assert proof.holds, proof.failures
    assert [c.name for c in proof.claims] == [
        "base", "H step 2", "H step 1", "G step 2", "G step 1", "Hv step 2", "Hv step 1",
        "first order", "cross-check", "theorem"]
    claims = by_name(proof)
    assert "for every size" in claims["H step 2"].statement
    assert "push_curvature itself" in claims["H step 2"].how
    assert claims["theorem"].statement.startswith("at depth 2 (this network's sequence of "
                                                   "kinds: dense, residual), for every size")
    summary = kinds_second_order_summary(proof)
    assert summary.startswith("proved (general): at depth 2 (this network's sequence of kinds)")
    assert "; the R-operator program on the delta program gives H v for every direction v; " \
        in summary
    # the CLI, on the same network as a file (the theorem kept in this process)
    path = tmp_path / "net.toml"
    path.write_text('inputs = 1\n[[layers]]\nkind = "dense"\nunits = 1\nactivation = "tanh"\n'
                    '[[layers]]\nkind = "residual"\nactivation = "tanh"\n')
    assert main(["prove", str(path), "--order", "2", "--general"]) == 0
    assert summary in capsys.readouterr().out


def residual_dropped_at_sigma(live, node, residual=True):
    """The recursion without Σ_i g_i ∂²f_i where a node applies σ (and the rest right)."""
    push_curvature(live, node, residual and node.name != "a")


def skip_edge_dropped(live, node, residual=True):
    """a_l = σ(z_l) + a_(l-1) with the skip's edge to a_(l-1) left out of a node's Jacobian."""
    if node.name == "a":
        node = dataclasses.replace(node, jacobian=tuple(
            {u: e for u, e in row.items() if not u.name.startswith("a")} for row in node.jacobian))
    push_curvature(live, node, residual)


@pytest.mark.slow
def test_a_dropped_residual_term_fails_the_steps_that_have_one():
    proof = prove_kinds_second_order_theorem(skip_net(), curvature=residual_dropped_at_sigma)
    assert not proof.holds
    failed = {c.name for c in proof.claims if c.status == "failed"}
    # Gauss–Newton has no residual term: its steps stay proved; the cross-check sees it too
    assert failed == {"H step 2", "H step 1", "cross-check", "theorem"}
    assert str(proof.failures[0]).startswith("layer 2, H step 2 entry (1, 1): ")
    assert by_name(proof)["theorem"].culprit == "H step 2"


@pytest.mark.slow
def test_a_dropped_skip_edge_fails_the_residual_layers_steps():
    # the claims that run the step, but layer 1's: the dense layer's a reads no a below it, so
    # there the planted step is push_curvature, its lemmas the theorem's above (the base case,
    # H v and first order do not run the step); a planted step failing the whole theorem by
    # its culprit: the test above
    net = skip_net()
    s = Sequence(net)
    claims = {c.name: c for c in [*layer_claims(s, 2, skip_edge_dropped, True),
                                  *layer_claims(s, 2, skip_edge_dropped, False),
                                  cross_check_claim(net, skip_edge_dropped, backprop_deltas)]}
    failed = {c.name for c in claims.values() if c.status == "failed"}
    assert failed == {"H step 2", "G step 2", "cross-check"}
    assert "d2C/da(L - 1) da(L - 1)" in claims["H step 2"].residual


@pytest.mark.slow
def test_a_skip_dropped_delta_program_fails_the_first_order_premise():
    # the claims that take the delta program: the base case and the steps' lemmas do not (they
    # are the theorem's above); a wrong delta program through the whole theorem:
    # test_kinds_second_theorem_costs.py
    net = skip_net()
    claims = {c.name: c for c in [*hvp_claims(Sequence(net), chain_tangent, skip_dropped),
                                  first_order_claim(net, skip_dropped, None),
                                  cross_check_claim(net, push_curvature, skip_dropped)]}
    failed = {name for name, c in claims.items() if c.status == "failed"}
    # the curvature recursion never reads it; the R-operator differentiates it, so the
    # per-network H v is wrong too (the Hv lemmas hold: the rule is right on any program)
    assert failed == {"first order", "cross-check"}
    assert claims["cross-check"].residual.startswith("Hv ")


# ---------------------------------------------------------------- a recurrent layer

# its nodes are its steps: the output a = σ(z_T), then z_T, ..., z_1 (one lemma per kind)
RNN = dict(layers=[Layer("recurrent", units=1, activation="tanh")], inputs=(1, 2))
STEP_KINDS = ["output", "time step T", "time step t", "time step 1", "time step 1 = T"]


@pytest.fixture(scope="module")
def rnn_proof():
    return kinds_second_order_theorem(Network(**RNN))


# a one-layer recurrent network's claims, in order: its steps' H and G lemmas, then H v's
RECURRENT_CLAIMS = ["base", *[f"{m} step 1, {k}" for m in "HG" for k in STEP_KINDS],
                    "Hv step 1", "first order", "cross-check", "theorem"]


@pytest.mark.slow
def test_a_recurrent_layer_is_proved_step_by_step_for_every_number_of_steps(rnn_proof):
    assert rnn_proof.holds, rnn_proof.failures
    assert [c.name for c in rnn_proof.claims] == RECURRENT_CLAIMS
    claims = by_name(rnn_proof)
    assert claims["H step 1, time step t"].statement.startswith(
        "H step, layer 1 (a recurrent (Elman) layer, 1 units, last state), a step 2 <= t < T "
        "at a symbolic t: the curvature step run on this node gives Omega and g")
    assert "every number of steps T" in claims["G step 1, time step 1 = T"].statement
    assert "induction over its steps from T down to 1" in claims["theorem"].how


def residual_dropped_through_time(live, node, residual=True):
    """The recursion without Σ_i g_i ∂²f_i at a step that reads the state one step back."""
    push_curvature(live, node, residual and not (
        node.name == "z" and any(u.name.startswith("z") for u in node.reads)))


@pytest.mark.slow
def test_a_residual_term_dropped_through_time_fails_the_steps_that_read_the_state(rnn_proof):
    s = Sequence(Network(**RNN))
    # the output and the first step read no state one step back: there the planted step is
    # push_curvature, so their lemmas are the theorem's (rnn_proof's), proved
    reading = tuple(k for k in STEP_KINDS_OF if k.name in ("time step T", "time step t"))
    claims = layer_claims(s, 1, residual_dropped_through_time, True, kinds=reading)
    failed = [c.name for c in claims if c.status == "failed"]
    assert failed == ["H step 1, time step T", "H step 1, time step t"]
    assert claims[1].residual.startswith("d2C/dW(L) dz(L)_tau: refuted at widths")
    assert all(by_name(rnn_proof)[f"H step 1, {k}"].proved
               for k in ("output", "time step 1", "time step 1 = T"))


# ---------------------------------------------------------------- every state

# a = σ(z) reads every state: before step t the states before it are live beside z_t, and Ω
# and g at z_(t-1) hold the output's term, to which step t adds its own
EVERY = dict(layers=[Layer("recurrent", units=1, activation="tanh", output="all")],
             inputs=(1, 2))


def _live_states(live, node):
    return [u for u in node.reads if u.name.startswith("z") and u in live.omega]


def output_term_dropped(live, node, residual=True):
    """A step that overwrites what a state it reads holds already (the output's term)."""
    for u in _live_states(live, node):
        live.omega.pop(u)
        for row in live.omega.values():
            row.pop(u, None)
        live.grad.pop(u, None)
    push_curvature(live, node, residual)


def step_term_dropped(live, node, residual=True):
    """A step that adds nothing at a state it reads that is live already (its own term)."""
    held = {u: (dict(live.omega[u]), {r: row[u] for r, row in live.omega.items() if u in row},
                live.grad.get(u)) for u in _live_states(live, node)}
    push_curvature(live, node, residual)
    for u, (row, column, g) in held.items():
        live.omega[u] = dict(row)
        for r, other in live.omega.items():
            if r in column:
                other[u] = column[r]
            elif r != u:
                other.pop(u, None)
        live.grad.pop(u, None) if g is None else live.grad.__setitem__(u, g)


def test_a_step_dropping_the_outputs_term_or_its_own_at_a_state_is_not_proved():
    s = Sequence(Network(**EVERY))
    last = (STEP_KINDS_OF[1],)  # time step T: z_(T-1) live beside it, read by it
    # (the right step's claim there is the theorem's, checked in the test below)
    for planted in (output_term_dropped, step_term_dropped):
        (wrong,) = layer_claims(s, 1, planted, False, kinds=last)
        assert wrong.status == "failed" and wrong.name == "G step 1, time step T"
        assert wrong.residual.startswith("d2C/dz(L)_<m[L - 1] dz(L)_<m[L - 1]: refuted at")


def unread_states_left_out(live, node, residual=True):
    """A step that leaves alone the states it does not read: the cross terms between an
    earlier state and what the step reads are lost. The lemma reads the states before step t
    as one block z_(<t), so it cannot tell; on a network it shows from the third step on."""
    unread = [r for r in live.omega
              if r.name.startswith("z") and r not in node.reads and r not in node.symbols]
    kept = {r: live.omega.pop(r) for r in unread}
    for row in live.omega.values():
        for r in unread:
            row.pop(r, None)
    push_curvature(live, node, residual)
    for r, row in kept.items():
        live.omega[r] = {c: v for c, v in row.items() if c not in node.symbols}
        for c, v in live.omega[r].items():
            if c != r:
                live.omega[c][r] = v


def test_a_step_leaving_out_states_it_does_not_read_fails_the_cross_check_at_three_steps():
    # a dense layer reading every state couples them, so an earlier state's cross terms count
    net = Network(layers=[*EVERY["layers"], Layer("dense", units=1)], inputs=(1, 2))
    assert unread_steps(net).input_shape == (1, 3)
    right = cross_check_claim(net, push_curvature, backprop_deltas)
    assert right.proved, right.residual
    assert "and over 3 steps, where a step has an earlier state live beside it" in \
        right.statement
    wrong = cross_check_claim(net, unread_states_left_out, backprop_deltas)
    assert wrong.status == "failed" and wrong.residual.startswith("recursion H 1,1: at 3 steps")
    # over 3 steps or more, or giving its last state only, the network itself is enough
    assert unread_steps(Network(layers=EVERY["layers"], inputs=(1, 3))) is None
    assert unread_steps(Network(layers=[Layer("recurrent", units=1)], inputs=(1, 2))) is None


@pytest.mark.slow
def test_a_recurrent_layer_giving_every_state_is_proved_for_every_number_of_steps(tmp_path,
                                                                                 capsys):
    from symbp.cli.main import main

    net = Network(**EVERY)
    proof = kinds_second_order_theorem(net)
    assert proof.holds, proof.failures
    path = tmp_path / "net.toml"  # the CLI takes it (the theorem kept in this process)
    path.write_text('inputs = [1, 2]\n[[layers]]\nkind = "recurrent"\nunits = 1\n'
                    'activation = "tanh"\noutput = "all"\n')
    assert main(["prove", str(path), "--order", "2", "--general"]) == 0
    assert kinds_second_order_summary(proof) in capsys.readouterr().out
    assert [c.name for c in proof.claims] == RECURRENT_CLAIMS
    claims = by_name(proof)
    assert claims["H step 1, time step t"].statement.startswith(
        "H step, layer 1 (a recurrent (Elman) layer, 1 units, every state), a step 2 <= t < T "
        "at a symbolic t, the states before it z_(<t) live beside it: the curvature step")
    assert "where it gives every state, the output lemma leaves Omega and g over every " \
        "state" in claims["theorem"].how
    # the lemma the planted steps above fail: z_(T-1) live beside step T, read by it
    right = claims["G step 1, time step T"]
    assert right.proved, right.residual
    assert "the states before it z_(<T) live beside it" in right.statement
    # (the planted steps are refuted claim by claim above; a whole theorem failing by a
    # culprit is tested for the other kinds: a second full run here cost ~11 CPU-s)


def test_what_the_theorem_does_not_take_is_refused_with_the_reason():
    hidden_softmax = Network(layers=[Layer("dense", units=2, activation="softmax"),
                                     Layer("dense", units=1)], inputs=2)
    with pytest.raises(ValueError, match=r"^second order: activation 'softmax' in a hidden "
                       r"layer \(layer 1\)"):
        kinds_second_order_theorem(hidden_softmax)

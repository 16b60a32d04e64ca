"""The theorem for every size of a network file's layer kinds (``symbp prove FILE --general``,
``symbp.theorem(network=...)``): a family for every depth where the hidden layers are alike and
stack, else the file's own sequence of kinds at its depth K, and claims that say which."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import sympy as sp

import symbp
from symbp import Layer
from symbp.cli import config
from symbp.cli.main import main
from symbp.core import layers
from symbp.core.generic import Template, record_generic
from symbp.core.generic_network import theorem_layers
from symbp.core.layers import conv1d
from symbp.core.layers.base import Inside
from symbp.core.program import ProgramError
from symbp.document.kinds_general import kinds_general
from symbp.proof import affine_sums
from symbp.proof.theorem import behaviour, theorem
from tests.oracles import passed_back_wrong

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FAMILY = "for every depth L and all widths"


def _net(name: str) -> symbp.Network:
    return config.load(EXAMPLES / f"{name}.toml").net


# ---------------------------------------------------------------- which theorem a file gets


@pytest.mark.parametrize(("name", "depth", "why"), [
    ("conv1d", None, ""),
    ("digits-conv", None, ""),
    ("residual", 3, "its hidden layers differ in more than their sizes (layer 1 is a residual "
                    "block with tanh, layer 2 is a residual block with a projection with tanh)"),
    ("layernorm-mlp", 3, "its hidden layers differ in more than their sizes (layer 1 is a dense "
                         "layer with tanh, layer 2 is a layer norm (ε = 1e-05) with identity)"),
    ("recurrent", 2, "its hidden layers are alike but do not stack: the general theorem reads "
                     "the input of a recurrent layer with 2 axes, and the layer below gives 1: "
                     "put it over layers of 2 axes (a network of such layers proves per "
                     "network)"),
])
def test_a_file_gets_the_family_where_its_hidden_layers_stack_else_its_own_sequence(
        name, depth, why):
    shape = theorem_layers(_net(name))
    assert (shape.depth, shape.why) == (depth, why)
    assert shape.reach == (FAMILY if depth is None else
                           f"at depth {depth} (this network's sequence of kinds), for every size")
    assert len(shape.layers) == (2 if depth is None else depth)


def test_attention_layers_stack_so_the_attention_file_gets_the_family():
    shape = theorem_layers(_net("attention"))
    assert shape.depth is None and [s.kind for s in shape.layers] == ["attention", "dense"]


def test_the_sequence_recorded_at_its_depth_is_the_files_program_and_at_no_other_depth():
    net = _net("residual")
    d = symbp.derive(net)
    shape = theorem_layers(net)
    generic = record_generic(d.recursion_function, tuple(Template.of(s) for s in shape.layers),
                             shape.depth)
    assert len(generic.cases) == 1 and generic.depth == 3
    widths = net.widths
    program = generic.instance(3, lambda m: widths[m], context=net.meaning())
    assert program.fingerprint == d.program.fingerprint
    with pytest.raises(ProgramError, match="recorded at depth 3 only, not 4"):
        generic.instance(4, lambda m: 2)


def test_a_network_is_given_alone():
    with pytest.raises(ValueError, match="give network= or activation=, not both"):
        theorem("tanh", network=_net("residual"))


def test_an_equality_of_free_indices_is_one_form_with_its_bracket():
    k, m, f = sp.Symbol("k", integer=True), sp.Symbol("m", integer=True), sp.Function("f")
    ranges = {k: (1, m)}
    bracket = Inside(k, m, m) * f(k)
    assert affine_sums.difference(bracket, sp.KroneckerDelta(k, m) * f(m), ranges) == 0
    assert affine_sums.difference(bracket, sp.KroneckerDelta(k, m) * f(m - 1), ranges) != 0


# ---------------------------------------------------------------- every example file
# (each is proved for every size of its shape in test_kinds_documents.py, beside the
# documents that prove the same theorems)


def test_a_sequence_summary_says_its_depth_and_never_every_depth(capsys):
    assert main(["prove", str(EXAMPLES / "residual.toml"), "--general"]) == 0
    out = capsys.readouterr().out
    summary = out[out.index("proved (general)"):]
    assert summary.startswith("proved (general): at depth 3 (this network's sequence of kinds), "
                              "for every size\n  21 of 21 claims proved; ")
    assert "every depth" not in out


# ---------------------------------------------------------------- planted mistakes


def _short_maps(layer):
    """conv1d with a kernel gradient that sums one position fewer once there are 5 or more:
    right at every size a network of 4 positions has, wrong from 5 on."""
    right = conv1d.maps(layer)
    vjp = right.param_vjps["W"]
    (t, first, last), = vjp.formula.limits
    wrong = sp.Sum(vjp.formula.function, (t, first, last - Inside(last, 5, last)))
    return dataclasses.replace(right, param_vjps={**right.param_vjps,
                                                  "W": dataclasses.replace(vjp, formula=wrong)})


@pytest.mark.slow
def test_a_kernel_gradient_wrong_from_five_positions_is_not_proved(monkeypatch):
    monkeypatch.setitem(layers.KINDS, "conv1d_short", dataclasses.replace(
        layers.KINDS["conv1d"], name="conv1d_short", maps=_short_maps))
    small = symbp.Network(layers=[Layer("conv1d_short", channels=1, kernel=2),
                                  Layer("dense", units=2, activation="tanh"),
                                  Layer("dense", units=1)], inputs=[1, 4])
    large = symbp.Network(layers=[Layer("conv1d_short", channels=1, kernel=2),
                                  Layer("dense", units=1)], inputs=[1, 6])
    assert symbp.prove(symbp.derive(small)).holds  # 3 positions: the mistake does not show
    assert not symbp.prove(symbp.derive(large)).holds  # 5 positions: it does
    proof = theorem(network=small)
    assert not proof.holds and proof.status == "screened"
    failing = [(c.name, c.status) for c in proof.claims if not c.proved]
    assert failing == [("dC/dW_l", "screened"), ("theorem", "screened")]
    claim = next(c for c in proof.claims if c.name == "dC/dW_l" and not c.proved)
    assert "SymPy did not reduce the symbolic difference to 0" in claim.how
    assert "evidence, not a proof; taken at layer L - 2 (L = 3)" in claim.how
    assert proof.claims[-1].culprit == "dC/dW_l"


def _doubled_into_a_recurrent_layer(ops, l, g, above):
    """What a dense layer passes back into a recurrent layer, doubled."""
    return 2 * g if ops.kind(l).name == "recurrent" and ops.kind(l + 1).name == "dense" else g


doubled_into_a_recurrent_layer = passed_back_wrong(_doubled_into_a_recurrent_layer)


@pytest.mark.slow
def test_a_wrong_step_from_dense_into_a_recurrent_last_state_is_not_proved():
    proof = theorem(network=_net("recurrent"), recursion=doubled_into_a_recurrent_layer)
    assert proof.status == "failed"
    failing = [c.name for c in proof.claims if not c.proved]
    assert failing == ["step", "cross-check", "theorem"]
    step = next(c for c in proof.claims if c.name == "step")
    assert step.how.startswith("refuted at widths ") and "layer L - 1 (L = 2)" in step.how
    assert proof.claims[-1].culprit == "step"


@pytest.mark.slow
def test_the_documents_section_says_what_was_proved_in_the_claims_words():
    g = kinds_general(symbp.derive(_net("residual")))
    assert (g.depth, g.status, g.reach) == (
        3, "proved", "at depth 3 (this network's sequence of kinds), for every size")
    assert g.layers == ("layer 1: a residual layer (projection false) with tanh",
                        "layer 2: a residual layer (projection true) with tanh",
                        "layer 3: a dense layer with sigmoid")
    trace = next(c for c in g.claims if c.name == "trace")
    assert trace.established == ("recorded once at depth 3 with every size symbolic, and "
                                 "written out at that depth only")
    assert not [c.name for c in g.claims if "every depth" in c.established + c.statement]
    assert r"L = 3 \text{ (this network's kinds), all sizes}" in g.theorem


def test_a_recursion_that_differs_only_on_a_kind_is_not_answered_from_the_cache():
    net = _net("recurrent")
    shape = theorem_layers(net)
    templates = tuple(Template.of(s) for s in shape.layers)
    right = behaviour(symbp.backprop_deltas, templates, 2)
    doubled_into_a_recurrent_layer.__name__ = "backprop_deltas"  # the same name, not the same
    try:
        assert behaviour(doubled_into_a_recurrent_layer, templates, 2) != right
    finally:
        doubled_into_a_recurrent_layer.__name__ = "doubled_into_a_recurrent_layer"

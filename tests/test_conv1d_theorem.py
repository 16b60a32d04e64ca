"""The theorem for conv1d layers: every depth, channel count, kernel size and length at once,
and every planted mistake in the kind's formulas refuted, naming the lemma and the entry."""

import dataclasses

import pytest
import sympy as sp

import symbp
from symbp.core import registry
from symbp.core.generic import Explorer, GenericRecorder, Template
from symbp.core.layers import KINDS, Layer, conv1d, dense
from symbp.core.layers.conv1d import C_OUT, KERNEL, N_CONV, C, O, S, T, U, n_in, zero_outside
from symbp.core.layers.symbolic import CHANNELS, LENGTH, POOL, WIDTH
from symbp.core.layers.symbolic import KERNEL as KAPPA
from symbp.core.layers.widen import widened
from symbp.core.recursion import backprop_deltas
from symbp.proof import affine_sums
from symbp.proof.theorem import prove_theorem
from symbp.proof.traced import trace

TANH, MSE = registry.activation("tanh"), registry.cost("mse")
CONFIGS = {"valid": {}, "same": {"padding": "same"}, "avg": {"pool": "avg"}}


def lemmas(options, output=None):
    """Every lemma the recursion's trace groups, for hidden conv1d layers with ``options``."""
    hidden = Template.of(Layer("conv1d", activation="tanh", **options))
    top = Template.of(output or Layer("dense", activation="tanh"))
    traced = trace(backprop_deltas, TANH, TANH, MSE, 5, (hidden, top))
    assert traced.problems == []
    return {(kind, group.places[0]): group.identity for kind, table in traced.groups.items()
            for group in table.values()}


# ---------------------------------------------------------------- sizes at a symbolic layer


def test_a_layer_of_channels_has_its_shape_at_every_layer():
    l = sp.Symbol("l", integer=True, positive=True)
    recorder = GenericRecorder(Explorer([]), "", (Template.of(Layer("conv1d")),
                                                 Template.of(Layer("dense"))))
    assert recorder.shape_at(0) == (CHANNELS[0], LENGTH[0])
    assert recorder.shape_at(l) == (CHANNELS[l], LENGTH[l])
    sizes = recorder._at(l).sizes  # valid padding: the kernel is what leaves m_l of m_(l-1)
    assert sizes[conv1d.KERNEL] == LENGTH[l - 1] - LENGTH[l] + 1
    same = GenericRecorder(Explorer([]), "", (Template.of(Layer("conv1d", padding="same")),
                                              Template.of(Layer("dense"))))
    assert same.shape_at(l) == (CHANNELS[l], LENGTH[0])  # same padding keeps m_0
    assert same._at(l).sizes[conv1d.KERNEL] == KAPPA[l]
    pooled = GenericRecorder(Explorer([]), "", (Template.of(Layer("conv1d", pool="avg")),
                                                Template.of(Layer("dense"))))
    assert pooled._at(l).sizes[conv1d.KERNEL] == LENGTH[l - 1] - POOL[l] * LENGTH[l] + 1


def test_a_dense_layer_reads_channels_entry_by_entry():
    maps = widened(dense.maps(Layer("dense", units=2)), 2)
    assert str(maps.pre.formula) == "b[j] + Sum(W[j, k1, k2]*x[k1, k2], (k1, 1, n_in_1), " \
                                    "(k2, 1, n_in_2))"
    assert maps.param_vjps["W"].index == (dense.J, *maps.input_vjp.index)
    assert [len(t.axes) for t in maps.params] == [3, 1]


def test_the_theorem_refuses_what_has_no_shape_at_a_symbolic_layer():
    with pytest.raises(ValueError, match=r"hidden conv1d layers read \(c_\(l - 1\), m_l\*q_l\) "
                                         r"where the layer below gives"):
        symbp.theorem("tanh", layers=(Layer("conv1d", padding="same", pool="avg"),
                                      Layer("dense")))
    with pytest.raises(ValueError, match="reads the input of a conv1d layer with 2 axes, and "
                                         "the layer below gives 1"):
        symbp.theorem("tanh", layers=(Layer("dense"), Layer("conv1d")))


# ---------------------------------------------------------------- the lemmas, decided


@pytest.mark.parametrize("config", CONFIGS)
def test_every_lemma_of_conv_layers_is_an_identity_of_sums(config):
    """The kernel's gradient, the bias's, the flipped full convolution and the pool's spread,
    each against the chain rule through the layer's own map: equal as sums for every size."""
    found = lemmas(CONFIGS[config])
    kinds = {kind for kind, _ in found}
    assert kinds == {"base", "step", "W", "b"}
    for (kind, place), identity in found.items():
        assert affine_sums.difference(identity.lhs, identity.rhs, identity.ranges) == 0, \
            (kind, place)


def test_conv_over_conv_up_to_a_conv_output():
    found = lemmas({}, Layer("conv1d", activation="tanh", padding="same"))
    assert all(affine_sums.difference(i.lhs, i.rhs, i.ranges) == 0 for i in found.values())
    assert any(KAPPA[sp.Symbol("L", integer=True, positive=True)] in i.widths
               for i in found.values())


# ---------------------------------------------------------------- planted mistakes


def _planted(monkeypatch, name, formula):
    """conv1d with one of its vector-Jacobian products replaced by ``formula(padding)``."""
    made = conv1d.maps

    def maps(layer):
        m = made(layer)
        t, p = conv1d.tensors(layer.get("padding")), conv1d.left_pad(layer.get("padding"))
        old = m.input_vjp if name == "input_vjp" else m.param_vjps[name]
        new = dataclasses.replace(old, formula=formula(t, p, layer.get("padding")))
        if name == "input_vjp":
            return dataclasses.replace(m, input_vjp=new)
        return dataclasses.replace(m, param_vjps={**m.param_vjps, name: new})

    monkeypatch.setitem(KINDS, "conv1d", dataclasses.replace(KINDS["conv1d"], maps=maps))


def _input(t, p, padding, shift=0):
    position = T + S - 1 - p + shift
    return t["x"][C, position] if padding == "valid" else zero_outside(t["x"], C, position,
                                                                        n_in(padding))


MISTAKES = {  # name: (map, formula, padding, the lemma that must fail)
    "unflipped kernel": ("input_vjp", lambda t, p, pad: sp.Sum(
        t["W"][O, C, S] * zero_outside(t["delta"], O, U + S - KERNEL + p, N_CONV),
        (O, 1, C_OUT), (S, 1, KERNEL)), "valid", "step"),
    "kernel gradient over one position too few": ("W", lambda t, p, pad: sp.Sum(
        t["delta"][O, T] * _input(t, p, pad), (T, 1, N_CONV - 1)), "valid", "W"),
    "bias gradient not summed": ("b", lambda t, p, pad: t["delta"][O, 1], "valid", "b"),
    "same padding off by one": ("W", lambda t, p, pad: sp.Sum(
        t["delta"][O, T] * _input(t, p, pad, shift=1), (T, 1, N_CONV)), "same", "W"),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_planted_mistake_leaves_a_difference(monkeypatch, mistake):
    name, formula, padding, lemma = MISTAKES[mistake]
    _planted(monkeypatch, name, formula)
    found = lemmas({"padding": padding})
    failing = {kind for (kind, _), i in found.items()
               if affine_sums.difference(i.lhs, i.rhs, i.ranges) != 0}
    assert failing == {lemma}


@pytest.mark.slow
@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_planted_mistake_is_not_proved_and_names_the_entry(monkeypatch, mistake):
    name, formula, padding, lemma = MISTAKES[mistake]
    _planted(monkeypatch, name, formula)  # uncached: theorem() keeps results by the layers given
    proof = prove_theorem("tanh", layers=(Layer("conv1d", padding=padding), Layer("dense")))
    assert proof.status == "failed"
    # the lemma fails, and so does the cross-check: conv networks proved per network
    failed = [c for c in proof.claims if c.status == "failed"
              and c.name not in ("theorem", "cross-check")]
    label = {"step": "step", "W": "dC/dW_l", "b": "dC/db_l"}[lemma]
    assert failed and all(c.name == label for c in failed)
    assert failed[0].entry is not None and "refuted at widths" in failed[0].how
    assert proof.claims[-1].name == "theorem" and proof.claims[-1].culprit


# ---------------------------------------------------------------- the theorem


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS)
def test_the_theorem_is_proved_for_conv_layers(config):
    proof = symbp.theorem("tanh", layers=(Layer("conv1d", **CONFIGS[config]), Layer("dense")))
    assert proof.holds, [(c.label, c.residual) for c in proof.claims if not c.proved]
    names = {c.name for c in proof.claims}
    assert {"trace", "base case", "step", "dC/dW_l", "dC/db_l", "theorem"} <= names
    sizes = " ".join(c.how for c in proof.claims)
    assert "c_l" in sizes and ("m_l" in sizes or "kappa_l" in sizes)


@pytest.mark.slow
def test_the_theorem_is_proved_for_conv_layers_under_a_conv_output():
    proof = symbp.theorem("sigmoid", layers=(Layer("conv1d"), Layer("conv1d", padding="same")))
    assert proof.holds


def test_the_widths_a_dense_theorem_reads_are_unchanged():
    recorder = GenericRecorder(Explorer([]), "")
    l = sp.Symbol("l", integer=True, positive=True)
    assert recorder.width_at(l) == WIDTH[l] and recorder.shape_at(0) == (WIDTH[0],)


@pytest.mark.parametrize("config", CONFIGS)
def test_small_networks_of_the_theorems_layers_are_proved_per_network(config):
    """What the theorem's cross-check runs: conv1d layers sized by their kind (``sized``) for
    the widths 1, 3, 2 over an input of 6 positions, then a dense output, proved exactly."""
    template = Layer("conv1d", activation="tanh", **CONFIGS[config])
    layers, shape = [], (1, 6)
    for width in (3, 2):
        layer = KINDS["conv1d"].sized(template, width, shape)
        layers.append(layer)
        shape = symbp.Network(layers=[*layers, Layer("dense", units=1)],
                              inputs=[1, 6]).resolved[-2].shape_out
    net = symbp.Network(layers=[*layers, Layer("dense", units=2)], inputs=[1, 6])
    assert symbp.prove(symbp.derive(net), method="local").holds
    assert [r.layer.get("kernel") for r in net.resolved[:2]] == (
        [3, 2] if config == "avg" else [3, 3])

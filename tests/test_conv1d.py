"""The 1-D convolution layer per network: its options and their errors, its proof, and its
gradients against sympy.diff of the composed cost and against PyTorch's conv1d."""

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symbp
from symbp.cli.main import main
from symbp.core.layers import KINDS, Layer, conv1d
from symbp.core.layers.conv1d import C_OUT, KERNEL, N_CONV, C, O, S, U
from symbp.proof.layer_lemmas import LayerMaps

# (padding, pool, input shape, kernel): every combination the layer offers, small
SHAPES = [("valid", "none", (2, 5), 3), ("valid", "avg", (1, 6), 3),
          ("same", "none", (2, 4), 3), ("same", "avg", (1, 6), 2)]


def conv_net(padding="valid", pool="none", shape=(1, 6), kernel=3, channels=2,
             activation="tanh", more=()):
    options = {"channels": channels, "kernel": kernel, "padding": padding, "pool": pool,
               "activation": activation}
    if pool != "none":
        options["pool_size"] = 2
    return symbp.Network(layers=[Layer("conv1d", options), *more, Layer("dense", units=2)],
                         inputs=list(shape))


# ---------------------------------------------------------------- options and shapes


def test_shapes_follow_padding_and_pooling():
    assert conv_net("valid", shape=(1, 6)).widths == (6, 8, 2)  # 2 channels × 4 positions
    assert conv_net("same", shape=(1, 6)).widths == (6, 12, 2)
    assert conv_net("valid", "avg", shape=(1, 6)).widths == (6, 4, 2)
    net = conv_net("same", shape=(3, 5), kernel=4)  # even kernel: PyTorch's split
    assert net.resolved[0].shape_out == (2, 5)
    assert net.resolved[0].parameters == {"W": (2, 3, 4), "b": (2,)}
    assert net.resolved[1].shape_in == (10,)  # a dense layer reads the channels flat


def test_defaults_and_a_vector_input_as_one_channel():
    net = symbp.Network(layers=[Layer("conv1d", channels=2, kernel=2), Layer("dense", units=1)],
                        inputs=4)
    r = net.resolved[0]
    assert r.layer.get("activation") == "relu" and r.layer.get("padding") == "valid"
    assert r.sizes[conv1d.C_IN] == 1 and r.shape_out == (2, 3)


@pytest.mark.parametrize(("options", "shape", "message"), [
    ({"channels": 2, "kernel": 7}, [1, 6], "layer 1 (conv1d): key 'kernel': a kernel of 7 is "
     "longer than the input's 6 positions under valid padding"),
    ({"channels": 0, "kernel": 3}, [1, 6], "layer 1 (conv1d): key 'channels' must be a positive "
     "integer (output channels), got 0"),
    ({"channels": 2}, [1, 6], "layer 1 (conv1d): key 'kernel' is required"),
    ({"channels": 2, "kernel": 3, "padding": "full"}, [1, 6],
     "layer 1 (conv1d): key 'padding' must be \"valid\" or \"same\", got 'full'"),
    ({"channels": 2, "kernel": 3, "pool": "avg", "pool_size": 3}, [1, 6],
     "layer 1 (conv1d): key 'pool_size': a pool of 3 does not divide the 4 positions"),
    ({"channels": 2, "kernel": 3, "pool": "avg", "pool_size": 5}, [1, 6],
     "layer 1 (conv1d): key 'pool_size': a pool of 5 exceeds the 4 positions"),
    ({"channels": 2, "kernel": 3, "pool_size": 2}, [1, 6],
     "layer 1 (conv1d): key 'pool_size' is 2 but there is no pool"),
    ({"channels": 2, "kernel": 3, "pool": "min"}, [1, 6],
     "layer 1 (conv1d): key 'pool' must be \"none\", \"avg\" or \"max\", got 'min'"),
    ({"channels": 2, "kernel": 3, "stride": 2}, [1, 6],
     "layer 1 (conv1d): unknown key 'stride'; valid keys: channels, kernel, padding"),
    ({"channels": 2, "kernel": 3, "activation": "swish"}, [1, 6], "'swish'"),
])
def test_each_bad_combination_is_one_value_error(options, shape, message):
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        symbp.Network(layers=[Layer("conv1d", options), Layer("dense", units=2)], inputs=shape)
    assert "\n" not in str(error.value)


def test_the_second_layer_is_named_with_its_own_input():
    with pytest.raises(ValueError, match=r"^layer 2 \(conv1d\): key 'kernel': a kernel of 5 is "
                                         r"longer than the input's 4 positions"):
        symbp.Network(layers=[Layer("conv1d", channels=2, kernel=3),
                              Layer("conv1d", channels=2, kernel=5), Layer("dense", units=1)],
                      inputs=[1, 6])


@pytest.mark.parametrize(("layers", "needle"), [
    ("conv1d:channels=2;kernel=7,dense:2", "key 'kernel': a kernel of 7"),
    ("conv1d:channels=0;kernel=3,dense:2", "key 'channels' must be a positive integer"),
    ("conv1d:channels=2;kernel=3;padding=full,dense:2", "key 'padding'"),
    ("conv1d:channels=2;kernel=3;pool=avg;pool_size=3,dense:2", "does not divide"),
    ("conv1d:channels=2;kernel=3;pool_size=2,dense:2", "but there is no pool"),
])
def test_cli_bad_combinations_exit_2_with_one_line(layers, needle, capsys):
    code = main(["prove", "--method", "local", "--layers", layers, "--inputs", "1x6"])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_cli_shorthand_proves(capsys):
    code = main(["prove", "--method", "local", "--layers", "conv1d:channels=2;kernel=3,dense:2",
                 "--inputs", "1x6"])
    out = capsys.readouterr().out
    assert code == 0
    assert "proved (local)" in out and "relu'" in out


# ---------------------------------------------------------------- the proof per network


@pytest.mark.parametrize(("padding", "pool", "shape", "kernel"), SHAPES)
def test_recursion_is_proved_for_every_layer(padding, pool, shape, kernel):
    net = conv_net(padding, pool, shape, kernel,
                   more=[Layer("conv1d", channels=1, kernel=2, padding=padding)])
    proof = symbp.prove(symbp.derive(net), method="local")
    assert proof.holds
    assert {(c.layer, c.parameter) for c in proof.claims if c.kind == "recursion"} == {
        (l, p) for l in (1, 2, 3) for p in ("W", "b")}


@pytest.mark.parametrize(("padding", "pool", "shape", "kernel"), SHAPES)
def test_recursion_equals_sympy_diff_of_the_composed_cost(padding, pool, shape, kernel):
    d = symbp.derive(conv_net(padding, pool, shape, kernel))
    cost = d.composed_cost()
    for l in (1, 2):
        for name, M in d.layer_parameters(l).items():
            found = d.recursion.param_grads[(l, name)].xreplace(d._composed_deltas)
            assert found.shape == M.shape
            for got, w in zip(found, M):
                assert sp.expand(got - cost.diff(w)) == 0, (l, name, w)


def _planted(monkeypatch, **replace):
    """conv1d with some of its maps' formulas replaced: a mistake in the kind's own data."""
    made = conv1d.maps

    def maps(layer):
        m = made(layer)
        t = conv1d.tensors(layer.get("padding"))
        p = conv1d.left_pad(layer.get("padding"))
        changes = {}
        for name, formula in replace.items():
            where = m.input_vjp if name == "input_vjp" else m.param_vjps[name]
            new = dataclasses.replace(where, formula=formula(t, p))
            if name == "input_vjp":
                changes["input_vjp"] = new
            else:
                changes["param_vjps"] = {**m.param_vjps, name: new}
        return dataclasses.replace(m, **changes)

    monkeypatch.setitem(KINDS, "conv1d", dataclasses.replace(KINDS["conv1d"], maps=maps))


def _unflipped(t, p):
    return sp.Sum(t["W"][O, C, S] * conv1d.zero_outside(t["delta"], O, U + S - KERNEL + p,
                                                         N_CONV), (O, 1, C_OUT), (S, 1, KERNEL))


def _bias_unsummed(t, p):
    return t["delta"][O, 1]


@pytest.mark.parametrize(("mistake", "formula", "first"), [
    ("input_vjp", _unflipped, "delta_1"),
    ("b", _bias_unsummed, "dC/db_2"),
])
def test_a_planted_mistake_fails_naming_the_lemma(monkeypatch, mistake, formula, first):
    _planted(monkeypatch, **{mistake: formula})
    net = symbp.Network(layers=[Layer("conv1d", channels=2, kernel=2),
                                Layer("conv1d", channels=2, kernel=2), Layer("dense", units=1)],
                        inputs=[1, 5])
    proof = symbp.prove(symbp.derive(net), method="local")
    assert not proof.holds
    assert first in proof.failures[0].culprit


# ---------------------------------------------------------------- against PyTorch


def _numbers(d, rng):
    """Random values for every symbol of the composed cost, and the arrays torch reads."""
    values, arrays = {}, {}
    for l in range(1, d.L + 1):
        r = d.net.resolved[l - 1]
        for name, M in d.layer_parameters(l).items():
            array = rng.normal(scale=0.7, size=r.parameters[name])
            arrays[(l, name)] = array
            values.update(zip(M, array.reshape(-1)))
    x = rng.normal(size=d.net.input_shape)
    y = rng.normal(size=d.net.widths[-1])
    values.update(zip(d.x, x.reshape(-1)))
    values.update(zip(d.y, y))
    return values, arrays, x, y


def _number(expr, values):
    return sp.Float(expr.xreplace(values).evalf(30), 30)


def _torch_gradients(net, arrays, x, y):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    acts = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}
    params = {key: torch.tensor(v, dtype=torch.float64, requires_grad=True)
              for key, v in arrays.items()}
    a = torch.tensor(x, dtype=torch.float64).reshape(1, *net.resolved[0].shape_in)
    for r in net.resolved:
        l = r.index
        W, b = params[(l, "W")], params[(l, "b")]
        if r.kind.name == "conv1d":
            z = F.conv1d(a, W, b, padding=r.layer.get("padding"))
            a = acts[r.layer.get("activation")](z)
            if r.layer.get("pool") == "avg":
                a = F.avg_pool1d(a, r.layer.get("pool_size"))
        else:
            a = acts[r.layer.get("activation")](a.reshape(1, -1) @ W.T + b)
    cost = 0.5 * ((a.reshape(-1) - torch.tensor(y, dtype=torch.float64)) ** 2).sum()
    cost.backward()
    return {key: p.grad.numpy() for key, p in params.items()}


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch copies x
@pytest.mark.parametrize(("padding", "pool", "shape", "kernel", "activation"),
                         [*[(*case, "tanh") for case in SHAPES],
                          ("same", "none", (2, 5), 4, "tanh"), ("valid", "avg", (2, 7), 2, "relu")])
def test_gradients_match_pytorch_conv1d(padding, pool, shape, kernel, activation, rng):
    pytest.importorskip("torch")
    net = conv_net(padding, pool, shape, kernel, activation=activation,
                   more=[Layer("conv1d", channels=2, kernel=2, padding=padding,
                               activation="sigmoid")])
    d = symbp.derive(net)
    values, arrays, x, y = _numbers(d, rng)
    expected = _torch_gradients(net, arrays, x, y)
    trace = d.recursion  # in layered symbols: evaluated layer by layer, forward then back
    for l in range(1, d.L + 1):
        here = LayerMaps(d, l)
        values.update((z, _number(e, values)) for z, e in zip(d.z_symbols(l), here.z))
        values.update((a, _number(e, values)) for a, e in zip(d.a_symbols(l), here.a_of_z))
    for l in range(d.L, 0, -1):
        values.update((s, _number(e, values)) for s, e in zip(d.delta_symbols(l), trace.deltas[l]))
    for (l, name), want in expected.items():
        got = np.array([_number(e, values) for e in trace.param_grads[(l, name)]], dtype=float)
        np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-10, atol=1e-10,
                                   err_msg=f"{name}_{l}")


def test_the_example_network_file_is_proved(capsys):
    example = Path(__file__).resolve().parent.parent / "examples" / "conv1d.toml"
    assert main(["prove", str(example), "-q"]) == 0
    out = capsys.readouterr().out
    assert "proved (expand): the three routes agree" in out  # auto: all three routes


@pytest.mark.parametrize(("pool", "says", "not_says"), [
    ("none", "", ("Average pooling", "Max pooling")),
    ("avg", "Average pooling", ("Max pooling",)),
    ("max", "Max pooling", ("Average pooling",)),
])
def test_the_kinds_explanation_speaks_of_the_layers_own_pooling_only(pool, says, not_says):
    layer = symbp.Layer("conv1d", channels=1, kernel=2, pool=pool)
    text = KINDS["conv1d"].explained(layer)
    assert text.startswith("One kernel $K_l$ serves every position") and says in text
    assert not any(other in text for other in not_says)

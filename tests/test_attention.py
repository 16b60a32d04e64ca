"""Softmax attention, one head, as a layer kind: its routes against sympy.diff, its proof per
network (and its planted mistakes caught), its gradients against PyTorch's
scaled_dot_product_attention and central differences, its refusals, its document."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symbp
from symbp import Layer
from symbp.cli import config
from symbp.cli.main import main
from symbp.core import layers
from symbp.core.layers import attention

ROOT = Path(__file__).resolve().parents[1]


def network(causal: bool, inputs=(2, 2), **options) -> symbp.Network:
    return symbp.Network(layers=[Layer("attention", causal=causal, **options),
                                 Layer("dense", units=2)], inputs=inputs)


def point(expr_symbols, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {s: sp.Float(float(rng.uniform(-0.9, 0.9)), 40)
            for s in sorted(expr_symbols, key=str)}


@pytest.mark.parametrize("causal", [False, True])
def test_its_routes_equal_sympy_diff_of_the_composed_cost(causal):
    d = symbp.derive(network(causal, inputs=(1, 2)))
    cost = d.composed_cost()
    at = point(cost.free_symbols)
    for r in d.net.resolved:
        for name, M in d.layer_parameters(r.index).items():
            truth = sp.Matrix(*M.shape, [sp.diff(cost, p) for p in M]).xreplace(at).evalf(30)
            for route in symbp.ROUTES:
                gap = d.grad(r.index, route, name).xreplace(at).evalf(30) - truth
                assert max(abs(v) for v in gap) < 1e-25, (r.index, name, route)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("method", ["expand", "local"])
def test_it_is_proved_per_network(causal, method):
    proof = symbp.prove(symbp.derive(network(causal, inputs=(1, 2))), method)
    assert proof.holds, proof.summary()
    assert {c.parameter for c in proof.claims if c.layer == 1} >= {"W", "b", "WQ", "WK"}


@pytest.mark.slow
@pytest.mark.parametrize("causal", [False, True])
def test_it_is_proved_at_two_channels_of_two_tokens(causal):
    for method in ("expand", "local"):
        proof = symbp.prove(symbp.derive(network(causal)), method)
        assert proof.holds, proof.summary()


def test_auto_proves_it_by_local_lemmas():
    proof = symbp.prove(symbp.derive(network(True, inputs=(1, 2))))
    assert proof.holds and proof.method == "local", proof.summary()


# ---------------------------------------------------------------- planted mistakes


def planted(monkeypatch, causal: bool, change, **options) -> symbp.Proof:
    """The attention kind with one of its maps rewritten by ``change(stages)`` (a Map), the
    layer's proof by local lemmas."""
    real = attention.maps

    def maps(layer):
        m = real(layer)
        st = attention.Stages(bool(layer.get("causal", False)))
        name, new = change(st, m)
        if name == "input_vjp":
            return dataclasses.replace(m, input_vjp=new)
        return dataclasses.replace(m, param_vjps={**m.param_vjps, name: new})

    monkeypatch.setitem(layers.KINDS, "attention",
                        dataclasses.replace(attention.KIND, maps=maps))
    return symbp.prove(symbp.derive(network(causal, inputs=(1, 2), **options)), "local")


def _weight_grad(st, m, name, of):
    row = sp.Symbol("t_w", integer=True, positive=True)
    old = m.param_vjps[name]
    c, k = old.index
    return name, dataclasses.replace(old, formula=sp.Sum(st.x[c, row] * of(row, k),
                                                         (row, 1, attention.T_)))


def test_the_softmax_vjp_without_its_rowsum_is_not_proved(monkeypatch):
    def no_rowsum(st, m):
        st.dS = lambda t, s: st.P(t, s) * st.dP(t, s)
        return _weight_grad(st, m, "WQ", st.dQ)

    proof = planted(monkeypatch, False, no_rowsum)
    assert not proof.holds
    # the map no longer is what the vector forms state either
    assert [c.name for c in proof.claims if not c.proved] == ["dC/dWQ_1", "vector forms 1"]


def test_dk_without_its_scale_is_not_proved(monkeypatch):
    def unscaled(st, m):
        return _weight_grad(st, m, "WK", lambda s, k: st.dK(s, k) * sp.sqrt(attention.DK))

    proof = planted(monkeypatch, False, unscaled, key=2)  # at d_k = 1 the scale is 1
    assert [c.name for c in proof.claims if not c.proved] == ["dC/dWK_1", "vector forms 1"]


def test_the_causal_mask_forgotten_on_the_way_back_is_not_proved(monkeypatch):
    def unmasked(st, m):
        forward = attention.Stages(False)  # P of every token, the mask left out
        st.P = forward.P
        return _weight_grad(st, m, "W", st.dV)

    proof = planted(monkeypatch, True, unmasked)
    assert [c.name for c in proof.claims if not c.proved] == ["dC/dW_1", "vector forms 1"]
    failed = next(c for c in proof.claims if not c.proved)
    assert failed.entry is not None


# ---------------------------------------------------------------- numbers


def _numbers(d, seed: int = 1):
    """Random weights, input and target, as {symbol: value} and per layer as arrays."""
    rng = np.random.default_rng(seed)
    values = {}
    arrays = []
    for r in d.net.resolved:
        here = {}
        for name, M in d.layer_parameters(r.index).items():
            a = rng.normal(scale=0.8, size=M.shape)
            values.update({s: float(v) for s, v in zip(M, a.ravel())})
            here[name] = a
        arrays.append(here)
    x = rng.normal(size=d.net.input_shape)
    y = rng.uniform(size=d.net.resolved[-1].shape_out)
    values.update({s: float(v) for s, v in zip(d.x, x.ravel())})
    values.update({s: float(v) for s, v in zip(d.y, y.ravel())})
    return values, arrays, x, y


def _exact_grads(d, values):
    """Every gradient of the recursion at these values, from its own steps with the numbers
    put in (the worked example's evaluation, 60 digits), in float64."""
    from symbp.document.kinds_numbers import evaluate_layers

    def given(M, shape):  # in the parameter's own shape, as an example gives it
        return np.array([repr(values[s]) for s in M], dtype=object).reshape(shape).tolist()

    example = {"x": [repr(values[s]) for s in d.x], "y": [repr(values[s]) for s in d.y],
               "params": [{name: given(M, r.parameters[name])
                           for name, M in d.layer_parameters(r.index).items()}
                          for r in d.net.resolved]}
    numbers = evaluate_layers(d, example)
    return [{name: np.asarray(M.evalf(30).tolist(), dtype=float) for name, M in grads.items()}
            for grads in numbers.grads]


@pytest.mark.slow
@pytest.mark.parametrize("causal", [False, True])
def test_its_gradients_match_torch_scaled_dot_product_attention(causal):
    torch = pytest.importorskip("torch")
    d = symbp.derive(network(causal, inputs=(2, 2)))
    values, arrays, x, y = _numbers(d)
    got = _exact_grads(d, values)
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in
         {"WV": arrays[0]["W"], "bV": arrays[0]["b"][:, 0], "WQ": arrays[0]["WQ"],
          "WK": arrays[0]["WK"], "W2": arrays[1]["W"], "b2": arrays[1]["b"][:, 0]}.items()}
    X = torch.tensor(x, dtype=torch.float64).T  # tokens × channels
    Q, K, V = X @ t["WQ"], X @ t["WK"], X @ t["WV"] + t["bV"]
    A = torch.nn.functional.scaled_dot_product_attention(Q[None], K[None], V[None],
                                                         is_causal=causal)[0]
    a2 = torch.sigmoid(t["W2"] @ A.T.reshape(-1) + t["b2"])
    cost = 0.5 * ((a2 - torch.tensor(y, dtype=torch.float64)) ** 2).sum()
    cost.backward()
    pairs = [("WV", got[0]["W"]), ("bV", got[0]["b"][:, 0]), ("WQ", got[0]["WQ"]),
             ("WK", got[0]["WK"]), ("W2", got[1]["W"]), ("b2", got[1]["b"][:, 0])]
    for name, value in pairs:
        np.testing.assert_allclose(value, t[name].grad.numpy(), rtol=0, atol=1e-10,
                                   err_msg=name)


@pytest.mark.slow
def test_its_gradients_match_central_differences():
    d = symbp.derive(network(True, inputs=(2, 2)))
    values, _, _, _ = _numbers(d, seed=2)
    got = _exact_grads(d, values)
    cost = sp.lambdify(list(values), d.composed_cost(), "numpy")
    h = 1e-6
    names = list(values)
    for r in d.net.resolved:
        for name, M in d.layer_parameters(r.index).items():
            for i, s in enumerate(M):
                at = [values[n] + (h if n == s else 0) for n in names]
                up = cost(*at)
                at = [values[n] - (h if n == s else 0) for n in names]
                down = cost(*at)
                grad = got[r.index - 1][name].reshape(-1)[i]
                assert grad == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-8)


# ---------------------------------------------------------------- limits and refusals


@pytest.mark.parametrize(("layer", "inputs", "message"), [
    (Layer("attention", key=0), (2, 3), "key 'key' must be a positive integer"),
    (Layer("attention", causal="yes"), (2, 3), "key 'causal' must be true or false"),
    (Layer("attention"), 3, "channels × positions"),
    (Layer("attention", heads=2), (2, 3), "unknown key 'heads'"),
])
def test_bad_options_are_one_line_naming_the_key(layer, inputs, message):
    with pytest.raises(ValueError, match=message):
        symbp.Network(layers=[layer, Layer("dense", units=1)], inputs=inputs)


def test_its_size_counts_the_softmax_so_the_limits_refuse_long_sequences():
    r = network(False, inputs=(4, 4)).resolved[0]
    assert r.size.parameters == 4 * (4 + 4 + 4) + 4
    assert r.size.connections == 4 * 4**3 * 4 * 4 * 4
    with pytest.raises(ValueError, match="MAX_CONNECTIONS"):
        network(False, inputs=(4, 8))


@pytest.mark.parametrize(("args", "bad"), [
    (["--layers", "attention:key=0,dense:2", "--inputs", "2x3"], "key"),
    (["--layers", "attention:causal=maybe,dense:2", "--inputs", "2x3"], "causal"),
    (["--layers", "attention,dense:2", "--inputs", "3"], "channels"),
])
def test_the_cli_refuses_bad_combinations_in_one_line(args, bad, tmp_path, monkeypatch, capsys):
    # in this process: exit codes and stderr are main's (tests/test_cli.py starts real ones)
    monkeypatch.chdir(tmp_path)
    assert main(["prove", *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and bad in err, err


def test_the_example_is_an_attention_block():
    net = config.load(ROOT / "examples" / "attention.toml").net
    assert net.kinds == ("attention", "dense")
    assert net.resolved[0].layer.get("causal") is True


def test_the_proof_json_names_its_parameters(tmp_path):
    d = symbp.derive(network(False, inputs=(1, 2)))
    claims = json.loads(symbp.prove(d).to_json())["claims"]
    assert {c["parameter"] for c in claims if c["layer"] == 1} == {"W", "b", "WQ", "WK"}





@pytest.mark.slow  # derives and generates the module
def test_symbp_train_trains_it(tmp_path, capsys):
    # its numeric code is printed from its maps (symbp.numeric.maps_staged): symbp train
    # runs it on XOR-shaped data (1 channel of 2 tokens), exit 0, its report written (in this
    # process: test_train_resume.py and test_cli_errors.py start real ones)
    net = tmp_path / "net.toml"
    net.write_text('inputs = [1, 2]\n[[layers]]\nkind = "attention"\n'
                   '[[layers]]\nkind = "dense"\nunits = 2\n')
    assert main(["train", str(net), "--data", "xor", "--backend", "numpy", "--epochs", "5",
                 "--out", str(tmp_path / "out")]) == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert len(report["history"]) == 6  # before training, then 5 epochs

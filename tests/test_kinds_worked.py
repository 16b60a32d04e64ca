"""The worked example with numbers for networks of layer kinds (examples/residual.toml and
examples/conv1d.toml): its exact numbers equal the generated NumPy module's and PyTorch's, bad
parameters are one ValueError naming them (exit 2 in the CLI), and the files are the same
every time."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symbp
from symbp.cli import config
from symbp.cli.main import main
from symbp.document.kinds import document
from symbp.document.kinds_numbers import evaluate_layers
from symbp.document.kinds_worked import worked_file
from symbp.render.documents import render_document
from tests import test_conv1d_numeric, test_kinds_numeric
from tests.oracles import doubled_output_error

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ORACLES = {"residual": test_kinds_numeric.torch_gradients,
           "conv1d": test_conv1d_numeric.torch_gradients}


@cache
def loaded(name):
    job = config.load(EXAMPLES / f"{name}.toml")
    return job, symbp.derive(job.net)


def as_arrays(job):
    """The example as the generated module takes it: one sample, float64."""
    data, net = job.example, job.net
    x = np.array(data.x, dtype=float).reshape(1, *net.input_shape)
    y = np.array(data.y, dtype=float).reshape(1, -1)
    params = [{k: np.array(v, dtype=float) for k, v in p.items()} for p in data.params]
    return x, y, params


def exact(M) -> np.ndarray:
    return np.array([float(v) for v in M], dtype=float)


@pytest.mark.parametrize("name", ["residual", "conv1d"])
def test_the_numbers_are_the_numpy_modules_and_pytorchs(name):
    job, d = loaded(name)
    n = evaluate_layers(d, job.example)
    f = symbp.lambdify(d)
    x, y, params = as_arrays(job)
    for l, r in enumerate(d.net.resolved):
        assert all(sp.sympify(v).is_Rational for v in n.z[0])  # rational input, affine map
        assert n.example.params[l].keys() == r.parameters.keys()
    assert float(n.cost) == pytest.approx(f.cost(x, y, params), rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(exact(n.a[-1]), f.forward(x, params)[0], rtol=1e-12)
    numpy_grads, torch_grads = f.grad(x, y, params), ORACLES[name](d.net, x, y, params)
    for l, r in enumerate(d.net.resolved):
        for p, shape in r.parameters.items():
            ours = exact(n.grads[l][p]).reshape(shape)
            np.testing.assert_allclose(ours, numpy_grads[l][p], rtol=1e-12, atol=1e-15,
                                       err_msg=f"dC/d{p}_{l + 1}")
            np.testing.assert_allclose(ours, torch_grads[l][p], rtol=1e-10, atol=1e-13,
                                       err_msg=f"dC/d{p}_{l + 1}")
            eta = float(n.example.learning_rate)
            np.testing.assert_allclose(exact(n.updated[l][p]).reshape(shape),
                                       params[l][p] - eta * numpy_grads[l][p], rtol=1e-12)


def test_the_numbers_are_exact_the_recursions_own_gradient_at_the_point():
    """A rational activation keeps every number rational: the gradient is d.grad's, exactly."""
    layers = [symbp.Layer("residual", activation="identity"),
              symbp.Layer("residual", units=3, projection=True, activation="identity"),
              symbp.Layer("dense", units=1, activation="identity")]
    d = symbp.derive(symbp.Network(layers=layers, inputs=2))
    example = {"x": ["1/3", 2], "y": [1], "params": [
        {"W": [[1, 2], [3, "-1/2"]], "b": 1},
        {"W": [[1, 0], [0, 1], [1, 1]], "b": [0, 1, 2], "P": [[2, 0], [0, 2], [1, 1]]},
        {"W": [[1, -1, "1/7"]], "b": [0]}]}
    n = evaluate_layers(d, example)
    point = dict(zip(d.x, n.example.x)) | dict(zip(d.y, n.example.y))
    for l in d.layers:
        for name, M in d.layer_parameters(l).items():
            point.update(zip(M, n.example.params[l - 1][name]))
    for l in d.layers:
        for name in d.layer_parameters(l):
            direct = symbp.explicit(d.grad(l, "direct", name).xreplace(point)).doit()
            assert all(v.is_Rational for v in direct)
            assert n.grads[l - 1][name] == direct


@pytest.mark.parametrize(("change", "message"), [
    (lambda p: p[1].update(Q=[1]), r"^example: params\[1\] \(layer 2, residual\) has an unknown "
                                   r"parameter 'Q'; layer 2's parameters are W, b, P$"),
    (lambda p: p[1].pop("P"), r"^example: params\[1\] \(layer 2, residual\) has no 'P'; layer "
                              r"2's parameters are W, b, P$"),
    (lambda p: p[0].update(W=[[1, 2, 3], [4, 5, 6]]),
     r"^example: params\[0\]\.W \(W_1\) has shape \(2, 3\); expected shape \(2, 2\)$"),
    (lambda p: p[0].update(W=[[1, 2], [3]]),
     r"^example: params\[0\]\.W \(W_1\) is ragged; expected shape \(2, 2\)$"),
    (lambda p: p[2].update(b=["x", 1]), r"^example: params\[2\]\.b \(b_3\)\[0\] must be a finite "
                                        r"number; got 'x'$"),
    (lambda p: p.pop(), r"^example: params must hold one table per layer, 3 in all; got 2$"),
])
def test_a_bad_parameter_is_one_error_naming_it(change, message):
    job, d = loaded("residual")
    data = {"x": job.example.x, "y": job.example.y,
            "params": [dict(p) for p in job.example.params]}
    change(data["params"])
    with pytest.raises(ValueError, match=message):
        evaluate_layers(d, data)


def test_weights_and_biases_for_layer_kinds_are_refused_naming_params():
    _, d = loaded("residual")
    with pytest.raises(ValueError, match=r"^example: unknown key 'weights' for a network of "
                                         r"layer kinds; valid keys: x, y, params, "):
        evaluate_layers(d, {"x": [0, 0], "y": [0, 0], "weights": [], "biases": []})


def test_the_cli_says_a_bad_parameter_in_one_line_and_exits_2(tmp_path, capsys):
    text = (EXAMPLES / "conv1d.toml").read_text().replace("b = [0.1, 0.05]", "b = [0.1]")
    (tmp_path / "bad.toml").write_text(text)
    out = tmp_path / "out"
    assert main(["derive", str(tmp_path / "bad.toml"), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "params[0].b (b_1) has shape (1,); expected shape (2,)" in err
    assert not out.exists()


@pytest.mark.parametrize("name", ["residual", "conv1d"])
def test_the_document_and_worked_json_carry_the_numbers_the_same_every_time(name):
    job, d = loaded(name)
    proof = symbp.prove(d, "local")
    tex = [render_document(document(d, proof, example=job.example), "tex") for _ in range(2)]
    assert tex[0] == tex[1]
    assert tex[0].count("With the example's numbers:") == 2 * d.L + 1  # forward, cost, backward
    assert r"^{\text{new}}" in tex[0] and "Left out" not in tex[0]  # nothing is left out
    files = [worked_file(d, job.example) for _ in range(2)]
    assert files[0] == files[1]
    data = json.loads(files[0])
    n = evaluate_layers(d, job.example)
    assert data["cost"] == float(f"{float(n.cost):.{n.example.digits}g}")
    r = d.net.resolved[0]
    assert np.shape(data["z"][0]) == r.maps.z.shape(r.sizes)
    assert [sorted(g) for g in data["grad"]] == [sorted(r.parameters) for r in d.net.resolved]
    assert np.shape(data["grad"][0]["W"]) == r.parameters["W"]


def test_derive_writes_worked_json_for_a_network_of_layer_kinds(tmp_path):
    out = tmp_path / "out"
    assert main(["derive", str(EXAMPLES / "residual.toml"), "--out", str(out), "--format",
                 "md,json", "--quiet"]) == 0
    job, d = loaded("residual")
    assert (out / "worked.json").read_text() == worked_file(d, job.example)
    assert "With the example's numbers:" in (out / "derivation.md").read_text()


# ---------------------------------------------------------------- central differences


@pytest.mark.parametrize("name", ["residual", "conv1d", "recurrent", "layernorm-mlp"])
def test_central_differences_check_every_parameter_entry_of_the_example(name):
    from symbp.document.kinds_checks import central_differences
    job, d = loaded(name)
    n = evaluate_layers(d, job.example)
    checks, every = central_differences(d, n)
    assert every and len(checks) == sum(M.rows * M.cols for p in n.example.params
                                        for M in p.values())
    for c in checks:  # h = 10^-(digits/2 + 4): the quotient's h² error is far below the digits
        assert abs(c.quotient - c.backprop) < sp.Rational(1, 10 ** (n.example.digits + 4)), c


def test_a_wrong_recursion_shows_in_the_documents_check():
    job, _ = loaded("residual")
    d = symbp.derive(job.net, recursion=doubled_output_error)
    text = render_document(document(d, symbp.prove(d, "local"), example=job.example), "md")
    assert "NOT proved" in text or "not proved" in text
    assert "does not always agree" in text and "agrees with backpropagation" not in text


def test_past_the_limit_the_first_entry_of_each_parameter_is_checked(monkeypatch):
    from symbp.document import kinds_checks
    monkeypatch.setattr(kinds_checks, "EVERY", 3)
    job, d = loaded("residual")
    n = evaluate_layers(d, job.example)
    checks, every = kinds_checks.central_differences(d, n)
    assert not every
    assert [(c.l, c.name, c.row, c.column) for c in checks] == [
        (l, name, 1, 1) for l, p in enumerate(n.example.params, 1) for name in p]

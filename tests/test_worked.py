"""The worked example: its numbers in worked.json and in the documents against plain NumPy."""

import json
import re
from decimal import Decimal
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symbp
from symbp.cli.main import main
from symbp.document.example import Example
from symbp.document.numbers import decimal_text, evaluate
from symbp.document.worked import worked_json

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# Matt Mazur, "A Step by Step Backpropagation Example" (2015), as in examples/worked-2-2-2.toml
MAZUR = {"x": [0.05, 0.10], "y": [0.01, 0.99],
         "weights": [[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]],
         "biases": [0.35, 0.60], "learning_rate": 0.5}


# ---------------------------------------------------------------- the independent computation


def _activation(name, z):
    if name == "sigmoid":
        a = 1.0 / (1.0 + np.exp(-z))
        return a, np.diag(a * (1.0 - a))
    if name == "tanh":
        a = np.tanh(z)
        return a, np.diag(1.0 - a**2)
    if name == "relu":
        return np.maximum(z, 0.0), np.diag((z > 0).astype(float))
    if name == "identity":
        return z, np.eye(len(z))
    if name == "softmax":
        e = np.exp(z - z.max())
        a = e / e.sum()
        return a, np.diag(a) - np.outer(a, a)
    raise AssertionError(name)


def _cost(name, a, y):
    if name == "mse":
        return 0.5 * np.sum((a - y) ** 2), a - y
    if name == "bce":
        return -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)), -y / a + (1 - y) / (1 - a)
    if name == "softmax_ce":
        return -np.sum(y * np.log(a)), -y / a
    raise AssertionError(name)


def numpy_backprop(net, x, y, weights, biases, eta):
    """Forward pass, textbook backpropagation and one update, written here in float64."""
    x, y = np.array(x, float), np.array(y, float)
    Ws = [np.array(W, float) for W in weights]
    bs = [np.array(b, float) * np.ones(len(W)) for W, b in zip(Ws, biases)]
    zs, as_, jacobians, a = [], [], [], x
    for name, W, b in zip(net.activations, Ws, bs):
        z = W @ a + b
        a, J = _activation(name, z)
        zs.append(z)
        as_.append(a)
        jacobians.append(J)
    C, g = _cost(net.cost, a, y)
    deltas = [None] * len(Ws)
    for l in range(len(Ws) - 1, -1, -1):
        deltas[l] = jacobians[l].T @ g
        g = Ws[l].T @ deltas[l]
    grad_W = [np.outer(dl, a_prev) for dl, a_prev in zip(deltas, [x, *as_[:-1]])]
    return {"cost": C, "z": zs, "a": as_, "delta": deltas, "grad_W": grad_W, "grad_b": deltas,
            "updated_W": [W - eta * gW for W, gW in zip(Ws, grad_W)],
            "updated_b": [b - eta * d for b, d in zip(bs, deltas)]}


def assert_shown(shown, exact, digits):
    """``shown`` is ``exact`` rounded to ``digits`` significant digits (half a unit of slack
    in the last place, plus float64 noise)."""
    shown, exact = np.asarray(shown, float), np.asarray(exact, float)
    assert shown.shape == exact.shape
    for s, e in zip(shown.ravel(), exact.ravel()):
        unit = 10.0 ** (np.floor(np.log10(abs(e))) - digits + 1) if e else 0.0
        assert abs(s - e) <= 0.5 * unit * (1 + 1e-6) + 1e-13 * abs(e), (s, e, digits)


CASES = {
    "mazur": (symbp.Network([2, 2, 2]), MAZUR),
    "tanh-softmax": (symbp.Network([3, 4, 3], activation=["tanh", "softmax"], cost="softmax_ce"),
                     {"x": [0.5, -1.25, 2], "y": [0, 1, 0],
                      "weights": [[[0.1, -0.2, 0.3], [0.4, 0.5, -0.6], [-0.7, 0.8, 0.9],
                                   [1, -1.1, 0.25]],
                                  [[0.3, -0.1, 0.2, 0.5], [-0.4, 0.6, 0.1, -0.2],
                                   [0.05, 0.15, -0.25, 0.35]]],
                      "biases": [[0.1, 0.2, 0.3, 0.4], 0.5], "learning_rate": 0.1,
                      "digits": 7}),
    "relu-bce": (symbp.Network([2, 3, 2], activation=["relu", "sigmoid"], cost="bce"),
                 {"x": ["1/3", 2], "y": [0.25, 0.75],
                  "weights": [[[1, -2], [0.5, 0.5], [-1, 1]], [[0.3, -0.2, 0.1], [0.2, 0.4, -0.5]]],
                  "biases": [0, [0.1, -0.1]], "learning_rate": 1, "digits": 12}),
}


def _float(value):
    return float(sp.Rational(value)) if isinstance(value, str) else float(value)


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    net, example = CASES[request.param]
    floats = {key: [_float(v) for v in example[key]] for key in ("x", "y")}
    weights = [[[_float(v) for v in row] for row in W] for W in example["weights"]]
    biases = [[_float(v) for v in b] if isinstance(b, list) else _float(b)
              for b in example["biases"]]
    oracle = numpy_backprop(net, floats["x"], floats["y"], weights, biases,
                            _float(example["learning_rate"]))
    return symbp.derive(net), example, oracle


def test_worked_json_matches_numpy_to_the_shown_digits(case):
    d, example, oracle = case
    data = json.loads(worked_json(d, example))
    digits = data["digits"]
    assert digits == example.get("digits", 9)
    assert_shown(data["cost"], oracle["cost"], digits)
    for key in ("z", "a", "delta"):
        assert len(data[key]) == d.L
        for shown, exact in zip(data[key], oracle[key]):
            assert_shown(shown, exact, digits)
    for wrt in ("W", "b"):
        for shown, exact in zip(data["grad"][wrt], oracle[f"grad_{wrt}"]):
            assert_shown(shown, exact, digits)
        for shown, exact in zip(data["updated"][wrt], oracle[f"updated_{wrt}"]):
            assert_shown(shown, exact, digits)
    check = data["check"]
    assert (check["layer"], check["row"], check["column"]) == (1, 1, 1)
    assert_shown(check["central_difference"], oracle["grad_W"][0][0, 0], digits)


def _numbers_in(text):
    """Every decimal number LaTeX shows, with 10^{e} powers applied."""
    found = []
    for mantissa, exponent in re.findall(r"(-?\d+(?:\.\d+)?)(?: \\times 10\^\{(-?\d+)\})?", text):
        found.append(float(Decimal(mantissa).scaleb(int(exponent or 0))))
    return np.array(found)


@pytest.fixture(scope="module")
def rendered(case):
    """The case's document with its example, built once and written in both formats, as
    symbp derive does (symbp.render builds it anew for each format; it gives the same text:
    tests/test_formats.py)."""
    from symbp.document.build import build
    from symbp.render.documents import render_document

    d, example, _ = case
    doc = build(d, symbp.prove(d), example=example)
    return {fmt: render_document(doc, fmt) for fmt in ("tex", "md")}


@pytest.mark.parametrize("fmt", ["tex", "md"])
def test_the_document_shows_the_numpy_values(case, rendered, fmt):
    _, example, oracle = case
    text = rendered[fmt]
    section = text[text.index("A worked example: the forward pass in numbers"):]
    shown = _numbers_in(section)
    digits = example.get("digits", 9)
    values = [oracle["cost"]]
    for key in ("z", "a", "delta", "grad_W", "updated_W", "updated_b"):
        values += [v for layer in oracle[key] for v in np.ravel(layer)]
    for value in values:
        unit = 10.0 ** (np.floor(np.log10(abs(value))) - digits + 1) if value else 1e-300
        assert np.any(np.abs(shown - value) <= 0.5 * unit * (1 + 1e-6) + 1e-13 * abs(value)), \
            f"{value} is not in the {fmt} worked example"


def test_mazur_s_published_numbers():
    data = json.loads(worked_json(symbp.derive(symbp.Network([2, 2, 2])), MAZUR))
    assert data["cost"] == 0.298371109  # his E_total
    assert data["updated"]["W"][1][0][0] == 0.35891648  # w5+
    assert data["updated"]["W"][0][0][0] == 0.149780716  # w1+
    assert data["grad"]["W"][1][0][0] == 0.0821670406  # ∂E/∂w5 = 0.082167041


def test_rational_values_stay_exact():
    d = symbp.derive(symbp.Network([2, 1, 1], activation="identity"))
    n = evaluate(d, {"x": ["1/3", 1], "y": [0], "weights": [[[3, 1]], [[1]]], "biases": [0, 0],
                     "learning_rate": "1/10"})
    assert n.z[0][0] == 2 and n.cost == 2 and n.grad_W[0][0, 0] == sp.Rational(2, 3)
    assert all(v.is_Rational for M in (*n.delta, *n.updated_W) for v in M)
    assert decimal_text(n.grad_W[0][0, 0], 9) == "0.666666667"  # rounded: all digits
    assert decimal_text(n.z[0][0], 9) == "2"  # exact: shown whole
    assert decimal_text(sp.Rational(-3, 10**8), 9) == "-3e-08"


@cache
def mazur_md() -> str:
    """derivation.md of Mazur's network with his numbers, as symbp.render writes it: rendered
    once for the two tests that read it."""
    return symbp.render(symbp.derive(symbp.Network([2, 2, 2])), "md", example=MAZUR)


def test_central_difference_agrees_and_catches_a_wrong_recursion():
    assert "agree in all 9 digits" in mazur_md()

    def no_prime(ops):  # σ' dropped in layer 1
        L = ops.L
        delta = ops.bind_delta(L, ops.activation_vjp(L, ops.cost_gradient()))
        for l in range(L, 0, -1):
            ops.gradient(l, weight=ops.outer(delta, ops.activation(l - 1)), bias=delta)
            if l > 1:
                delta = ops.bind_delta(l - 1, ops.transpose_times(l, delta))

    wrong = symbp.derive(symbp.Network([2, 2, 2]), recursion=no_prime)
    text = symbp.render(wrong, "md", example=MAZUR)
    assert "The two differ by" in text
    # every weight and bias of layer 1 is checked too, and named where it differs
    flat = " ".join(text.split())
    assert "does *not* agree everywhere" in flat and "b^{(1)}_{1}" in flat


def test_the_central_difference_covers_every_parameter_shown():
    assert "each of the 12 weights and biases of the network agrees" in mazur_md()
    data = json.loads(worked_json(symbp.derive(symbp.Network([2, 2, 2])), MAZUR))
    assert len(data["checks"]) == 12
    assert all(c["central_difference"] == c["backprop"] for c in data["checks"])


@pytest.mark.parametrize(("change", "named"), [
    ({"x": [1, 2, 3]}, "x must be a list of n_0 = 2 numbers; got 3 entries"),
    ({"y": "0.5"}, "y must be a list of n_2 = 2 numbers"),
    ({"weights": [[[1, 2], [3, 4]]]}, "weights must hold one entry per layer, 2 in all; got 1"),
    ({"weights": [[[1, 2]], [[1, 2], [3, 4]]]}, "weights[0] (W_1) must be 2 rows of 2 numbers"),
    ({"biases": [[1, 2, 3], 0]}, "biases[0] (b_1) must be a list of n_1 = 2 numbers"),
    ({"x": [True, 1]}, "x[0] must be a number; got True"),
    ({"x": [float("nan"), 1]}, "x[0] must be a finite number"),
    ({"x": ["one", 1]}, "x[0] must be a finite number; got 'one'"),
    ({"learning_rate": 0}, "learning_rate must be positive"),
    ({"digits": 20}, "digits must be a whole number from 1 to 15; got 20"),
    ({"bias": 1}, "unknown key 'bias'"),
])
def test_bad_examples_name_the_bad_value(change, named):
    d = symbp.derive(symbp.Network([2, 2, 2]))
    with pytest.raises(ValueError, match=r"^example: ") as error:
        symbp.render(d, "md", example={**MAZUR, **change})
    assert named in str(error.value)


def test_generic_activation_has_no_numbers():
    d = symbp.derive(symbp.Network([2, 2], activation="generic"))
    with pytest.raises(ValueError, match="generic activation, which has no formula"):
        evaluate(d, {"x": [1, 2], "y": [0, 1], "weights": [[[1, 0], [0, 1]]], "biases": [0],
                     "learning_rate": 1})


def test_example_object_and_dict_give_the_same_document():
    d = symbp.derive(symbp.Network([2, 2, 2]))
    proof = symbp.prove(d)
    assert symbp.render(d, "md", proof, example=Example(**MAZUR)) == \
        symbp.render(d, "md", proof, example=MAZUR)
    assert "worked example" not in symbp.render(d, "md", proof)


def test_derive_writes_worked_json_from_the_example_file(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["derive", str(EXAMPLES / "worked-2-2-2.toml"), "--out", str(out),
                 "--format", "md,json", "-q"])
    assert code == 0
    data = json.loads((out / "worked.json").read_text())
    assert data["cost"] == 0.298371109
    assert "A worked example: the forward pass in numbers" in (out / "derivation.md").read_text()
    assert not (tmp_path / "plain").exists()
    assert main(["derive", "--widths", "2,2,2", "--out", str(tmp_path / "plain"),
                 "--format", "json", "-q"]) == 0
    assert not (tmp_path / "plain" / "worked.json").exists()


def test_a_bad_example_table_is_exit_2_naming_file_and_key(tmp_path, capsys):
    network = tmp_path / "net.toml"
    network.write_text('widths = [2, 2]\n[example]\nx = [1, 2]\ny = [0]\n'
                       'weights = [[[1, 2], [3, 4]]]\nbiases = [0]\n')
    out = tmp_path / "out"
    assert main(["derive", str(network), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "net.toml" in err and "y must be a list of n_1 = 2" in err
    assert not out.exists() or not any(out.iterdir())


def test_the_same_example_gives_the_same_bytes():
    d = symbp.derive(symbp.Network([2, 2, 2]))
    again = symbp.derive(symbp.Network([2, 2, 2]))
    assert worked_json(d, MAZUR) == worked_json(again, MAZUR)
    proof = symbp.prove(d)
    assert symbp.render(d, "tex", proof, example=MAZUR) == \
        symbp.render(again, "tex", proof, example=MAZUR)


@pytest.mark.parametrize(("network", "named"), [
    ('widths = [2, 2]\nactivation = "generic"\n', "generic activation, which has no formula"),
    ('widths = [2, 2]\nactivation = "tanh"\ncost = "bce"\n', "no real value for the cost"),
])
def test_numbers_the_network_cannot_take_are_exit_2(tmp_path, capsys, network, named):
    path = tmp_path / "net.toml"
    path.write_text(network + "[example]\nx = [1, -2]\ny = [0, 1]\n"
                    "weights = [[[1, 0], [0, 1]]]\nbiases = [0]\n")
    out = tmp_path / "out"
    assert main(["derive", str(path), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err and len(err) < 300
    assert not out.exists()

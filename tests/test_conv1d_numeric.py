"""Numbers for conv1d networks: the generated modules against PyTorch's own convolution.

Each network is built twice: by symbp from its ``[[layers]]`` (the module printed from the
kind's index formulas, the same ones the proof proves), and in PyTorch from
``torch.nn.functional.conv1d`` (with ``padding="valid"`` or ``"same"``: an even kernel's
extra zero on the right) and ``avg_pool1d`` with the same weights. Gradients agree to 1e-10
in float64, and with central differences.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import symbp
from symbp.core.layers import Layer
from symbp.numeric.kinds_codegen import module_source
from symbp.numeric.kinds_numba import module_source as numba_source
from tests.seeds import other_seed_env

# an even kernel's "same" padding: torch warns that it pads a copy of the input
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")

NETWORKS = {
    "valid, odd kernel, avg pool": (
        [Layer("conv1d", channels=2, kernel=3, pool="avg", pool_size=2),
         Layer("dense", units=2)], [1, 8]),
    "same, odd kernel, channels in and out": (
        [Layer("conv1d", channels=3, kernel=3, padding="same", activation="tanh"),
         Layer("conv1d", channels=2, kernel=5, padding="same"), Layer("dense", units=2)],
        [2, 7]),
    "same, even kernels": (
        [Layer("conv1d", channels=3, kernel=4, padding="same", activation="sigmoid"),
         Layer("conv1d", channels=2, kernel=2, padding="same", activation="tanh",
               pool="avg", pool_size=3), Layer("dense", units=2)], [2, 6]),
    "valid, even kernel, a vector input, conv output": (
        [Layer("conv1d", channels=3, kernel=2, activation="softplus"),
         Layer("conv1d", channels=2, kernel=3, activation="sigmoid")], 7),
}
DERIVED: dict = {}


def derived(name: str):
    if name not in DERIVED:
        layers, inputs = NETWORKS[name]
        DERIVED[name] = symbp.derive(symbp.Network(layers=layers, inputs=inputs, cost="mse"))
    return DERIVED[name]


def point(net, rng, batch=3):
    x = rng.normal(size=(batch, *net.input_shape))
    y = rng.uniform(0.05, 0.95, size=(batch, *net.resolved[-1].shape_out))
    params = [{name: rng.normal(scale=0.6, size=shape) for name, shape in r.parameters.items()}
              for r in net.resolved]
    return x, y, params


def torch_gradients(net, x, y, params):
    """Autograd through F.conv1d, F.avg_pool1d and a linear layer with the same weights."""
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    activations = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
                   "softplus": functional.softplus}
    a = torch.tensor(x).reshape(len(x), -1)
    leaves = []
    for r, given in zip(net.resolved, params):
        W, b = (torch.tensor(given[k], requires_grad=True) for k in ("W", "b"))
        leaves.append({"W": W, "b": b})
        act = activations[r.maps.activation]
        if r.kind.name == "conv1d":
            shape = r.shape_in if len(r.shape_in) == 2 else (1, *r.shape_in)  # a vector: 1 channel
            a = act(functional.conv1d(a.reshape(len(x), *shape), W, b,
                                      padding=r.layer.get("padding")))
            if r.layer.get("pool") == "avg":
                a = functional.avg_pool1d(a, r.layer.get("pool_size"))
        else:
            a = act(a.reshape(len(x), -1) @ W.T + b)
    cost = 0.5 * ((a.reshape(len(x), -1) - torch.tensor(y).reshape(len(x), -1)) ** 2).sum()
    cost.backward()
    return [{k: v.grad.numpy() for k, v in layer.items()} for layer in leaves]


def assert_same(got, want, tolerance):
    assert [sorted(g) for g in got] == [sorted(w) for w in want]
    for l, (g, w) in enumerate(zip(got, want), start=1):
        for name in w:
            assert np.shape(g[name]) == np.shape(w[name]), f"dC/d{name}_{l}"
            np.testing.assert_allclose(g[name], w[name], rtol=tolerance, atol=tolerance,
                                       err_msg=f"dC/d{name}_{l}")


@pytest.mark.parametrize("name", NETWORKS)
def test_the_numpy_module_agrees_with_pytorch_conv1d(name, rng):
    d = derived(name)
    x, y, params = point(d.net, rng)
    assert_same(symbp.lambdify(d).grad(x, y, params), torch_gradients(d.net, x, y, params),
                1e-10)


@pytest.mark.parametrize("name", NETWORKS)
def test_the_numpy_module_agrees_with_central_differences(name):
    report = symbp.check_gradients(derived(name), points=2)
    assert report.ok, str(report)


def test_forward_is_pytorchs_convolution_and_pooling(rng):
    torch = pytest.importorskip("torch")
    d = derived("same, even kernels")
    x, _, params = point(d.net, rng)
    a = torch.tensor(x)
    for r, given in zip(d.net.resolved[:2], params):
        a = torch.nn.functional.conv1d(a, torch.tensor(given["W"]), torch.tensor(given["b"]),
                                       padding="same")
        a = torch.sigmoid(a) if r.index == 1 else torch.tanh(a)
    a = torch.nn.functional.avg_pool1d(a, 3).reshape(len(x), -1).numpy()
    want = 1 / (1 + np.exp(-(a @ params[2]["W"].T + params[2]["b"])))
    f = symbp.lambdify(d)
    np.testing.assert_allclose(f.forward(x, params), want, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(f.forward(x[0], params), want[0], rtol=1e-13, atol=1e-14)


def test_the_torch_backend_runs_the_same_module(rng):
    pytest.importorskip("torch")
    d = derived("same, even kernels")
    x, y, params = point(d.net, rng)
    got = symbp.lambdify(d, "torch").grad(x, y, params)
    got = [{k: np.asarray(v) for k, v in layer.items()} for layer in got]
    assert_same(got, symbp.lambdify(d).grad(x, y, params), 1e-12)


@pytest.mark.parametrize(("change", "message"), [
    (lambda x, y, p: (x[:, :, :5], y, p), r"^x has shape \(3, 2, 5\); expected \(2, 6\) for one "
                                          r"sample or \(batch, 2, 6\), one sample per row$"),
    (lambda x, y, p: (x, y[:, :1], p), r"^y has shape \(3, 1\); expected \(2,\) for one sample "
                                       r"or \(batch, 2\), one sample per row$"),
    (lambda x, y, p: (x, y, [{**p[0], "W": p[0]["W"][:, :, :3]}, *p[1:]]),
     r'^params\[0\]\["W"\] \(W_1\) has shape \(3, 2, 3\); expected \(3, 2, 4\)$'),
    (lambda x, y, p: (x, y, [p[0], {**p[1], "W": p[1]["W"].reshape(2, -1)}, p[2]]),
     r'^params\[1\]\["W"\] \(W_2\) has shape \(2, 6\); expected \(2, 3, 2\)$'),
    (lambda x, y, p: (x, y, [p[0], {**p[1], "b": p[1]["b"][:1]}, p[2]]),
     r'^params\[1\]\["b"\] \(b_2\) has shape \(1,\); expected \(2,\)$'),
])
def test_bad_argument_shapes_are_named(change, message, rng):
    d = derived("same, even kernels")
    x, y, params = point(d.net, rng)
    with pytest.raises(ValueError, match=message):
        symbp.lambdify(d).grad(*change(x, y, params))


def test_the_example_file_writes_gradient_modules(tmp_path, rng):
    from symbp.cli.config import load
    from symbp.cli.main import main

    example = "examples/conv1d.toml"
    code = main(["derive", example, "--format", "py,numba", "--out", str(tmp_path), "--quiet"])
    assert code == 0
    namespace: dict = {}
    exec((tmp_path / "gradients.py").read_text(), namespace)
    net = load(example).net
    x, y, params = point(net, rng)
    assert_same(namespace["grad"](x, y, params), torch_gradients(net, x, y, params), 1e-10)
    assert "def _kernel(x, y, W1, b1, W2, b2):" in (tmp_path / "gradients_numba.py").read_text()


@pytest.fixture(scope="module")
def compiled():
    """One compiled numba module, shared: numba's compile is the slow part."""
    pytest.importorskip("numba")
    d = derived("same, even kernels")
    return d, symbp.lambdify(d, "numba")


@pytest.mark.slow
def test_the_numba_kernel_agrees_with_numpy_and_pytorch(compiled, rng):
    d, f = compiled
    numpy_f = symbp.lambdify(d)
    for batch in (1, 4, 400):  # loops below the BLAS threshold, BLAS above
        x, y, params = point(d.net, rng, batch)
        assert_same(f.grad(x, y, params), numpy_f.grad(x, y, params), 1e-12)
        assert_same(f.grad(x, y, params), torch_gradients(d.net, x, y, params), 1e-10)
    x, y, params = point(d.net, rng, 1)
    assert_same(f.grad(x[0], y[0], params), numpy_f.grad(x, y, params), 1e-12)
    with pytest.raises(ValueError, match=r'^params\[0\]\["W"\] \(W_1\) has shape \(3, 2, 3\); '
                                         r"expected \(3, 2, 4\)$"):
        f.grad(x, y, [{**params[0], "W": params[0]["W"][:, :, :3]}, *params[1:]])
    x, y, params = point(d.net, rng, 4)  # as many entries per sample, in another shape
    with pytest.raises(ValueError, match=r"^x has shape \(4, 3, 4\); expected \(2, 6\)"):
        f.grad(x.reshape(4, 3, 4), y, params)


@pytest.mark.slow  # two fresh processes: about 4 s
def test_the_modules_are_the_same_in_every_process():
    code = ("import sys; sys.path.insert(0, 'tests'); import test_conv1d_numeric as t; "
            "from symbp.numeric.kinds_codegen import module_source; "
            "from symbp.numeric.kinds_numba import module_source as numba_source; "
            "d = t.derived('same, even kernels'); print(module_source(d)); print(numba_source(d))")
    there = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                           text=True, env=other_seed_env()).stdout  # not this one's seed
    d = derived("same, even kernels")
    assert there == f"{module_source(d)}\n{numba_source(d)}\n"

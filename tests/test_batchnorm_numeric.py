"""Numbers for batch-norm networks: every backend symbp prints against PyTorch's ``nn.BatchNorm1d``
(training mode, float64, affine, eps 1e-5) and ``nn.Linear`` under autograd, and against
central differences.

symbp's input is features × samples (one column per sample); PyTorch's is (samples, features),
the transpose. One symbp sample is one whole batch, so a run over several of them (the
numeric code's own batch axis) is as many independent batches, each normalized on its own:
PyTorch runs them one at a time and adds their costs. Its gradients come from autograd,
code that shares nothing with symbp's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import symbp
from symbp import Layer
from symbp.cli import config
from symbp.document.kinds_numbers import evaluate_layers
from tests.differences import assert_central_differences

torch = pytest.importorskip("torch")

NETWORKS = {
    "the example: per sample, batch norm, per sample": (
        [Layer("dense_per_sample", units=3, activation="tanh"), Layer("batchnorm"),
         Layer("dense_per_sample", units=2)], [3, 4]),
    "batch norm first, a tanh after it, a wide eps": (
        [Layer("batchnorm", eps=0.25, activation="tanh"),
         Layer("dense_per_sample", units=2)], [4, 5]),
    "two batch norms in a row": (
        [Layer("dense_per_sample", units=3, activation="sigmoid"), Layer("batchnorm"),
         Layer("batchnorm", activation="softplus"), Layer("dense_per_sample", units=1)], [2, 3]),
}
ACTIVATIONS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "identity": lambda z: z,
               "softplus": torch.nn.functional.softplus}


def _parameters(net, rng) -> list[dict[str, np.ndarray]]:
    return [{name: rng.normal(size=shape) for name, shape in r.parameters.items()}
            for r in net.resolved]


def _torch_modules(net, params):
    modules = []
    for r, p in zip(net.resolved, params):
        features = r.shape_in[0]
        if r.kind.name == "batchnorm":
            module = torch.nn.BatchNorm1d(features, eps=r.layer.get("eps"), affine=True,
                                          dtype=torch.float64)
            module.train()
        else:
            module = torch.nn.Linear(features, r.shape_out[0], dtype=torch.float64)
        with torch.no_grad():
            module.weight.copy_(torch.tensor(p["W"]))
            module.bias.copy_(torch.tensor(p["b"]))
        modules.append((module, ACTIVATIONS[r.layer.get("activation")]))
    return modules


def _torch_forward(modules, x):
    """One batch: x (features, samples) in symbp's layout, transposed for PyTorch."""
    a = torch.tensor(x.T)
    for module, act in modules:
        a = act(module(a))
    return a


def _torch_gradients(net, x, y, params):
    """∂C/∂θ by autograd, C = ½ Σ (a − y)² over every sample of every batch."""
    modules = _torch_modules(net, params)
    cost = sum(0.5 * ((_torch_forward(modules, xb) - torch.tensor(yb.T)) ** 2).sum()
               for xb, yb in zip(x, y))
    cost.backward()
    return [{"W": m.weight.grad.numpy(), "b": m.bias.grad.numpy()} for m, _ in modules]


@pytest.fixture(scope="module", params=list(NETWORKS))
def case(request):
    layers, inputs = NETWORKS[request.param]
    net = symbp.Network(layers=layers, inputs=inputs)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3, *net.input_shape))  # three independent batches
    y = rng.uniform(size=(3, *net.resolved[-1].shape_out))
    return net, symbp.derive(net), x, y, _parameters(net, rng)


# numba compiles each network in seconds: it takes every network but "two batch norms in a row",
# whose kernel prints the same per-layer maps as the others (one batch norm reading
# another's gradient as the example's reads a dense layer's) and the numba forms of sigmoid
# and softplus (symbp.numeric.forms) that test_numeric_backends compiles; numpy and torch
# take all three
@pytest.mark.parametrize(("case", "backend"), [
    (name, backend) for name in NETWORKS for backend in ("numpy", "torch")] + [
    pytest.param(name, "numba", marks=pytest.mark.slow) for name in NETWORKS
    if name != "two batch norms in a row"], indirect=["case"])
def test_every_backend_matches_torch_batchnorm1d_autograd(case, backend):
    net, d, x, y, params = case
    if backend == "numba":
        pytest.importorskip("numba")
    want = _torch_gradients(net, x, y, params)
    got = symbp.lambdify(d, backend=backend).grad(x, y, params)
    for l, (mine, theirs) in enumerate(zip(got, want), start=1):
        for name in theirs:
            np.testing.assert_allclose(np.asarray(mine[name]).reshape(theirs[name].shape),
                                       theirs[name], rtol=1e-10, atol=1e-10,
                                       err_msg=f"{name}_{l}")


def test_the_gradients_match_central_differences(case):
    _, d, x, y, params = case
    assert_central_differences(symbp.lambdify(d), x, y, params)


def test_the_forward_pass_is_torch_batch_norm_in_training_mode():
    net = symbp.Network(layers=[Layer("batchnorm")], inputs=[5, 4])
    rng = np.random.default_rng(3)
    x, gamma, beta = rng.normal(size=(2, 5, 4)), rng.normal(size=5), rng.normal(size=5)
    got = symbp.lambdify(symbp.derive(net)).forward(x, [{"W": gamma, "b": beta}])
    for batch, mine in zip(x, np.asarray(got).reshape(2, 5, 4)):
        want = torch.nn.functional.batch_norm(
            torch.tensor(batch.T), None, None, torch.tensor(gamma), torch.tensor(beta),
            training=True, eps=1e-5).numpy()
        np.testing.assert_allclose(mine, want.T, rtol=1e-12, atol=1e-12)


def test_a_batch_norm_network_trains_on_batches(tmp_path):
    """``symbp.train`` takes each data row as one batch (features × samples) and its targets
    as the output's shape; the cost falls."""
    net = symbp.Network(layers=NETWORKS["the example: per sample, batch norm, per sample"][0],
                        inputs=[3, 4])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 12))
    y = (np.tanh(x.reshape(32, 3, 4)[:, :2, :]) / 2 + 0.5).reshape(32, 8)
    run = symbp.train(net, (x, y), optimizer="adam", learning_rate=0.05, batch=8, epochs=15,
                      holdout=None, backend="numpy")
    assert run.final.train_loss < run.history[0].train_loss / 2


@pytest.mark.slow  # imports jax and compiles: about 3 s
def test_jax_matches_torch_in_its_precision():
    """jax computes in float32 unless jax_enable_x64 is set."""
    jax = pytest.importorskip("jax")
    tolerance = {"rtol": 1e-9, "atol": 1e-10} if jax.config.jax_enable_x64 else \
        {"rtol": 1e-4, "atol": 1e-5}
    layers, inputs = NETWORKS["the example: per sample, batch norm, per sample"]
    net = symbp.Network(layers=layers, inputs=inputs)
    rng = np.random.default_rng(11)
    x, y = rng.normal(size=(2, 3, 4)), rng.uniform(size=(2, 2, 4))
    params = _parameters(net, rng)
    want = _torch_gradients(net, x, y, params)
    got = symbp.lambdify(symbp.derive(net), backend="jax").grad(x, y, params)
    for l, (mine, theirs) in enumerate(zip(got, want), start=1):
        for name in theirs:
            np.testing.assert_allclose(np.asarray(mine[name]).reshape(theirs[name].shape),
                                       theirs[name], **tolerance, err_msg=f"{name}_{l}")


def test_the_worked_example_is_the_numpy_modules_and_pytorchs():
    """examples/batchnorm.toml's numbers (60 digits, from the recursion's own steps) against
    the generated module and torch's BatchNorm1d, one batch of 4 samples."""
    job = config.load(Path(__file__).resolve().parent.parent / "examples" / "batchnorm.toml")
    d = symbp.derive(job.net)
    n = evaluate_layers(d, job.example)
    x = np.array(job.example.x, dtype=float)[None]
    y = np.array(job.example.y, dtype=float)[None]
    params = [{k: np.array(v, dtype=float) for k, v in p.items()} for p in job.example.params]
    f = symbp.lambdify(d)
    assert float(n.cost) == pytest.approx(f.cost(x, y, params), rel=1e-12)
    mine, theirs = f.grad(x, y, params), _torch_gradients(job.net, x, y, params)
    for l, r in enumerate(job.net.resolved):
        for p, shape in r.parameters.items():
            worked = np.array([float(v) for v in n.grads[l][p]]).reshape(shape)
            np.testing.assert_allclose(worked, mine[l][p], rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(worked, theirs[l][p], rtol=1e-10, atol=1e-13)

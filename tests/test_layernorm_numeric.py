"""Numbers for layer-norm networks: every backend symbp prints against PyTorch's ``nn.LayerNorm``
(float64, elementwise_affine, eps 1e-5) under autograd, and against central differences.

The same network is built twice: by symbp from its layers (the module printed from the
kind's index formulas, the ones the proof proves: the compact textbook ∂C/∂x), and in
PyTorch from ``nn.Linear``, ``nn.LayerNorm`` and its activations with the same parameters,
whose gradients come from autograd, code that shares nothing with symbp's.
"""

from __future__ import annotations

import numpy as np
import pytest

import symbp
from symbp import Layer
from tests.differences import assert_central_differences

torch = pytest.importorskip("torch")

NETWORKS = {
    "dense, layer norm, dense": (
        [Layer("dense", units=3, activation="tanh"), Layer("layernorm"),
         Layer("dense", units=2)], 2),
    "layer norm first, a tanh after it, a wide eps": (
        [Layer("layernorm", eps=0.25, activation="tanh"), Layer("dense", units=2)], 4),
    "two layer norms in a row": (
        [Layer("dense", units=4, activation="sigmoid"), Layer("layernorm"),
         Layer("layernorm", activation="softplus"), Layer("dense", units=1)], 3),
}
ACTIVATIONS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "identity": lambda z: z,
               "softplus": torch.nn.functional.softplus}


def _parameters(net, rng) -> list[dict[str, np.ndarray]]:
    return [{name: rng.normal(size=shape) for name, shape in r.parameters.items()}
            for r in net.resolved]


def _torch_gradients(net, x, y, params):
    """∂C/∂θ by autograd through nn.Linear and nn.LayerNorm, C = ½ Σ (a − y)² over the batch."""
    a = torch.tensor(x, dtype=torch.float64)
    leaves = []
    for r, p in zip(net.resolved, params):
        if r.kind.name == "layernorm":
            norm = torch.nn.LayerNorm(r.width_in, eps=r.layer.get("eps"),
                                      elementwise_affine=True, dtype=torch.float64)
            with torch.no_grad():
                norm.weight.copy_(torch.tensor(p["W"]))
                norm.bias.copy_(torch.tensor(p["b"]))
            z = norm(a)
            leaves.append({"W": norm.weight, "b": norm.bias})
        else:
            linear = torch.nn.Linear(r.width_in, r.width, dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(torch.tensor(p["W"]))
                linear.bias.copy_(torch.tensor(p["b"]))
            z = linear(a)
            leaves.append({"W": linear.weight, "b": linear.bias})
        a = ACTIVATIONS[r.layer.get("activation")](z)
    cost = 0.5 * ((a - torch.tensor(y, dtype=torch.float64)) ** 2).sum()
    cost.backward()
    return [{name: t.grad.numpy() for name, t in layer.items()} for layer in leaves]


@pytest.fixture(scope="module", params=list(NETWORKS))
def case(request):
    layers, inputs = NETWORKS[request.param]
    net = symbp.Network(layers=layers, inputs=inputs)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(5, net.resolved[0].width_in))
    y = rng.uniform(size=(5, net.resolved[-1].width))
    params = _parameters(net, rng)
    return net, symbp.derive(net), x, y, params


# numba compiles each network in seconds: it takes every network but "two layer norms in a row",
# whose kernel prints the same per-layer maps as the others (one layer norm reading
# another's gradient as the example's reads a dense layer's) and the numba forms of sigmoid
# and softplus (symbp.numeric.forms) that test_numeric_backends compiles; numpy and torch
# take all three
@pytest.mark.parametrize(("case", "backend"), [
    (name, backend) for name in NETWORKS for backend in ("numpy", "torch")] + [
    pytest.param(name, "numba", marks=pytest.mark.slow) for name in NETWORKS
    if name != "two layer norms in a row"], indirect=["case"])
def test_every_backend_matches_torch_layernorm_autograd(case, backend):
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
    f = symbp.lambdify(d)
    assert_central_differences(f, x, y, params)


def test_the_forward_pass_is_torch_layernorm():
    net = symbp.Network(layers=[Layer("layernorm")], inputs=5)
    rng = np.random.default_rng(3)
    x, gamma, beta = rng.normal(size=(4, 5)), rng.normal(size=5), rng.normal(size=5)
    got = symbp.lambdify(symbp.derive(net)).forward(x, [{"W": gamma, "b": beta}])
    want = torch.nn.functional.layer_norm(torch.tensor(x), (5,), torch.tensor(gamma),
                                          torch.tensor(beta), eps=1e-5).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)

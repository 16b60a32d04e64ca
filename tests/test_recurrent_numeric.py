"""The recurrent layer's generated gradients against PyTorch's own nn.RNN (float64, autograd)
and central differences; the proof of a width-8 layer over 16 steps."""

from __future__ import annotations

import numpy as np
import pytest

import symbp
from symbp import Layer
from tests.differences import assert_central_differences

UNITS, FEATURES, STEPS, BATCH = 3, 2, 5, 4


def network(output: str, activation: str = "tanh", steps: int = STEPS) -> symbp.Network:
    return symbp.Network(layers=[Layer("recurrent", units=UNITS, output=output,
                                       activation=activation), Layer("dense", units=2)],
                         inputs=(FEATURES, steps))


def random_case(output: str, seed: int = 0, steps: int = STEPS, batch: int = BATCH):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, FEATURES, steps))
    y = rng.uniform(size=(batch, 2))
    width = UNITS if output == "last" else UNITS * steps
    params = [{"W": rng.normal(size=(UNITS, UNITS)) / 2, "U": rng.normal(size=(UNITS, FEATURES)),
               "b": rng.normal(size=UNITS)},
              {"W": rng.normal(size=(2, width)), "b": rng.normal(size=2)}]
    return x, y, params


def torch_gradients(x, y, params, output: str, activation: str):
    """nn.RNN (batch first, one bias: b_hh held at 0) and a sigmoid dense layer, MSE summed
    over the batch; every gradient by autograd."""
    torch = pytest.importorskip("torch")
    rnn = torch.nn.RNN(FEATURES, UNITS, nonlinearity=activation, batch_first=True,
                       dtype=torch.float64)
    first, second = params
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(torch.tensor(first["W"]))
        rnn.weight_ih_l0.copy_(torch.tensor(first["U"]))
        rnn.bias_ih_l0.copy_(torch.tensor(first["b"]))
        rnn.bias_hh_l0.zero_()
    W2 = torch.tensor(second["W"], requires_grad=True)
    b2 = torch.tensor(second["b"], requires_grad=True)
    states, _ = rnn(torch.tensor(x).transpose(1, 2))  # (batch, steps, units)
    # symbp's a_1 is units × steps, row-major: (j, t)
    a1 = states[:, -1, :] if output == "last" else states.transpose(1, 2).reshape(len(x), -1)
    a2 = torch.sigmoid(a1 @ W2.T + b2)
    cost = 0.5 * ((a2 - torch.tensor(y)) ** 2).sum()
    cost.backward()
    return [{"W": rnn.weight_hh_l0.grad.numpy(), "U": rnn.weight_ih_l0.grad.numpy(),
             "b": rnn.bias_ih_l0.grad.numpy()},
            {"W": W2.grad.numpy(), "b": b2.grad.numpy()}]


def assert_same(got, want) -> None:
    for layer_got, layer_want in zip(got, want, strict=True):
        for name, value in layer_want.items():
            np.testing.assert_allclose(np.asarray(layer_got[name]), value, rtol=0, atol=1e-10,
                                       err_msg=name)


# numba compiles each network in seconds: it takes relu with the last state and with every
# state; its tanh kernels, both outputs, are checked against nn.RNN in test_recurrent_steps.py
# (T = 1 and 16), as the same generated code with another activation's forms
GRADIENT_CASES = [(backend, output, activation) for backend in ("numpy", "torch", "numba")
                  for output in ("last", "all") for activation in ("tanh", "relu")
                  if backend != "numba" or activation == "relu"]


@pytest.mark.parametrize(("backend", "output", "activation"), [
    pytest.param(*case, marks=pytest.mark.slow) if case[0] == "numba" else case
    for case in GRADIENT_CASES])
def test_its_gradients_are_nn_rnns(output, activation, backend):
    x, y, params = random_case(output)
    want = torch_gradients(x, y, params, output, activation)
    got = symbp.lambdify(symbp.derive(network(output, activation)), backend=backend).grad(
        x, y, params)
    assert_same(got, want)


@pytest.mark.parametrize("output", ["last", "all"])
def test_its_gradients_match_central_differences(output):
    x, y, params = random_case(output, seed=1)
    f = symbp.lambdify(symbp.derive(network(output, "tanh")))
    assert_central_differences(f, x, y, params)


@pytest.mark.slow
def test_width_8_over_16_steps_is_proved_by_local_lemmas():
    net = symbp.Network(layers=[Layer("recurrent", units=8), Layer("dense", units=1)],
                        inputs=(1, 16))
    proof = symbp.prove(symbp.derive(net), "local")
    assert proof.holds, proof.summary()


def test_a_recurrent_network_learns_the_sign_of_a_sequences_sum():
    """Through the kind's generated grad, as symbp train runs it."""
    net = symbp.Network(layers=[Layer("recurrent", units=4),
                                Layer("dense", units=2, activation="softmax")],
                        inputs=[1, 6], cost="softmax_ce")
    x = np.random.default_rng(0).normal(size=(60, 6))
    run = symbp.train(net, (x, (x.sum(axis=1) > 0).astype(float)), optimizer="adam",
                      learning_rate=0.05, batch=8, epochs=30, holdout=None, backend="numpy")
    assert run.history[0].train_loss > 0.5 and run.final.train_loss < 0.05
    assert run.final.train_accuracy == 1.0

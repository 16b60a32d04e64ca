"""Training with the generated gradients: XOR as the seed's demo, the optimisers against
hand-written updates (and PyTorch's Adam), the curves and the report."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import symbp
from symbp.cli.main import main
from symbp.train import train
from symbp.train.optimizers import Optimizer
from symbp.train.parameters import Parameters

ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"
XOR_TARGETS = [0, 1, 1, 0]


@pytest.mark.parametrize("seed", range(5))
def test_xor_reaches_the_documented_cost_within_the_documented_epochs(seed):
    run = train(seed=seed, backend="numpy")
    assert len(run.history) == 501 and run.steps == 500
    assert run.epochs_to(loss=0.0025) is not None  # 0.01 summed over the four points
    assert run.final.train_loss < 0.0025 and run.final.train_accuracy == 1.0
    assert list(np.round(run.predict(run.plan.data.x)[:, 0])) == XOR_TARGETS


def test_seed_0_needs_the_epochs_the_readme_says():
    run = train(backend="numpy")
    assert run.epochs_to(loss=0.0025) == 361
    assert "at epoch 361" in (ROOT / "README.md").read_text()


def test_xor_is_the_seed_demo_of_before():
    # η = 8 on the mean of four is η = 2 on their sum: the seed's rule, N(0, 1) weights
    run = train(epochs=1, backend="numpy")
    rng = np.random.default_rng(0)
    W = [rng.normal(size=(3, 2)), rng.normal(size=(1, 3))]
    b = [np.zeros(3), np.zeros(1)]
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    g = symbp.lambdify(symbp.derive(run.network))(x, y, W, b)
    for got, start, step in zip(run.weights, W, g["W"]):
        np.testing.assert_allclose(got, start - 2.0 * step, rtol=1e-13)


def test_training_is_deterministic():
    first, second = train(epochs=50, seed=3), train(epochs=50, seed=3)
    assert first.history == second.history
    assert np.array_equal(first.params.flat, second.params.flat)
    assert train(epochs=50, seed=4).history != first.history


# ---------------------------------------------------------------- the optimisers


def textbook(name, theta, grads, **h):
    """θ after len(grads) steps, each update written as in the papers, in NumPy."""
    theta = theta.copy()
    m = v = velocity = np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        if name == "sgd" and h.get("momentum"):
            velocity = h["momentum"] * velocity + g
            theta = theta - h["lr"] * velocity
        elif name == "sgd":
            theta = theta - h["lr"] * g
        else:
            m = h["b1"] * m + (1 - h["b1"]) * g
            v = h["b2"] * v + (1 - h["b2"]) * g**2
            m_hat, v_hat = m / (1 - h["b1"] ** t), v / (1 - h["b2"] ** t)
            theta = theta - h["lr"] * m_hat / (np.sqrt(v_hat) + h["eps"])
    return theta


@pytest.mark.parametrize(("name", "hyper"), [
    ("sgd", {"lr": 0.3}),
    ("sgd", {"lr": 0.05, "momentum": 0.9}),
    ("adam", {"lr": 0.01, "b1": 0.9, "b2": 0.999, "eps": 1e-8}),
    ("adam", {"lr": 0.5, "b1": 0.5, "b2": 0.75, "eps": 1e-3}),
])
def test_optimizer_steps_match_the_textbook_update(name, hyper, rng):
    theta = rng.normal(size=17)
    grads = [rng.normal(size=17) for _ in range(3)]
    opt = Optimizer(name, hyper["lr"], hyper.get("momentum", 0.0), hyper.get("b1", 0.9),
                    hyper.get("b2", 0.999), hyper.get("eps", 1e-8))
    state, mine, scratch = opt.new_state(17), theta.copy(), np.empty(17)
    for g in grads:
        opt.update(mine, g.copy(), state, scratch)
    assert state.step == 3
    np.testing.assert_allclose(mine, textbook(name, theta, grads, **hyper), rtol=1e-13,
                               atol=1e-15)


def test_adam_matches_pytorch(rng):
    torch = pytest.importorskip("torch")
    theta = rng.normal(size=12)
    grads = [rng.normal(size=12) for _ in range(5)]
    p = torch.tensor(theta, requires_grad=True)
    opt = torch.optim.Adam([p], lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    mine, state = theta.copy(), Optimizer("adam", 0.01).new_state(12)
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
        Optimizer("adam", 0.01).update(mine, g.copy(), state, np.empty(12))
    np.testing.assert_allclose(mine, p.detach().numpy(), rtol=1e-13)


def test_one_minibatch_step_is_the_mean_gradient_then_the_update(rng):
    # the digits network, one step on batch 32 of a (x, y) data set, against NumPy by hand
    x = rng.uniform(size=(40, 4))
    labels = rng.integers(0, 3, size=40)
    net = symbp.Network([4, 5, 3], activation="tanh", cost="softmax_ce")
    run = train(net, (x, labels.astype(float)), optimizer="sgd", learning_rate=0.1, batch=40,
                epochs=1, holdout=None, backend="numpy")
    start = np.random.default_rng(0)
    bound1, bound2 = np.sqrt(6 / 9), np.sqrt(6 / 8)
    W1, W2 = start.uniform(-bound1, bound1, (5, 4)), start.uniform(-bound2, bound2, (3, 5))
    y = np.eye(3)[labels]
    a1 = np.tanh(x @ W1.T)
    z2 = a1 @ W2.T
    a2 = np.exp(z2 - z2.max(axis=1, keepdims=True))
    a2 /= a2.sum(axis=1, keepdims=True)
    d2 = a2 - y
    d1 = (d2 @ W2) * (1 - a1**2)
    np.testing.assert_allclose(run.weights[1], W2 - 0.1 * d2.T @ a1 / 40, rtol=1e-12)
    np.testing.assert_allclose(run.weights[0], W1 - 0.1 * d1.T @ x / 40, rtol=1e-12)
    np.testing.assert_allclose(run.biases[0], -0.1 * d1.mean(axis=0), rtol=1e-12)


def test_parameters_are_one_vector_in_the_hessian_order():
    params = Parameters((2, 3, 1))
    params.flat[:] = np.arange(13)
    assert params.weights[0].tolist() == [[0, 1], [2, 3], [4, 5]]
    assert params.biases[0].tolist() == [6, 7, 8]
    assert params.weights[1].tolist() == [[9, 10, 11]] and params.biases[1].tolist() == [12]
    params.weights[1][0, 0] = -1.0  # a view: writes reach the vector
    assert params.flat[9] == -1.0 and list(params.arrays) == ["W1", "b1", "W2", "b2"]


# ---------------------------------------------------------------- the files


def test_cli_xor_run_and_its_files(tmp_path, capsys):
    out = tmp_path / "xor"
    assert main(["train", "--out", str(out), "--backend", "numpy"]) == 0
    printed = capsys.readouterr().out
    assert "on xor (4 samples): 500 epochs of 1 step, sgd with η = 8, batch 4" in printed
    assert "training accuracy 100.00%; mean cost 0.1466 -> 0.001242" in printed
    assert "1 xor 0 = 1: network says 0.95" in printed
    names = {p.name for p in out.iterdir()}
    assert {"report.md", "report.json", "loss.svg", "accuracy.svg", "history.csv",
            "checkpoint.npz"} <= names
    report = json.loads((out / "report.json").read_text())
    assert report["epochs"] == 500 and report["train_accuracy"] == 1.0
    assert report["heldout_accuracy"] is None and len(report["history"]) == 501
    csv = (out / "history.csv").read_text().splitlines()
    assert csv[0] == "epoch,train_loss,train_accuracy,heldout_loss,heldout_accuracy"
    assert len(csv) == 502 and csv[1].endswith(",,") and csv[1].startswith("0,0.146")
    svg = ET.fromstring((out / "loss.svg").read_text())
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert {"epoch", "mean cost (log scale)", "training", "10⁻³"} <= set(texts)
    points = svg.find(f"{SVG}polyline").get("points").split()
    assert len(points) == 501
    accuracy = [t.text for t in ET.fromstring((out / "accuracy.svg").read_text()).iter(
        f"{SVG}text")]
    assert "100%" in accuracy and "accuracy" in accuracy
    md = (out / "report.md").read_text()
    assert "| batch B | 4 (1 step per epoch, in a new random order" in md and "| seed | 0 |" in md
    assert "\\theta \\leftarrow \\theta - \\eta\\, g" in md


def test_the_same_run_writes_the_same_files(tmp_path):
    for name in ("a", "b"):
        assert main(["train", "--out", str(tmp_path / name), "--epochs", "40", "--quiet",
                     "--backend", "numpy"]) == 0
    for path in (tmp_path / "a").iterdir():
        if path.name != "report.pdf":  # compiled, checked with the committed example
            assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name

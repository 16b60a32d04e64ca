"""The XOR demo: trained by the generated gradients, deterministic, with a hand-written SVG."""

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from symbp.cli.commands import run_xor, write_loss_curve
from symbp.numeric import train


@pytest.mark.parametrize("seed", range(5))
def test_xor_reaches_the_documented_cost_within_the_documented_epochs(seed):
    run = train.train_xor(seed=seed)
    assert len(run.losses) == train.EPOCHS + 1
    assert run.epochs_to(0.01) is not None and run.epochs_to(0.01) <= train.EPOCHS
    assert run.losses[-1] < 0.01  # summed over the 4 samples
    assert list(np.round(run.predictions)) == [0, 1, 1, 0]


def test_seed_0_needs_the_epochs_the_docstring_says():
    assert train.train_xor(seed=0).epochs_to(0.01) == 361
    assert "after 361" in train.__doc__


def test_training_is_deterministic():
    first, second = train.train_xor(epochs=50, seed=3), train.train_xor(epochs=50, seed=3)
    assert first.losses == second.losses
    assert train.train_xor(epochs=50, seed=4).losses != first.losses


def test_the_update_rule_is_gradient_descent():
    # one epoch by hand: W <- W - eta dC/dW with the generated gradients
    import symbp

    run = train.train_xor(epochs=1, learning_rate=0.5, seed=7)
    rng = np.random.default_rng(7)
    W = [rng.normal(size=(3, 2)), rng.normal(size=(1, 3))]
    b = [np.zeros(3), np.zeros(1)]
    g = symbp.lambdify(symbp.derive(run.network))(train.XOR_INPUTS, train.XOR_TARGETS, W, b)
    for got, start, step in zip(run.weights, W, g["W"]):
        np.testing.assert_allclose(got, start - 0.5 * step, rtol=1e-15)


def test_loss_curve_files(tmp_path):
    losses = train.train_xor(epochs=200).losses
    paths = write_loss_curve(losses, tmp_path / "xor", title="XOR <demo>")
    assert [p.name for p in paths] == ["loss.svg", "loss.csv"]
    svg = (tmp_path / "xor" / "loss.svg").read_text()
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "XOR &lt;demo&gt;" in svg and "XOR <demo>" in texts
    assert {"epoch", "cost C (log scale)", "10⁻¹", "C = 0.01"} <= set(texts)
    points = root.find("{http://www.w3.org/2000/svg}polyline").get("points").split()
    assert len(points) == 201
    csv = (tmp_path / "xor" / "loss.csv").read_text().splitlines()
    assert csv[0] == "epoch,cost" and len(csv) == 202
    assert float(csv[1].split(",")[1]) == losses[0]
    again = write_loss_curve(losses, tmp_path / "again", title="XOR <demo>")
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in paths]


def test_run_xor_reports_what_to_print(tmp_path):
    text = run_xor(tmp_path, epochs=400, learning_rate=2.0, seed=0)
    assert "below 0.01 from epoch 361" in text
    assert "1 xor 0 = 1: network says 0.9" in text
    assert str(tmp_path / "loss.svg") in text
    assert "never below" in run_xor(tmp_path, epochs=10)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"epochs": -1}, "epochs must be a non-negative integer"),
    ({"hidden": 0}, "hidden must be"),
    ({"learning_rate": 0}, "learning rate must be a positive number; got 0"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        train.train_xor(**kwargs)

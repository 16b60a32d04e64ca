"""Training networks of layer kinds: through the kinds' generated grad, with the optimisers,
checkpoints and reports of dense training; the convolutional digits example."""

import math
from pathlib import Path

import numpy as np
import pytest
from optimised import reproduces_the_committed_report

import symbp
from symbp import Layer, Network
from symbp.cli import config
from symbp.cli.main import main
from symbp.train import TrainingInterrupted, make_plan, run
from symbp.train import checkpoint as checkpoints
from symbp.train.parameters import Parameters, initial

ROOT = Path(__file__).resolve().parents[1]
RESIDUAL = config.load(ROOT / "examples" / "residual.toml").net  # 2 -> 2 -> 3 -> 2, with P_2
CONV = Network(layers=[Layer("conv1d", channels=2, kernel=3, pool="avg", pool_size=2),
                       Layer("dense", units=3, activation="softmax")],
               inputs=[1, 8], cost="softmax_ce")


def xor_like(n=40, seed=1):
    """Points of the square labelled by the signs' xor: not linearly separable."""
    x = np.random.default_rng(seed).uniform(-1, 1, size=(n, 2))
    return x, ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(float)


def signals(n=30, seed=2):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 8)), rng.integers(0, 3, size=n).astype(float)


def test_a_residual_network_learns_xor_like_data():
    run_ = symbp.train(RESIDUAL, xor_like(), optimizer="adam", learning_rate=0.05, batch=8,
                       epochs=40, holdout=None, backend="numpy")
    first, last = run_.history[0], run_.final
    assert last.train_loss < first.train_loss / 4 and last.train_accuracy >= 0.9
    assert list(run_.params.arrays) == ["W1", "b1", "W2", "b2", "P2", "W3", "b3"]
    assert run_.predict(xor_like()[0]).shape == (40, 2)


def test_parameters_of_layer_kinds_are_views_of_one_vector_in_layer_order():
    params = Parameters.of(RESIDUAL)
    params.flat[:] = np.arange(params.flat.size)
    assert params.flat.size == 4 + 2 + 6 + 3 + 6 + 6 + 2
    assert params.layers[1]["P"].tolist() == [[15, 16], [17, 18], [19, 20]]
    assert params.arguments == (params.layers,)
    params.layers[2]["b"][1] = -1.0
    assert params.flat[-1] == -1.0


def test_each_weight_array_is_drawn_from_its_fan_in_and_fan_out_biases_at_zero():
    drawn = initial(CONV, "xavier", np.random.default_rng(5))
    rng = np.random.default_rng(5)
    r1, r2 = math.sqrt(6 / (1 * 3 + 2 * 3)), math.sqrt(6 / (6 + 3))  # kernel (2, 1, 3): 3, 6
    assert np.array_equal(drawn.layers[0]["W"], rng.uniform(-r1, r1, size=(2, 1, 3)))
    assert np.array_equal(drawn.layers[1]["W"], rng.uniform(-r2, r2, size=(3, 6)))
    assert not drawn.layers[0]["b"].any() and not drawn.layers[1]["b"].any()
    he = initial(RESIDUAL, "he", np.random.default_rng(5))
    rng = np.random.default_rng(5)
    for layer, (W, P) in zip(he.layers, [((2, 2), None), ((3, 2), (3, 2)), ((2, 3), None)]):
        assert np.array_equal(layer["W"], rng.normal(scale=math.sqrt(2 / W[1]), size=W))
        if P:
            assert np.array_equal(layer["P"], rng.normal(scale=math.sqrt(2 / P[1]), size=P))


@pytest.mark.parametrize("optimizer", [{"optimizer": "adam", "learning_rate": 0.01},
                                       {"optimizer": "sgd", "learning_rate": 0.1,
                                        "momentum": 0.9}])
def test_one_step_is_the_hand_written_update_of_the_modules_grad(optimizer):
    x, labels = signals()
    plan = make_plan(CONV, (x, labels), batch=30, epochs=1, holdout=None, backend="numpy",
                     **optimizer)
    trained = run(plan).params
    before = plan.start().params
    module = symbp.lambdify(symbp.derive(CONV))
    g = module.grad(x.reshape(30, 1, 8), np.eye(3)[labels.astype(int)], before.layers)
    for layer, start, grads in zip(trained.layers, before.layers, g):
        for name, theta in start.items():
            mean = grads[name] / 30
            if optimizer["optimizer"] == "adam":  # t = 1: m = (1 - β1) g, v = (1 - β2) g²
                m, v = 0.1 * mean, 0.001 * mean**2
                expected = theta - (0.01 / 0.1) * m / (np.sqrt(v) / math.sqrt(0.001) + 1e-8)
            else:  # the velocity starts at 0: v = g
                expected = theta - 0.1 * mean
            # the step sums the batch in its shuffled order: equal to rounding
            assert np.allclose(layer[name], expected, rtol=1e-12, atol=1e-14), name


@pytest.mark.parametrize("moment", [(0, 2), (1, 0), (2, 3)])
def test_a_checkpoint_resumes_to_the_uninterrupted_parameters_bit_for_bit(tmp_path, moment):
    settings = {"epochs": 3, "batch": 8, "backend": "numpy", "optimizer": "adam",
                "learning_rate": 0.01}
    whole = run(make_plan(CONV, signals(), **settings))
    path = tmp_path / "c.npz"

    def hook(position):
        if (position.epoch, position.step) == moment:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted):
        run(make_plan(CONV, signals(), **settings), checkpoint_path=path, hook=hook)
    saved = checkpoints.load(path)
    assert set(saved.arrays) >= {"W1", "b1", "W2", "b2", "optimizer_m", "optimizer_v"}
    assert saved.meta["network"]["layers"][0] == {
        "kind": "conv1d", "activation": "relu", "channels": 2, "kernel": 3, "padding": "valid",
        "pool": "avg", "pool_size": 2}
    resumed = run(make_plan(CONV, signals(), resume=path, **settings))
    assert np.array_equal(resumed.params.flat, whole.params.flat)
    assert resumed.history == whole.history


def test_a_checkpoint_of_another_network_is_refused(tmp_path):
    path = tmp_path / "c.npz"
    run(make_plan(CONV, signals(), epochs=1, batch=8, backend="numpy"), checkpoint_path=path)
    other = Network(layers=[Layer("conv1d", channels=2, kernel=3, pool="avg", pool_size=2,
                                  activation="tanh"),
                            Layer("dense", units=3, activation="softmax")],
                    inputs=[1, 8], cost="softmax_ce")  # the same widths, another activation
    with pytest.raises(ValueError, match="was made with network layers"):
        make_plan(other, signals(), epochs=1, batch=8, backend="numpy", resume=path)


def test_cli_trains_the_residual_example(tmp_path, capsys):
    out = tmp_path / "residual"
    assert main(["train", str(ROOT / "examples" / "residual.toml"), "--out", str(out),
                 "--backend", "numpy", "--quiet"]) == 0
    said = capsys.readouterr().out
    assert "on xor (4 samples): 500 epochs" in said and "training accuracy 100.00%" in said
    report = (out / "report.md").read_text()
    assert ("- **Network**: input 2; residual (tanh) → 2; residual (projection, units 3; "
            "tanh) → 3; dense (units 2; sigmoid) → 2; cost mse") in report
    assert "no fused step for layer kinds yet" in report
    assert "W\\_l uniform" not in report and (out / "checkpoint.npz").is_file()


@pytest.mark.parametrize(("argv", "named"), [
    (["--data", "labels.csv"], "label 5 in row 2 is not a class of the network's 2 outputs"),
    (["--data", "wide.csv"], "has 3 input features but the network takes n_0 = 2; give inputs "
                             "of 3 numbers (now [2])"),
    (["--batch", "5"], "batch 5 is larger than the 4 training samples"),
    (["--widths", "2,3,2"], "give the network either as a file"),
])
def test_bad_input_for_a_network_of_layer_kinds_is_one_line(argv, named, tmp_path, capsys,
                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "labels.csv").write_text("a,b,y\n0,0,0\n0,1,5\n1,0,1\n1,1,0\n")
    (tmp_path / "wide.csv").write_text("a,b,c,y\n0,0,0,0\n0,1,0,1\n1,0,0,1\n1,1,0,0\n")
    before = sorted(tmp_path.iterdir())
    code = main(["train", str(ROOT / "examples" / "residual.toml"), "--holdout", "none",
                 *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and named in err, err
    assert sorted(tmp_path.iterdir()) == before


@pytest.mark.slow  # 1,290 steps, numba compiling the module optimised, and pdflatex
def test_the_conv_digits_example_reaches_95_percent_and_is_the_committed_report(tmp_path):
    reproduces_the_committed_report("digits-conv", tmp_path)

"""Training data: files with named columns and arrays, labels and one-hot rows, the held-out
split, the digits; and the committed digits example, which the run reproduces byte for byte."""

import numpy as np
import pytest
from optimised import reproduces_the_committed_report

import symbp
from symbp.render.training import training_files
from symbp.train import data, make_plan


def test_an_npz_with_named_arrays(tmp_path):
    images = np.arange(5 * 2 * 3, dtype=np.int16).reshape(5, 2, 3)
    np.savez(tmp_path / "d.npz", images=images, extra=np.ones(5, dtype=bool),
             y=np.array([0, 2, 1, 2, 0]))
    raw = data.load(tmp_path / "d.npz", inputs="images,extra")
    assert raw.x.shape == (5, 7) and raw.x.dtype == np.float64
    assert raw.x[1].tolist() == [6, 7, 8, 9, 10, 11, 1]
    fitted = data.fit(raw, symbp.Network([7, 3], cost="softmax_ce"))
    assert fitted.labels.tolist() == [0, 2, 1, 2, 0]
    assert fitted.y.tolist()[1] == [0.0, 0.0, 1.0]
    assert data.load(tmp_path / "d.npz").x.shape == (5, 7)  # inputs: all but the targets
    assert "inputs images, extra, targets y" in raw.description


def test_a_csv_with_named_columns(tmp_path):
    (tmp_path / "d.csv").write_text('id,"p 1",p2,p3,kind,value\n'
                                    "a,1,2,3,1,0.5\nb,4,5,6,0,1.5\n")
    raw = data.load(tmp_path / "d.csv", inputs="p*", targets="kind")
    assert raw.x.tolist() == [[1, 2, 3], [4, 5, 6]] and raw.targets.tolist() == [1, 0]
    one = data.fit(raw, symbp.Network([3, 1], cost="bce"))
    assert one.y.tolist() == [[1.0], [0.0]] and one.labels.tolist() == [1, 0]
    regression = data.fit(data.load(tmp_path / "d.csv", inputs="p2,p3", targets="value"),
                          symbp.Network([2, 1]))
    assert regression.labels is None and regression.y.tolist() == [[0.5], [1.5]]
    both = data.fit(data.load(tmp_path / "d.csv", inputs="p3", targets="kind,value"),
                    symbp.Network([1, 2]))
    assert both.labels is None  # rows of targets that are not one-hot: no classes


def test_one_hot_targets_give_their_classes():
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    fitted = data.fit(data.RawData("t", "t", np.zeros((2, 1)), y), symbp.Network([1, 3]))
    assert fitted.labels.tolist() == [1, 0]


def test_the_held_out_part_depends_on_the_seed_alone():
    x = np.arange(40.0).reshape(20, 2)
    labels = (np.arange(20) % 2).astype(float)
    net = symbp.Network([2, 3, 2], activation=["tanh", "softmax"], cost="softmax_ce")
    first = make_plan(net, (x, labels), seed=5, init="he", optimizer="sgd", batch=4)
    again = make_plan(net, (x, labels), seed=5, init="xavier", learning_rate=0.3, batch=4)
    other = make_plan(net, (x, labels), seed=6, batch=4)
    assert len(first.heldout) == 5 and len(first.train) == 15
    assert first.heldout.x.tolist() == again.heldout.x.tolist()
    assert first.heldout.x.tolist() != other.heldout.x.tolist()
    together = sorted(first.heldout.x[:, 0].tolist() + first.train.x[:, 0].tolist())
    assert together == x[:, 0].tolist()  # each sample on exactly one side


def test_a_regression_run_has_no_accuracy(tmp_path):
    x = np.linspace(-1, 1, 24).reshape(12, 2)
    run = symbp.train(symbp.Network([2, 4, 1], activation=["tanh", "identity"]),
                      (x, x[:, 0] * x[:, 1]), epochs=3, batch=3, backend="numpy")
    assert run.final.heldout_accuracy is None and run.final.heldout_loss is not None
    files = training_files(run, pdf=False)
    assert "accuracy.svg" not in files and "accuracy.svg" not in files["report.md"].decode()
    assert "held-out accuracy" not in files["report.md"].decode()


def test_the_digits_are_scaled_to_the_unit_interval():
    pytest.importorskip("sklearn")
    raw = data.digits()
    assert raw.x.shape == (1797, 64) and raw.x.min() == 0.0 and raw.x.max() == 1.0
    assert sorted(set(raw.targets.tolist())) == list(range(10))


@pytest.mark.slow  # 1,290 steps, numba compiling the module optimised, and pdflatex
def test_the_digits_example_reaches_95_percent_and_is_the_committed_report(tmp_path):
    reproduces_the_committed_report("digits", tmp_path)


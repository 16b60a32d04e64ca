"""Bad choices for training: one line and exit 2 in the CLI, a ValueError in the API, both
naming the bad value, before any work and with nothing on disk changed."""

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import symbp
from symbp.cli.main import main

NET = ["--widths", "2,3,2", "--activation", "tanh,softmax", "--cost", "softmax_ce"]
CSV = ["--targets", "label", *NET]
ROWS = "".join(f"{i % 3 * 0.5},{i % 5 * 0.25},{i % 2}\n" for i in range(20))
FILES = {  # data, network and checkpoint files the table refers to by name
    "good.csv": "a,b,label\n" + ROWS,
    "empty.csv": "",
    "header_only.csv": "a,b,label\n",
    "nan.csv": "a,b,label\n1,2,0\n1,2,1\n1,nan,0\n" + ROWS,
    "ragged.csv": "a,b,label\n1,2,0\n1,2,1\n1,2\n",
    "text.csv": "a,b,label\n1,2,0\n1,abc,1\n",
    "twice.csv": "a,a,label\n1,2,0\n",
    "labels.csv": "a,b,label\n1,2,0\n1,2,1\n1,2,0\n1,2,5\n" + ROWS,
    "halves.csv": "a,b,label\n1,2,0.5\n" + ROWS,
    "latin1.csv": b"a,b,caf\xe9\n1,2,0\n",
    "bad.npz": "not a zip archive\n",
    "data.txt": "1,2,3\n",
    "bad_key.toml": 'widths = [2, 3, 1]\n[train]\nrate = 0.1\n',
    "bad_type.toml": 'widths = [2, 3, 1]\n[train]\nlearning_rate = "fast"\n',
    "bad_holdout.toml": 'widths = [2, 3, 1]\n[train]\nholdout = "half"\n',
    "far_data.toml": 'widths = [2, 3, 1]\n[train]\ndata = "elsewhere.csv"\n',
}


def _arrays(folder: Path) -> None:
    x = np.linspace(0, 1, 40).reshape(20, 2)
    np.savez(folder / "good.npz", x=x, y=np.arange(20) % 2, name=np.array(["a"] * 20))
    np.savez(folder / "inf.npz", x=np.where(x > 0.9, np.inf, x), y=np.arange(20) % 2)
    np.savez(folder / "rows.npz", x=x, y=np.arange(19) % 2)
    np.savez(folder / "scalar.npz", x=x, y=np.float64(1))


CASES = [
    # data
    (["train", "--data", "missing.csv", *NET], "missing.csv: no such data file"),
    (["train", "--data", "data.txt", *NET], "'data.txt' is neither built in nor a data file"),
    (["train", "--data", ".", *NET], "neither built in nor a data file"),
    (["train", "--data", "empty.csv", *CSV], "empty.csv: the file is empty"),
    (["train", "--data", "header_only.csv", *CSV], "a header but no rows of data"),
    (["train", "--data", "nan.csv", *CSV], "column 'b' holds nan in row 3"),
    (["train", "--data", "inf.npz", *NET], "array 'x' holds inf in row 19"),
    (["train", "--data", "ragged.csv", *CSV], "line 4 has 2 fields; the header has 3"),
    (["train", "--data", "text.csv", *CSV], "line 3, column 'b': 'abc' is not a number"),
    (["train", "--data", "twice.csv", *CSV], "names column 'a' twice"),
    (["train", "--data", "latin1.csv", *CSV], "not UTF-8"),
    (["train", "--data", "bad.npz", *NET], "not a usable .npz archive"),
    (["train", "--data", "rows.npz", *NET], "array 'y' has 19 rows but 'x' has 20"),
    (["train", "--data", "scalar.npz", *NET], "array 'y' is a single number"),
    (["train", "--data", "good.npz", "--inputs", "x,name", *NET], "array 'name' holds <U1"),
    (["train", "--data", "good.csv", "--targets", "lable", *NET],
     "no target column 'lable'; the file has: a, b, label"),
    (["train", "--data", "good.csv", "--targets", "label", "--inputs", "a,c", *NET],
     "no input column 'c'"),
    (["train", "--data", "good.csv", "--targets", "label", "--inputs", "z*", *NET],
     "no input column 'z*'"),
    (["train", "--data", "good.npz", "--inputs", "x", "--targets", "x", *NET],
     "array 'x' is both an input and a target"),
    (["train", "--data", "good.csv", "--targets", "label", "--inputs", "", *NET],
     "an empty name"),
    (["train", "--data", "digits", "--inputs", "a"], "built in: it takes no inputs"),
    # data against the network
    (["train", "--data", "labels.csv", "--targets", "label", *NET],
     "label 5 in row 4 is not a class of the network's 2 outputs (0 to 1)"),
    (["train", "--data", "halves.csv", "--targets", "label", *NET],
     "label 0.5 in row 1 is not a class"),
    (["train", "--data", "good.csv", "--targets", "label", "--widths", "3,2",
      "--cost", "softmax_ce"], "2 input features but the network takes n_0 = 3"),
    (["train", "--data", "good.csv", "--targets", "a,label", "--inputs", "b",
      "--widths", "1,3"], "2 target columns but the network has n_L = 3 outputs"),
    (["train", "--data", "good.csv", "--targets", "label"], "no network given"),
    (["train", "--widths", "3,1"], "'xor' has 2 input features but the network takes n_0 = 3"),
    (["train", "--batch", "5"], "batch 5 is larger than the 4 training samples"),
    (["train", "--data", "good.csv", "--targets", "label", "--batch", "16", *NET],
     "batch 16 is larger than the 15 training samples (5 of 20 are held out)"),
    (["train", "--holdout", "0.1"], "holdout 0.1 of 4 samples leaves none"),
    (["train", "--holdout", "0.9"], "holdout 0.9 of 4 samples leaves nothing to train on"),
    # settings
    (["train", "--holdout", "0"], "holdout must be a share of the samples strictly between"),
    (["train", "--holdout", "1"], "holdout must be a share"),
    (["train", "--holdout", "-0.5"], "holdout must be a share"),
    (["train", "--holdout", "half"], "'half'"),
    (["train", "--learning-rate", "-1"], "'-1'"),
    (["train", "--learning-rate", "inf"], "'inf'"),
    (["train", "--optimizer", "rmsprop"], "unknown optimizer 'rmsprop'; choose one of: sgd, adam"),
    (["train", "--momentum", "1"], "momentum must be a number from 0 up to (not including) 1"),
    (["train", "--momentum", "nan"], "momentum must be a number"),
    (["train", "--optimizer", "adam", "--momentum", "0.9"],
     "momentum is a setting of the sgd optimizer, not of adam"),
    (["train", "--beta1", "0.8"], "beta1 is a setting of the adam optimizer, not of sgd"),
    (["train", "--optimizer", "adam", "--beta2", "1.5"], "beta2 must be a number from 0"),
    (["train", "--init", "zeros"], "unknown init 'zeros'; choose one of: normal, xavier, he"),
    (["train", "--backend", "jax"], "unknown backend 'jax'; choose one of: auto, numpy, numba"),
    (["train", "--batch", "0"], "from 1"),
    (["train", "--batch", "2.5"], "'2.5'"),
    # the network
    (["train", "--widths", "2,3", "--hidden", "4"], "--hidden sets the XOR network"),
    (["train", "bad_key.toml", "--widths", "2,2"], "not both"),
    (["train", "--activation", "swish"], "'swish'"),
    # network files
    (["train", "bad_key.toml"], "bad_key.toml [train]: unknown key 'rate'"),
    (["train", "bad_type.toml"], "key 'learning_rate' must be a number, got 'fast'"),
    (["train", "bad_holdout.toml"], "key 'holdout' must be a number, or \"none\""),
    (["train", "far_data.toml"], "elsewhere.csv: no such data file"),
    # checkpoints and the output
    (["train", "--resume", "missing.npz"], "missing.npz: no such checkpoint"),
    (["train", "--resume", "bad.npz"], "bad.npz: not a checkpoint symbp can read"),
    (["train", "--resume", "good.npz"], "good.npz: not a symbp training checkpoint"),
    (["train", "--resume", "."], "is a folder, not a checkpoint"),
    (["train", "--resume", "xor.npz", "--learning-rate", "1"],
     "was made with settings learning_rate 8.0, not 1.0"),
    (["train", "--resume", "xor.npz", "--hidden", "4"], "was made with network widths"),
    (["train", "--resume", "xor.npz", "--epochs", "1"],
     "is at epoch 2, past the 1 epochs asked for"),
    (["train", "--resume", "xor.npz", "--backend", "numpy", "--seed", "3"],
     "was made with settings seed 0, not 3"),
    (["train", "--checkpoint", "nowhere/c.npz"], "the folder nowhere does not exist"),
    (["train", "--checkpoint", "."], "--checkpoint .: is a folder"),
    (["train", "--out", "good.csv"], "is not a folder"),
]


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)):
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder"
            for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """The files, arrays and checkpoint, made once (a training run each test repeated)."""
    folder = tmp_path_factory.mktemp("made")
    for name, text in FILES.items():
        (folder / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    _arrays(folder)
    symbp.train(epochs=2, checkpoint=folder / "xor.npz", backend="numpy")
    return folder


@pytest.fixture
def workdir(made, tmp_path, monkeypatch):
    """A fresh copy of them for each test, which must leave it as it found it."""
    shutil.copytree(made, tmp_path, dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("argv", "named"), CASES, ids=[" ".join(c[0])[:70] for c in CASES])
def test_bad_training_input(argv, named, capsys, workdir):
    if "digits" in argv:
        pytest.importorskip("sklearn")
    before = snapshot(workdir)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, (argv, err)
    assert err.count("\n") == 1 and err.startswith("symbp: error: "), err
    assert named in err, err
    assert snapshot(workdir) == before, "a bad input changed files"


def _api_cases():
    x = np.linspace(0, 1, 40).reshape(20, 2)
    labels = np.arange(20) % 2
    net = symbp.Network([2, 3, 2], activation="tanh", cost="softmax_ce")
    return [  # (call, named)
        (lambda: symbp.train(net, (np.where(x > 0.5, np.nan, x), labels)), "data x holds NaN"),
        (lambda: symbp.train(net, (x, labels[:19])), "got (20, 2) and (19,)"),
        (lambda: symbp.train(net, (x, labels + 1)), "label 2 in row 2 is not a class"),
        (lambda: symbp.train(net, (x, labels), batch=16), "batch 16 is larger than the 15"),
        (lambda: symbp.train(net, "nope"), "'nope' is neither built in nor a data file"),
        (lambda: symbp.train(net, 3), "data must be 'xor', 'digits', a .npz or .csv file"),
        (lambda: symbp.train("[2, 3, 1]"), "the network must be a symbp.Network; got str"),
        (lambda: symbp.train(learning_rate=0), "learning_rate must be a positive number; got 0"),
        (lambda: symbp.train(learning_rate=True), "learning_rate must be a positive number"),
        (lambda: symbp.train(epochs=0), "epochs must be a whole number from 1 to 100,000"),
        (lambda: symbp.train(epochs=10**6), "epochs must be a whole number from 1 to 100,000"),
        (lambda: symbp.train(batch=2.5), "batch must be a whole number from 1 or more"),
        (lambda: symbp.train(seed=-1), "seed must be a whole number from 0"),
        (lambda: symbp.train(holdout=1.0), "holdout must be a share"),
        (lambda: symbp.train(optimizer=3), "unknown optimizer 3"),
        (lambda: symbp.train(frobnicate=1), "unknown training setting 'frobnicate'"),
        (lambda: symbp.train(net, (x, labels), momentum=0.5),
         "momentum is a setting of the sgd optimizer, not of adam"),
    ]


API_CASES = _api_cases()


@pytest.mark.parametrize(("call", "named"), API_CASES,
                         ids=[f"api-{n}" for n in range(len(API_CASES))])
def test_bad_training_input_through_the_api(call, named, workdir):
    before = snapshot(workdir)
    with pytest.raises(ValueError, match=re.escape(named)) as info:
        call()
    assert "\n" not in str(info.value)
    assert snapshot(workdir) == before


def test_at_least_80_bad_training_inputs():
    assert len(CASES) + len(API_CASES) >= 80

"""Second order through the command line: --order 2, order = 2 in a network file, bad input."""

import json
from pathlib import Path

import pytest

from symbp.cli.main import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_prove_order_two_proves_hessian_hvp_and_gauss_newton(capsys):
    code, out, err = run(capsys, "prove", "--order", "2", "--widths", "2,2,2", "--method",
                         "local", "--quiet")
    assert code == 0, err
    assert "proved (local): all 19 claims;" in out
    said = " ".join(out.split())  # the summary wraps at 100 columns
    assert "lemmas sigmoid', sigmoid' in a, mse gradient, sigmoid''" in said
    assert "H row ×2, G row ×2, Hv W ×2, Hv b ×2" in said
    assert "proved      H row 2           by per-layer lemmas and induction" in out


def test_prove_order_two_as_json(capsys):
    code, out, _ = run(capsys, "prove", "--order", "2", "--widths", "2,2", "--json", "-q")
    assert code == 0
    report = json.loads(out)
    assert report["holds"] is True
    assert report["method"] == "expand"
    assert {c["kind"] for c in report["claims"]} == {"function", "curvature"}


@pytest.mark.parametrize(("argv", "message"), [
    (["prove", "--order", "3"], "argument --order: unknown order '3'; choose one of: 1, 2"),
    (["derive", "--order", "two"], "argument --order: unknown order 'two'; choose one of: 1, 2"),
    (["prove", "--order", "2", "--widths", "20,20,20"],
     "error: the network has 840 weights and biases: its symbolic Hessian would have 840² = "
     "705,600 entries, past the limit of 10,000 (limit MAX_SYMBOLIC_HESSIAN_ENTRIES); symbp "
     "prove --order 2 --general --activation sigmoid --cost mse proves its second order for "
     "every size without writing the Hessian out"),
    (["prove", "--order", "2", "--widths", "2,2", "--method", "random"],
     "error: --order 2: unknown method 'random'; choose one of: auto, expand, local"),
    (["prove", "--order", "2", "--widths", "2,3,2", "--activation", "softmax"],
     "error: second order: activation 'softmax' in a hidden layer (layer 1)"),
])
def test_bad_input_is_exit_two_and_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith(f"symbp: {message}") or err.startswith(f"symbp: error: {message}")
    assert err.count("\n") == 1


@pytest.mark.parametrize("example", ["digits", "digits-conv"])
def test_a_network_file_past_the_limit_is_pointed_to_the_theorem_for_every_size(capsys, example):
    path = str(Path(__file__).resolve().parent.parent / "examples" / f"{example}.toml")
    code, out, err = run(capsys, "derive", path, "--order", "2")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.endswith(f"(limit MAX_SYMBOLIC_HESSIAN_ENTRIES); symbp prove {path} --order 2 "
                        "--general proves its second order for every size without writing "
                        "the Hessian out\n")


def test_no_theorem_is_pointed_to_where_it_does_not_take_the_network(capsys, tmp_path):
    mixed = tmp_path / "mixed.toml"  # the dense theorem: one activation for the hidden layers
    mixed.write_text('widths = [20, 20, 20, 20]\nactivation = ["tanh", "sigmoid", "sigmoid"]\n')
    code, _, err = run(capsys, "prove", str(mixed), "--order", "2")
    assert code == 2 and err.endswith("(limit MAX_SYMBOLIC_HESSIAN_ENTRIES)\n")


def test_order_in_a_network_file_is_checked(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("widths = [2, 2]\norder = 3\n")
    code, _, err = run(capsys, "prove", str(bad))
    assert code == 2
    assert err == (f"symbp: error: {bad}: key 'order' must be 1 or 2 (second order: the "
                   "Hessian, H v and the Gauss-Newton matrix), got 3\n")


def test_order_two_in_a_network_file(capsys, tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('widths = [2, 2]\nactivation = "tanh"\norder = 2\n')
    code, out, _ = run(capsys, "prove", str(good), "-q")
    assert code == 0
    assert "proved (expand): " in out and "lemmas tanh', tanh' in a" in out


def test_derive_order_two_refuses_a_large_hessian_before_touching_the_folder(capsys, tmp_path):
    out_dir = tmp_path / "out"
    code, _, err = run(capsys, "derive", "--order", "2", "--widths", "64,64,64,10", "--out",
                       str(out_dir))
    assert code == 2
    assert "limit MAX_SYMBOLIC_HESSIAN_ENTRIES" in err
    assert not out_dir.exists()


@pytest.mark.slow
def test_derive_order_two_writes_the_chapter_and_the_second_order_code(capsys, tmp_path):
    out_dir = tmp_path / "out"
    example = Path(__file__).resolve().parent.parent / "examples" / "worked-2-2-2.toml"
    code, out, err = run(capsys, "derive", str(example), "--order", "2", "--out", str(out_dir),
                         "--format", "md,py,json,second_order", "-q")
    assert code == 0, err
    assert "second order: proved (expand)" in out
    names = {p.name for p in out_dir.iterdir()}
    assert {"second_order.tex", "second_order.md", "second_order.json", "gradients.py",
            "proof.json", "derivation.md"} <= names
    chapter = (out_dir / "second_order.md").read_text()
    for heading in ("### Step 1: The Output Layer's Block", "### Step 2: Propagate Curvature Back",
                    "### Step 3: The Cross-Layer Blocks", "## Gauss-Newton",
                    "## The worked example in numbers", "## What was proved"):
        assert heading in chapter
    assert "They agree to every digit shown." in chapter
    source = (out_dir / "gradients.py").read_text()
    for function in ("def grad(", "def hessian(", "def hvp(", "def gauss_newton("):
        assert function in source
    assert "Proved by symbp (expand) for this network, programs" in source
    second = json.loads((out_dir / "second_order.json").read_text())
    assert second["holds"] is True


@pytest.mark.slow
def test_prove_general_order_two(capsys):
    code, out, _ = run(capsys, "prove", "--general", "--order", "2", "--activation", "tanh")
    assert code == 0
    claims = len(out.splitlines()) - 2  # the table's head and the summary
    assert out.splitlines()[-1] == (
        "proved (general): for every depth L and all widths n_0..n_L, the curvature program "
        "gives every block of the Hessian and the Gauss-Newton program every block of J^T H_C J, "
        "and the R-operator program gives H v for every v "
        f"(activation='tanh', output='tanh', cost='mse'); {claims} of {claims} claims proved")

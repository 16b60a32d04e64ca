"""The command line as a user meets it: exit codes, one-line errors, no tracebacks."""

import json
import subprocess
import sys

import pytest

from symbp.cli.main import main


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "symbp", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def run_here(capsys, *args) -> subprocess.CompletedProcess:
    """``symbp ARGS`` in this process, as ``run`` reports it: a test whose point is not the
    process boundary spares a start of Python and SymPy (a second of CPU)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["symbp", *args], code, out, err)


def test_prove_default_exits_zero():
    result = run("prove")
    assert result.returncode == 0, result.stderr
    assert any(line.startswith("proved (") for line in result.stdout.splitlines())
    assert max(len(line) for line in result.stdout.splitlines()[-4:]) <= 100
    assert "layer  param" in result.stdout


def test_prove_json(capsys):
    result = run_here(capsys, "prove", "--widths", "2,3,2", "--activation", "tanh", "--json")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert data["holds"] is True
    assert {(r["layer"], r["parameter"]) for r in data["rows"]} == {
        (1, "W"), (1, "b"), (2, "W"), (2, "b")}


def test_random_screen_exits_one(capsys):
    result = run_here(capsys, "prove", "--method", "random")
    assert result.returncode == 1
    assert "not a proof" in result.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--widths", "2,0,2"], "got 0"),
        (["--widths", "2"], "[2]"),
        (["--widths", "two"], "'two'"),
        (["--widths", ""], "''"),
        (["--activation", "swish"], "'swish'"),
        (["--activation", "tanh,relu"], "2 names"),
        (["--cost", "hinge"], "'hinge'"),
        (["--method", "guess"], "'guess'"),
        (["--widths", "3,1", "--cost", "softmax_ce"], "softmax_ce"),
        (["--unknown"], "--unknown"),
    ],
)
def test_bad_input_exits_two_with_one_line(args, named, capsys):
    assert main(["prove", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("symbp: error:")
    assert named in err
    assert "Traceback" not in err


def test_bad_input_in_a_subprocess_has_no_traceback():
    result = run("derive", "--activation", "swish")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "choose one of" in result.stderr


def test_derive_writes_proof_json(tmp_path, capsys):
    result = run_here(capsys, "derive", "--widths", "2,2,1", "--format", "json", "--out",
                      str(tmp_path / "net"))
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "net" / "proof.json").read_text())["holds"] is True


def test_train_writes_the_loss_curve(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "xor")]) == 0
    out = capsys.readouterr().out
    assert "training accuracy 100.00%" in out
    assert (tmp_path / "xor" / "loss.svg").read_text().startswith("<svg")
    assert (tmp_path / "xor" / "history.csv").exists()


def test_list_names_every_activation_cost_and_layer_kind(capsys):
    from symbp.core import registry
    from symbp.core.layers import KINDS

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in [*registry.ACTIVATIONS, *registry.COSTS, *KINDS]:
        assert f"  {name} " in out
    # every option with what it takes and its default, or that it is required
    assert "pool: \"none\", \"avg\" or \"max\"; default none" in out
    assert "units: a positive integer; required" in out
    assert "causal: true or false; default false" in out


def test_prove_json_rows_carry_timing(capsys):
    data = json.loads(run_here(capsys, "prove", "--json").stdout)
    assert all(row["seconds"] >= 0 for row in data["rows"])
    assert all(set(row["checks"].values()) == {"proved"} for row in data["rows"])
    assert {c["name"] for c in data["claims"] if c["kind"] == "function"} == {
        "sigmoid'", "sigmoid' in a", "mse gradient"}


@pytest.mark.needs_pdflatex
def test_titles_reaching_latex_are_escaped(tmp_path, capsys):
    title = r"Grads & costs: 100% of $x_1 #1 {a} ~b ^c \d"
    result = run_here(capsys, "derive", "--widths", "2,2", "--title", title, "--format",
                      "tex,md,pdf", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    tex = (tmp_path / "derivation.tex").read_text()
    assert (r"Grads \& costs: 100\% of {\upshape\char36}x\_1 \#1 \{a\} \~{}b \^{}c "
            r"\textbackslash{}d") in tex
    assert (tmp_path / "derivation.pdf").read_bytes().startswith(b"%PDF")
    assert r"Grads & costs: 100% of \$x\_1 \#1" in (tmp_path / "derivation.md").read_text()


@pytest.mark.slow
def test_a_generic_network_gets_documents_and_a_note_instead_of_code(tmp_path, capsys):
    result = run_here(capsys, "derive", "--widths", "2,2", "--activation", "generic", "--format",
                      "json,md", "--out", str(tmp_path))  # py not asked for: no note
    assert result.returncode == 0 and result.stderr == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == [  # the md comes with its figures
        ".symbp-manifest", "derivation.md", "graph.svg", "proof.json", "swell.svg"]
    result = run_here(capsys, "derive", "--widths", "2,2", "--activation", "generic", "--out",
                      str(tmp_path))
    assert result.returncode == 0
    assert result.stderr.startswith("note: no gradients.py: activation 'generic'")
    assert not (tmp_path / "gradients.py").exists()
    # asked for by name, it is bad input, refused before any work
    result = run_here(capsys, "derive", "--widths", "2,2", "--activation", "generic", "--format",
                      "json,py", "--out", str(tmp_path / "new"))
    assert result.returncode == 2 and "--format py" in result.stderr
    assert not (tmp_path / "new").exists()

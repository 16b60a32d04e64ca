"""What a user sees in a terminal: plain-text formulas, the version, defaults in every --help,
warnings about a network they may not expect, and progress for any step over a second."""

import argparse
import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time

import pytest

import symbp
from symbp.cli import progress
from symbp.cli.main import build_parser, main
from symbp.cli.plain import plain
from symbp.core import registry
from symbp.printing import forms


def test_list_prints_plain_text(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in [*registry.ACTIVATIONS, *registry.COSTS]:
        assert f"  {name} " in out
    for latex in ("\\", "{", "}", "^{", "_{"):
        assert latex not in out
    assert "σ'(z) = σ(z) (1 - σ(z))" in out and "tanh'(z) = 1 - tanh(z)²" in out
    assert "ReLU'(z) = 1 if z > 0, 0 if z ≤ 0" in out
    assert "tanh(z) = (e^z - e^(-z))/(e^z + e^(-z))" in out  # not tanh(z) = tanh(z)
    assert "∂C/∂a_j = (1 - y_j)/(1 - a_j) - y_j/a_j" in out


@pytest.mark.parametrize(("latex", "text"), [
    (r"\frac{1}{1 + e^{-z}}", "1/(1 + e^(-z))"),
    (r"\frac{\partial a_j}{\partial z_k} = a_j\,(\delta_{jk} - a_k)",
     "∂a_j/∂z_k = a_j (δ_jk - a_k)"),
    (r"\frac{1}{2} \sum_j \bigl(a_j - y_j\bigr)^2", "1/2 Σ_j (a_j - y_j)²"),
    (r"\begin{cases} z & z > 0 \\ z/100 & z \le 0 \end{cases}", "z if z > 0, z/100 if z ≤ 0"),
    (r"\text{its derivative}", "its derivative"),
])
def test_plain_text_of_latex(latex, text):
    assert plain(latex) == text


def test_every_registry_formula_comes_out_plain():
    for act in registry.ACTIVATIONS.values():
        for latex in (act.latex, forms.activation_formula(act), forms.activation_derivative(act)):
            assert not set(plain(latex)) & set("\\{}&"), latex
    for cost in registry.COSTS.values():
        for latex in (forms.cost_formula(cost), forms.cost_gradient(cost)):
            assert not set(plain(latex)) & set("\\{}&"), latex


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"symbp {symbp.__version__}\n"


def _subparsers(parser):
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


@pytest.mark.parametrize("command", ["", "derive", "prove", "train", "swell", "list"])
def test_every_help_shows_defaults_and_exit_codes(command):
    parser = build_parser()
    sub = _subparsers(parser)[command] if command else parser
    text = sub.format_help()
    for action in sub._actions:
        takes_value = action.option_strings and action.nargs != 0
        if takes_value or action.nargs == "?":
            assert "default" in sub._get_formatter()._format_action(action), action.dest
    assert "exit code" in text
    if command in ("", "derive", "prove"):
        assert "3 environment" in text and "130 interrupted" in text


@pytest.mark.parametrize(("args", "warning"), [
    (["--widths", "2,3,2", "--activation", "tanh", "--cost", "softmax_ce"],
     "warning: cost softmax_ce needs softmax in the output layer, so layer 2 uses softmax, "
     "not tanh\n"),
    (["--widths", "2,3,2", "--activation", "tanh", "--cost", "bce"],
     "warning: cost bce takes logs of a_L and 1 - a_L, which needs outputs in (0, 1); tanh in "
     "layer 2 does not keep them there (sigmoid does)\n"),
    (["--widths", "2,3,2", "--activation", "relu,identity", "--cost", "bce"],
     "warning: cost bce takes logs of a_L and 1 - a_L, which needs outputs in (0, 1); identity "
     "in layer 2 does not keep them there (sigmoid does)\n"),
    (["--widths", "2,3,2", "--activation", "tanh,sigmoid", "--cost", "bce"], ""),
    (["--widths", "2,3,2", "--cost", "softmax_ce"], ""),  # no activation asked for: none replaced
    (["--widths", "2,3,2", "--activation", "softmax", "--cost", "softmax_ce"], ""),
    (["--widths", "2,3,2", "--activation", "tanh", "--cost", "bce", "-q"], ""),
])
def test_warnings_for_a_network_the_user_may_not_expect(args, warning, capsys):
    assert main(["prove", "--method", "local", *args]) == 0
    assert capsys.readouterr().err == warning


def test_a_network_file_warns_too(tmp_path, capsys):
    path = tmp_path / "net.toml"
    path.write_text('widths = [2, 3, 2]\nactivation = "relu"\ncost = "softmax_ce"\n')
    assert main(["prove", str(path), "--method", "local"]) == 0
    assert "layer 2 uses softmax, not relu" in capsys.readouterr().err


# ---------------------------------------------------------------- progress


@pytest.mark.slow  # progress needs a second to show
def test_a_long_single_step_still_shows_progress(monkeypatch, capsys):
    monkeypatch.setattr(progress, "SHOW_AFTER", 0.2)
    with progress.bar(True, "busy", total=4) as update:
        update("step one", 1, 4)
        time.sleep(0.6)  # one call that never reports: the line appears anyway
    err = capsys.readouterr().err
    assert "\rbusy  [#####...............]  1/4  step one  0 s\x1b[K" in err
    assert err.endswith("\r\x1b[K")  # and is erased when the step ends


def test_a_quick_step_shows_nothing(capsys):
    with progress.bar(True, "quick") as update:
        update("x", 1, 1)
    assert capsys.readouterr().err == ""


def on_a_terminal(args, env=None) -> str:
    """stderr of ``symbp args`` run on a pseudo-terminal, as a user would see it."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    with subprocess.Popen([sys.executable, "-m", "symbp", *args], stdout=subprocess.DEVNULL,
                          stderr=follower, env={**os.environ, **(env or {})}) as process:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=300)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


PROOF = ["prove", "--widths", "2,2,2"]
STALLED = {"SYMBP_STALL_AT": "proving"}  # each step the prover reports lasts 0.25 s more


@pytest.mark.slow  # progress needs a second to show
def test_proving_shows_progress_on_a_terminal_and_nowhere_else():
    # the bar draws what the prover reports: its steps, one per layer and parameter
    err = on_a_terminal(PROOF, env=STALLED)
    assert re.search(r"\rproving  \[#+\.*\]  [1-6]/6  layer [12], [Wb]  \d+ s\x1b\[K", err), err
    assert err.endswith("\r\x1b[K")  # and is erased when the proof is done
    piped = subprocess.run([sys.executable, "-m", "symbp", *PROOF], capture_output=True,
                           text=True, env={**os.environ, **STALLED})
    assert piped.returncode == 0 and piped.stderr == ""  # a pipe stays clean
    assert "proving" not in on_a_terminal([*PROOF, "--quiet"], env=STALLED)


@pytest.mark.slow  # progress needs a second to show
def test_training_shows_progress_on_a_terminal(tmp_path):
    # the training hook sleeps 5 ms a step: 400 steps last 2 s without costing 2 CPU-s (20,000
    # epochs did, with a numba kernel compiled for them); the bar is the same on every backend
    err = on_a_terminal(["train", "--epochs", "400", "--backend", "numpy", "--out",
                         str(tmp_path)], env={"SYMBP_STALL_AT": "training"})
    assert "\rtraining  [" in err and "/400  epoch " in err and "  accuracy " in err


@pytest.mark.slow  # progress needs a second to show
@pytest.mark.needs_pdflatex
def test_writing_documents_shows_progress_on_a_terminal(tmp_path):
    bin_dir = tmp_path / "bin"  # a pdflatex that takes 1.5 s more than the real one
    bin_dir.mkdir()
    real = subprocess.run(["sh", "-c", "command -v pdflatex"], capture_output=True,
                          text=True).stdout.strip()
    (bin_dir / "pdflatex").write_text(f'#!/bin/sh\nsleep 1.5\nexec {real} "$@"\n')
    (bin_dir / "pdflatex").chmod(0o755)
    err = on_a_terminal(["derive", "--widths", "2,2", "--format", "tex,pdf",
                         "--out", str(tmp_path / "out")],
                        env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    # the bar ticks while pdflatex runs; how many seconds it reads depends on the machine's load
    assert re.search(r"\rwriting documents  \[#{10}\.{10}\]  1/2  pdf  \d+ s\x1b\[K", err), err
    assert (tmp_path / "out" / "derivation.pdf").exists()

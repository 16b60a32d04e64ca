"""symbp check: claimed formulas in LaTeX, in the documents' notation (the extra symbp[latex])."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

import symbp
from symbp.cli import config
from symbp.document import claimed_latex
from symbp.printing.latex import Printer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def reader():
    pytest.importorskip("lark")
    return claimed_latex.LatexReader(symbp.Derivation(symbp.Network([2, 3, 2])))


def test_every_symbol_the_documents_print_reads_back_to_itself(reader):
    d = symbp.Derivation(symbp.Network([2, 3, 2]))
    names = d.latex_names
    assert len(names) == 41
    assert {s: reader.read(tex, "t") for s, tex in names.items()} == {s: s for s in names}


def test_a_printed_backward_step_reads_back(reader):
    d = symbp.Derivation(symbp.Network([2, 3, 2]))
    step = d.recursion.deltas[1][0]  # the recursion's δ_1,1 in layered symbols
    printed = Printer(d.latex_names)(step)
    assert reader.read(printed, "t") == step


@pytest.mark.parametrize(("text", "expected"), [
    (r"a^{(1)}_2\bigl(1 - a_2^{(1)}\bigr)", "a1_2*(1 - a1_2)"),
    (r"\frac{1}{2} \cdot a^{(1)}_{2} (1 - a^{(1)}_{2})", "a1_2*(1 - a1_2)/2"),
    (r"\sigma'\left(z^{(1)}_{1}\right) \times 0.5", "sigmoid_prime(z1_1)/2"),
    (r"$\exp(-z^{(1)}_{1})$", "exp(-z1_1)"),
    (r"\sigma(\sigma(x_1))^2", "sigmoid(sigmoid(x_1))**2"),
])
def test_the_notation_read(reader, text, expected):
    assert str(reader.read(text, "t")) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("x_1 = 2", "reads more than one way, or is not an expression"),
    (r"\frac{x_1}{", r"not LaTeX symbp can read: '\\\\frac\{x_1\}\{'"),
    ("q_1", "'q_1' is not a symbol of this network"),
    ("w^{(9)}_{11}", r"'w\^\{\(9\)\}_\{11\}' is not a symbol"),
    ("2 q", "unknown symbol 'q'"),
    (r"\sigma(x_1", "unbalanced parentheses"),
    (r"\theta_{0}", r"\\theta is not a symbol"),
    (r"\sin(x_1)", None),  # a function SymPy knows is fine
])
def test_bad_latex_is_one_line_naming_the_key_and_the_entry(reader, text, message):
    if message is None:
        assert reader.read(text, "t") == sp.sin(sp.Symbol("x_1"))
        return
    with pytest.raises(ValueError, match="claimed: formulas_latex.delta_1\\[0\\]: .*" + message):
        reader.read(text, "formulas_latex.delta_1[0]")


def test_latex_claims_are_proved_and_refuted_as_formulas():
    pytest.importorskip("lark")
    net = config.load(ROOT / "examples" / "worked-2-2-2.toml").net
    claims = json.loads((ROOT / "examples" / "claims" / "formulas-2-2-2.json").read_text())
    report = symbp.check(net, claims)
    assert [(v.name, v.status) for v in report.verdicts] == [
        ("delta_1[1] (formula)", "proved"), ("delta_1[2] (formula)", "proved"),
        ("delta_2[1] (formula)", "proved"), ("delta_2[2] (formula)", "refuted"),
        ("dC/dW_2[1,1] (formula)", "proved"), ("dC/dW_2[1,2] (formula)", "refuted")]
    refuted = [v for v in report.verdicts if v.status == "refuted"]
    assert [(v.point, v.claimed_value, v.true_value) for v in refuted] == [
        ({}, "1/4", "1/8"), ({"b1_1": "1"}, "≈ 0.09138232233", "1/16")]  # σ(1)/8


def test_without_lark_one_line_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "lark", None)  # import lark now fails
    with pytest.raises(ValueError, match=r"pip install 'symbp\[latex\]'"):
        symbp.check(symbp.Network([2, 2, 2]), {"formulas_latex": {"delta_2": ["1", "2"]}})


def test_cli_bad_latex_exits_2_with_one_line(tmp_path):
    pytest.importorskip("lark")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"formulas_latex": {"delta_2": [r"\frac{a^{(2)}_1}{", "1"]}}))
    result = subprocess.run([sys.executable, "-m", "symbp", "check",
                             str(ROOT / "examples" / "worked-2-2-2.toml"), str(bad)],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("symbp: error: ") and result.stderr.count("\n") == 1
    assert "formulas_latex.delta_2[0]" in result.stderr

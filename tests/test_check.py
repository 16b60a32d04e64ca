"""symbp check: claimed numbers decided exactly, claimed formulas proved or refuted."""

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import symbp
from symbp.cli import config
from symbp.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
NETWORK = ROOT / "examples" / "worked-2-2-2.toml"
CLAIMS = ROOT / "examples" / "claims"


def _claims(name: str) -> dict:
    return json.loads((CLAIMS / name).read_text(), parse_float=Decimal)


@pytest.fixture(scope="module")
def job():
    return config.load(NETWORK)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "symbp", "check", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_published_table_is_right(job):
    report = symbp.check(job.net, _claims("worked-2-2-2.json"), example=job.example)
    assert report.holds
    assert report.text() == "holds: 18 right"
    assert {v.status for v in report.verdicts} == {"right"}


def test_planted_errors_are_named_with_the_right_value(job):
    report = symbp.check(job.net, _claims("worked-2-2-2-planted.json"), example=job.example)
    wrong = [(v.name, v.claimed, v.value, v.agree, v.written)
             for v in report.verdicts if v.status != "right"]
    assert wrong == [("delta_2[1]", "0.138489562", "0.138498562", 4, 9),
                     ("dC/dW_1[1,1]", "0.000438658", "0.000438568", 3, 6),
                     ("W_2 updated[1,1]", "0.35981648", "0.35891648", 2, 8)]
    assert not report.holds


def test_symbps_own_worked_json_is_right_and_one_digit_off_is_wrong(job):
    claims = {"cost": "0.298371109", "a": [None, ["0.75136507", "0.772928466"]],
              "learning_rate": "1/2"}
    report = symbp.check(job.net, claims, example=job.example)
    assert [(v.name, v.status) for v in report.verdicts] == [
        ("eta", "right"), ("C", "right"), ("a_2[1]", "right"), ("a_2[2]", "wrong")]
    assert report.verdicts[-1].value == "0.772928465"


def test_right_formulas_are_proved_and_a_wrong_one_refuted_at_a_point(job):
    formulas = {"formulas": {
        "delta_1": ["(w2_1_1*delta2_1 + w2_2_1*delta2_2)*a1_1*(1 - a1_1)",
                    "(w2_1_2*delta2_1 + w2_2_2*delta2_2)*sigmoid_prime(z1_2)"],
        "delta_2": ["(a2_1 - y_1)*a2_1*(1 - a2_1)", "(a2_2 - y_2)*a2_2"]}}
    report = symbp.check(job.net, formulas)
    statuses = [(v.name, v.status) for v in report.verdicts]
    assert statuses == [("delta_1[1] (formula)", "proved"), ("delta_1[2] (formula)", "proved"),
                        ("delta_2[1] (formula)", "proved"), ("delta_2[2] (formula)", "refuted")]
    refuted = report.verdicts[-1]
    # the smallest point: every symbol 0, where a_2 = 1/2 and σ'(0) = 1/4 was dropped
    assert (refuted.point, refuted.claimed_value, refuted.true_value) == ({}, "1/4", "1/8")


def test_a_recursion_without_sigma_prime_is_refuted(job):
    def no_prime(ops):
        delta = None
        for l in ops.layers():
            g = ops.cost_gradient() if l == ops.L else ops.transpose_times(l + 1, delta)
            delta = ops.bind_delta(l, g)
            ops.gradient(l, ops.outer(delta, ops.activation(l - 1)), delta)

    report = symbp.check(job.net, no_prime)
    assert not report.holds
    refuted = [v.name for v in report.verdicts if v.status == "refuted"]
    assert refuted[0] == "dC/dW_2[1,1] (recursion)"
    assert symbp.check(job.net, symbp.backprop_deltas).holds


@pytest.mark.parametrize(("claims", "message"), [
    ({"cosst": 1}, "unknown key 'cosst'"),
    ({"a": [[1, 2, 3], None]}, "a[0] must be a list of 2 entries"),
    ({"cost": True}, "cost must be a number or null"),
    ({"formulas": {"delta_1": ["__import__('os')", "1"]}}, "formulas.delta_1"),
    ({"formulas": {"delta_9": ["1"]}}, "unknown key 'delta_9'"),
])
def test_bad_claims_name_the_bad_key(job, claims, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        symbp.check(job.net, claims, example=job.example)


def test_numbers_need_a_point():
    with pytest.raises(ValueError, match="need a point"):
        symbp.check(symbp.Network([2, 2, 2]), {"cost": 1})


def test_cli_exit_codes(tmp_path, capsys):
    right = _cli(NETWORK, CLAIMS / "worked-2-2-2.json")  # a real process, then main in this one
    assert (right.returncode, right.stdout, right.stderr) == (0, "holds: 18 right\n", "")
    assert main(["check", str(NETWORK), str(CLAIMS / "worked-2-2-2-planted.json"),
                 "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["counts"] == {"right": 15, "wrong": 3}
    bad = tmp_path / "bad.json"
    for text in ('{"cost": ', '{"z": 3}', "[]"):
        bad.write_text(text)
        assert main(["check", str(NETWORK), str(bad)]) == 2
        out, err = capsys.readouterr()
        assert out == "" and len(err.strip().splitlines()) == 1
        assert "Traceback" not in err


def test_claimed_numbers_of_a_network_of_layer_kinds(tmp_path, capsys):
    """worked.json of the residual example checks as right; one gradient of the projection
    off in its third digit is named, with its right value."""
    example = str(ROOT / "examples" / "residual.toml")
    assert main(["derive", example, "--format", "json", "--out", str(tmp_path), "-q"]) == 0
    capsys.readouterr()
    worked = tmp_path / "worked.json"
    assert main(["check", example, str(worked)]) == 0
    assert capsys.readouterr().out.startswith("holds: 81 right")
    claims = json.loads(worked.read_text())
    right = claims["grad"][1]["P"][0][1]
    claims["grad"][1]["P"][0][1] = right + 0.001
    worked.write_text(json.dumps(claims))
    assert main(["check", example, str(worked)]) == 1
    out = capsys.readouterr().out
    assert f"dC/dP_2[1,2]: claimed {right + 0.001:.6g}" in out and f"should be {right:.6g}" in out

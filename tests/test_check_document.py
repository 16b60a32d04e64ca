"""symbp check --out DIR: the report as a document (Markdown, PDF, JSON), published as a set."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import symbp
from symbp.cli import config
from symbp.cli.main import main
from symbp.document.claimed_report import build_check_document
from symbp.render.checking import render_check

ROOT = Path(__file__).resolve().parent.parent
NETWORK = ROOT / "examples" / "worked-2-2-2.toml"
CLAIMS = ROOT / "examples" / "claims"


def _cli(capsys, *args: object) -> subprocess.CompletedProcess:
    """``symbp check ARGS`` through main, in this process (real processes start in
    test_check.py and test_check_latex.py): its exit code, stdout and stderr."""
    code = main(["check", *map(str, args)])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["symbp", "check", *map(str, args)], code, out, err)


def _document(claims: dict, name: str = "claims.json"):
    job = config.load(NETWORK)
    d = symbp.Derivation(job.net)
    report = symbp.check(d, claims, example=job.example)
    return build_check_document(d, report, name, job.title)


def test_numbers_section_names_each_wrong_number_and_its_value():
    claims = json.loads((CLAIMS / "worked-2-2-2-planted.json").read_text())
    md = render_check(_document(claims), "md")
    assert "**Not every claim holds: 15 right, 3 wrong.**" in md
    assert ("| delta\\_2\\[1\\] | 0.138489562 | 0.138498562 | **wrong: right to 4 of 9 digits, "
            "should be 0.138498562** |") in md
    assert "| C | 0.298371109 | 0.298371109 | right to all 9 digits |" in md
    assert "## Formulas" not in md


def test_formula_section_shows_the_claim_in_the_documents_notation_and_the_point():
    claims = {"formulas": {"delta_1": [
        "(w2_1_1*delta2_1 + 2*w2_2_1*delta2_2)*a1_1*(1 - a1_1)", None]}}
    doc = _document(claims)
    [item] = doc.formulas
    assert item.equation_tex == (r"\delta^{(1)}_{1} = a^{(1)}_{1} \bigl(1 - a^{(1)}_{1}\bigr) "
                                 r"\bigl(\delta^{(2)}_{1} w^{(2)}_{11} + 2 \delta^{(2)}_{2} "
                                 r"w^{(2)}_{21}\bigr)")
    assert (item.point_tex, item.values) == (r"w^{(2)}_{21} = 1", [
        ("claimed", r"\approx 0.07314012676"), ("true", r"\approx 0.03657006338")])
    md = render_check(doc, "md")
    assert ("At $w^{(2)}_{21} = 1$, the other 15 symbols 0 (b1\\_1, b1\\_2, b2\\_1, ..., "
            "y\\_2):\nclaimed $\\approx 0.07314012676$; true $\\approx 0.03657006338$.") in md
    tex = render_check(doc, "tex")
    assert r"\textcolor{failed}{refuted}" in tex and "Refuted at the smallest point found." in tex


@pytest.mark.slow
def test_cli_out_publishes_the_files_and_keeps_the_exit_codes(tmp_path, capsys):
    out = tmp_path / "check"
    planted = _cli(capsys, NETWORK, CLAIMS / "worked-2-2-2-planted.json", "--out", out)
    assert planted.returncode == 1, planted.stderr
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    expected = ["check.json", "check.md"] + (["check.pdf"] if shutil.which("pdflatex") else [])
    assert names == sorted(expected)
    assert planted.stdout.splitlines()[-1].startswith(f"wrote {out / 'check.md'}")
    assert json.loads((out / "check.json").read_text())["counts"] == {"right": 15, "wrong": 3}
    first = (out / "check.md").read_bytes()
    right = _cli(capsys, NETWORK, CLAIMS / "worked-2-2-2.json", "--out", out)
    assert right.returncode == 0
    assert b"Every claim holds: 18 right." in (out / "check.md").read_bytes()
    again = _cli(capsys, NETWORK, CLAIMS / "worked-2-2-2-planted.json", "--out", out)
    assert again.returncode == 1 and (out / "check.md").read_bytes() == first  # deterministic
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(out / "check.pdf"), "-"], capture_output=True,
                              text=True, check=True).stdout
        assert "wrong: right to 4 of 9 digits" in text


def test_bad_input_with_out_writes_nothing(tmp_path, capsys):
    out = tmp_path / "check"
    bad = tmp_path / "bad.json"
    bad.write_text('{"cosst": 1}')
    result = _cli(capsys, NETWORK, bad, "--out", out)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.count("\n") == 1 and "unknown key 'cosst'" in result.stderr
    assert not out.exists()
    afile = tmp_path / "afile"
    afile.write_text("x")
    result = _cli(capsys, NETWORK, CLAIMS / "worked-2-2-2.json", "--out", afile)
    assert result.returncode == 2 and "is not a folder" in result.stderr
    assert afile.read_text() == "x"

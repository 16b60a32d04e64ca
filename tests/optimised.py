"""symbp's commands in a process whose numba optimises as it does for users.

The suite's own processes have numba compile unoptimised (conftest sets NUMBA_OPT=0): the
same statements and the same IEEE operations, without LLVM's passes, which take most of a
large kernel's compile time. What the tests check of a kernel (its numbers against NumPy,
PyTorch and central differences, to a tolerance) holds at either level. What must be the
user's to the bit, a committed training report (fused multiply-adds, which the kernels
allow, change the last bits), and numba's cache of a module (an unoptimised kernel that
inlines a helper keeps a pointer to it, and numba will not cache that), is run here, at
numba's default level, as a user runs it.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def users_environment() -> dict[str, str]:
    """os.environ without the suite's NUMBA_OPT: numba's default optimisation."""
    return {name: value for name, value in os.environ.items() if name != "NUMBA_OPT"}


def run_symbp(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m symbp *argv`` at the users' optimisation; its output as text."""
    return subprocess.run([sys.executable, "-m", "symbp", *argv], capture_output=True,
                          text=True, env=users_environment(), timeout=timeout)


def reproduces_the_committed_report(name: str, out: Path) -> None:
    """``symbp train examples/<name>.toml``, run as a user runs it (numba optimising), reaches
    95% on the held-out digits within 5 epochs and writes output/<name>/ byte for byte (its
    PDF where pdflatex is installed)."""
    pytest.importorskip("sklearn")
    pytest.importorskip("numba")  # the committed reports were trained by the numba backend
    done = run_symbp("train", str(ROOT / "examples" / f"{name}.toml"), "--out", str(out),
                     "--quiet")
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["heldout_accuracy"] >= 0.95 and report["data"]["heldout"] == 449
    assert min(r["epoch"] for r in report["history"] if r["heldout_accuracy"] >= 0.95) <= 5
    committed = sorted(p.name for p in (ROOT / "output" / name).iterdir())
    written = sorted(p.name for p in out.iterdir() if p.suffix != ".npz")  # not the checkpoint
    if not shutil.which("pdflatex"):  # no PDF, and a manifest without it
        committed = [n for n in committed if n not in ("report.pdf", ".symbp-manifest")]
        written.remove(".symbp-manifest")
    assert written == committed, (written, committed)
    for file in committed:
        assert (out / file).read_bytes() == (ROOT / "output" / name / file).read_bytes(), \
            f"output/{name}/{file} is out of date; regenerate it with: symbp train " \
            f"examples/{name}.toml"

"""A symbp process imports what its command runs, no more: help, a mistyped command or flag
answer without SymPy, and a proof without the documents (Jinja, the code generators)."""

import subprocess
import sys

import pytest

HEAVY = {"sympy", "numpy", "jinja2", "numba", "symbp.render", "symbp.document", "symbp.numeric",
         "symbp.figures", "symbp.train", "symbp.proof", "symbp.api"}


def _imported(tmp_path, *args: str) -> tuple[int, set[str]]:
    """The exit code of ``python -m symbp ARGS`` and the heavy modules it imported (-X
    importtime names every module a process imports, on stderr)."""
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "symbp", *args],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    names = {line.split("|")[-1].strip() for line in run.stderr.splitlines()
             if line.startswith("import time:")}
    assert "symbp.cli" in names  # the launcher did run symbp and report its imports
    return run.returncode, names & HEAVY


@pytest.mark.slow  # a process each
@pytest.mark.parametrize(("args", "code"), [
    ([], 0), (["--help"], 0), (["--version"], 0), (["--bogus"], 2), (["frobnicate"], 2),
    (["derive", "--bogus"], 2), (["prove", "--widths", "2,2", "--bogus"], 2),
])
def test_help_and_a_mistyped_command_import_nothing_heavy(tmp_path, args, code):
    assert _imported(tmp_path, *args) == (code, set())


@pytest.mark.slow
def test_a_proof_imports_neither_the_documents_nor_the_code_generators(tmp_path):
    code, heavy = _imported(tmp_path, "prove", "--widths", "2,2", "-q")
    assert (code, heavy) == (0, {"sympy", "numpy", "symbp.proof"})


def test_importing_symbp_imports_no_name_until_it_is_used():
    program = ("import sys, symbp\n"
               "before = {'sympy', 'symbp.api'} & set(sys.modules)\n"
               "from symbp import Network, render, train\n"
               "import symbp.render.latex, symbp.train.settings\n"  # subpackages of the names
               "print(sorted(before), callable(symbp.render), callable(symbp.train),\n"
               "      symbp.Network is Network, 'Proof' in dir(symbp))\n")
    run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                         timeout=120, check=True)
    assert run.stdout == "[] True True True True\n"


def test_an_unknown_name_is_an_attribute_error():
    import symbp

    with pytest.raises(AttributeError, match="'Netwrok'"):
        symbp.Netwrok  # noqa: B018

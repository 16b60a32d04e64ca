"""The committed example in output/default/ is what the generator writes today."""

from pathlib import Path

import pytest

import symbp
from symbp.codegen import module_source
from symbp.outputs import proof_json

EXAMPLE = Path(__file__).resolve().parent.parent / "output" / "default"
FIX = "regenerate it with `symbp derive` from the repository root and commit the result"


@pytest.fixture(scope="module")
def generated():
    d = symbp.derive(symbp.Network())
    proof = symbp.prove(d)
    return {
        "derivation.tex": symbp.render(d, "tex", proof),
        "derivation.md": symbp.render(d, "md", proof),
        "proof.json": proof_json(proof),
        "gradients.py": module_source(d),
    }


@pytest.mark.parametrize("name", ["derivation.tex", "derivation.md", "proof.json", "gradients.py"])
def test_committed_example_is_current(generated, name):
    committed = (EXAMPLE / name).read_text(encoding="utf-8")
    assert committed == generated[name], f"output/default/{name} is out of date; {FIX}"


def test_committed_pdf_exists():
    assert (EXAMPLE / "derivation.pdf").read_bytes().startswith(b"%PDF")

"""The committed example in output/default/ is what the generator writes today."""

from pathlib import Path

import pytest

import symbp
from symbp.numeric.codegen import module_source
from symbp.render.figures import figure_files
from symbp.render.formats import proved_sentence

EXAMPLE = Path(__file__).resolve().parent.parent / "output" / "default"
FIX = "regenerate it from the repository root (symbp derive; symbp swell) and commit it"


@pytest.fixture(scope="module")
def generated():
    d = symbp.derive(symbp.Network())
    proof = symbp.prove(d)
    return {
        "derivation.tex": symbp.render(d, "tex", proof),
        "derivation.md": symbp.render(d, "md", proof),
        "derivation.html": symbp.render(d, "html", proof),
        "matrix.html": symbp.render(d, "html", proof, file="matrix.html"),
        "derivation.ipynb": symbp.render(d, "ipynb", proof),
        "proof.json": proof.to_json(),
        "gradients.py": module_source(d, proved=proved_sentence(d, proof)),
        **figure_files(d),
    }


@pytest.mark.parametrize("name", ["derivation.tex", "derivation.md", "derivation.html",
                                  "matrix.html", "derivation.ipynb", "proof.json", "gradients.py",
                                  "graph.tex", "graph.svg", "swell.svg"])
def test_committed_example_is_current(generated, name):
    committed = (EXAMPLE / name).read_text(encoding="utf-8")
    assert committed == generated[name], f"output/default/{name} is out of date; {FIX}"


def test_committed_pdf_exists():
    assert (EXAMPLE / "derivation.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.slow
def test_committed_swell_report_is_current():
    """The report is what today's code makes of its rows, and its rows for depths 1..3 are
    what today's measurement gives (the deeper ones take ten seconds more, by the same code)."""
    import json

    from symbp.figures import swell
    from symbp.figures.swell_plot import swell_svg
    from symbp.render.figures import swell_markdown

    folder = EXAMPLE.parent / "swell"
    text = (folder / "swell.json").read_text()
    rows = json.loads(text)["rows"]
    assert text == swell.to_json(rows), f"output/swell: {FIX}"
    assert (folder / "swell.md").read_text() == swell_markdown(rows), f"output/swell: {FIX}"
    assert (folder / "swell.svg").read_text() == swell_svg(rows), f"output/swell: {FIX}"
    shallow = json.loads(swell.to_json(swell.measure(range(1, 4))))["rows"]
    assert shallow == [row for row in rows if row["depth"] <= 3], f"output/swell: {FIX}"

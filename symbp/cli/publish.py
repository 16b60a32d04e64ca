"""What ``symbp derive`` writes: a table of formats, each producing its files in memory.

Nothing here touches the output folder; ``outputs.OutputFolder`` stages and publishes
the files once they all exist, so a failure or an interruption on the way loses
nothing. The document is built once and rendered into every format. A new format is
one entry in ``FORMATS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ..core.derivation import Derivation
from ..core.network import Network
from ..document.build import Document, build
from ..document.matrix import MatrixChapter, matrix_chapter
from ..document.numbers import Example as WorkedExample
from ..document.second_order import second_order_chapter
from ..document.worked import worked_json
from ..numeric.codegen import module_source
from ..numeric.curvature_codegen import second_order_source
from ..numeric.numba_codegen import numba_module_source
from ..numeric.trace import require_numeric
from ..proof.prove import Proof
from ..render.documents import render_document, render_matrix
from ..render.figures import figure_files, markdown_images
from ..render.latex import DEFAULT_TIMEOUT, compile_all, missing_compiler_note
from ..render.second_order import render_second_order

Update = Callable[[str, int, int], None]


class Skipped(Exception):
    """A format that cannot be made for this network; the message becomes a note."""


@dataclass
class Build:
    """One run's inputs to every format, with the document and its LaTeX made once."""

    d: Derivation
    proof: Proof
    title: str | None = None
    timings: bool = False
    workdir: Path | None = None  # where pdflatex works (the staging folder)
    timeout: float = DEFAULT_TIMEOUT  # seconds left for pdflatex
    example: WorkedExample | None = None  # numbers for the worked example
    wanted: tuple[str, ...] = ()  # the formats being made: their PDFs compile side by side
    notes: list[str] = field(default_factory=list)
    second: Proof | None = None  # the second-order proof, for a derivation of order 2

    @cached_property
    def document(self) -> Document:
        return build(self.d, self.proof, timings=self.timings, title=self.title,
                     example=self.example)

    @cached_property
    def tex(self) -> str:
        return render_document(self.document, "tex")

    @cached_property
    def matrix(self) -> MatrixChapter:
        return matrix_chapter(self.d)

    @cached_property
    def matrix_tex(self) -> str:
        return render_matrix(self.matrix, "tex")

    @cached_property
    def second_order_tex(self) -> str:
        assert self.second is not None
        return render_second_order(second_order_chapter(self.d, self.second, self.example),
                                   "tex")

    @cached_property
    def pdfs(self) -> dict[str, bytes]:
        """Every PDF of the run, compiled at once: one pdflatex per document, side by side."""
        sources = {}
        if "pdf" in self.wanted:
            sources["derivation.pdf"] = self.tex
        if "matrix" in self.wanted and missing_compiler_note() is None:
            sources["matrix.pdf"] = self.matrix_tex
        if "second_order" in self.wanted and missing_compiler_note() is None:
            sources["second_order.pdf"] = self.second_order_tex
        if not sources:
            return {}
        compiled = compile_all(list(sources.values()), timeout=self.timeout,
                               workdir=self.workdir)
        return {name: c.pdf for name, c in zip(sources, compiled)}


def _numeric(name: str) -> Callable[[Network], str | None]:
    def unavailable(net: Network) -> str | None:
        try:
            require_numeric(net)
        except ValueError as error:  # e.g. the generic σ, which has no numeric form
            return f"no {name}: {error}"
        return None

    return unavailable


def _gradients(name: str, source: Callable[..., str]) -> Callable[[Build], dict]:
    def make(b: Build) -> dict[str, bytes]:
        try:
            if b.second is not None:  # order 2: hessian, hvp and gauss_newton too
                flavor = "numba" if name == "gradients_numba.py" else "numpy"
                return {name: second_order_source(b.d, flavor, proved_sentence(b.d, b.proof),
                                                  second_sentence(b.d, b.second)).encode()}
            return {name: source(b.d, proved=proved_sentence(b.d, b.proof)).encode()}
        except ValueError as error:
            raise Skipped(f"no {name}: {error}") from None

    return make


def proved_sentence(d: Derivation, proof: Proof) -> str:
    """What the module's docstring says of the proof: only of the same program."""
    if proof.fingerprint != d.program.fingerprint:
        return "symbp's proof in proof.json is of another program: this one is not proved."
    if proof.holds:
        return (f"Proved by symbp ({proof.method}) for this network, program "
                f"{proof.fingerprint}: see proof.json.")
    return (f"NOT proved by symbp ({proof.status}, {proof.method}) for this network: see "
            "proof.json.")


def second_sentence(d: Derivation, proof: Proof) -> str:
    """What the module's docstring says of the second-order proof: only of the same programs."""
    if proof.fingerprint != getattr(d, "fingerprint", None):
        return "symbp's second-order proof is of other programs: these are not proved."
    if proof.holds:
        return (f"Proved by symbp ({proof.method}) for this network, programs "
                f"{proof.fingerprint}: see second_order.json.")
    return (f"NOT proved by symbp ({proof.status}, {proof.method}) for this network: see "
            "second_order.json.")


def _second_order(b: Build) -> dict[str, bytes]:
    """The chapter "Second order" as .tex, .md, its PDF where pdflatex is, and its proof."""
    if b.second is None:
        raise Skipped("no second_order: it needs --order 2")
    chapter = second_order_chapter(b.d, b.second, b.example)
    files = {"second_order.tex": b.second_order_tex.encode(),
             "second_order.md": render_second_order(chapter, "md").encode(),
             "second_order.json": b.second.to_json().encode()}
    if "second_order.pdf" in b.pdfs:
        files["second_order.pdf"] = b.pdfs["second_order.pdf"]
    return files


def _markdown(b: Build) -> dict[str, bytes]:
    """derivation.md with the figures it links."""
    files = {"derivation.md": render_document(b.document, "md").encode()}
    files.update({name: text.encode() for name, text in markdown_images(b.d).items()})
    return files


def _json(b: Build) -> dict[str, bytes]:
    """proof.json, and worked.json when there is a worked example."""
    files = {"proof.json": b.proof.to_json().encode()}
    if b.example is not None:
        files["worked.json"] = worked_json(b.d, b.example).encode()
    return files


def _matrix(b: Build) -> dict[str, bytes]:
    """The chapter as .tex and .md, and its PDF where pdflatex is (else the pdf format's
    note says it once)."""
    files = {"matrix.tex": b.matrix_tex.encode(),
             "matrix.md": render_matrix(b.matrix, "md").encode()}
    if "matrix.pdf" in b.pdfs:
        files["matrix.pdf"] = b.pdfs["matrix.pdf"]
    return files


@dataclass(frozen=True)
class Format:
    """One ``--format``: the files it may write, how to make them, and, known before any
    work, why it cannot be made for a network (None when it can)."""

    name: str
    files: tuple[str, ...]
    make: Callable[[Build], dict[str, bytes]]
    unavailable: Callable[[Network], str | None] = lambda net: None
    default: bool = True  # written when no --format is given


FORMATS: dict[str, Format] = {f.name: f for f in [
    Format("tex", ("derivation.tex",), lambda b: {"derivation.tex": b.tex.encode()}),
    Format("md", ("derivation.md", "graph.svg", "swell.svg"), _markdown),
    Format("pdf", ("derivation.pdf",), lambda b: {"derivation.pdf": b.pdfs["derivation.pdf"]},
           lambda net: missing_compiler_note()),
    Format("json", ("proof.json", "worked.json"), _json),
    Format("py", ("gradients.py",), _gradients("gradients.py", module_source),
           _numeric("gradients.py")),
    # the same gradient as one compiled numba kernel (pip install 'symbp[fast]'), on request
    Format("numba", ("gradients_numba.py",),
           _gradients("gradients_numba.py", numba_module_source),
           _numeric("gradients_numba.py"), default=False),
    # graph.tex, graph.svg (when the tree can be drawn) and swell.svg; derivation.md shows
    # the SVGs
    Format("figures", ("graph.tex", "graph.svg", "swell.svg"),
           lambda b: {name: text.encode() for name, text in figure_files(b.d).items()}),
    # the matrix-calculus chapter, the seed's sequel: .tex, .md and, with pdflatex, .pdf
    Format("matrix", ("matrix.tex", "matrix.md", "matrix.pdf"), _matrix),
    # second order (--order 2): the chapter and its proof, second_order.json
    Format("second_order", ("second_order.tex", "second_order.md", "second_order.pdf",
                            "second_order.json"), _second_order, default=False),
]}
FILENAMES = {name: f.files[0] for name, f in FORMATS.items()}  # format → its main file


def plan(net: Network, formats: tuple[str, ...], explicit: bool) -> tuple[list[str], list[str]]:
    """The formats that can be made and notes on the rest; ValueError when one that was
    asked for by name cannot be made. Cheap: run before any work."""
    made, notes = [], []
    for name in formats:
        reason = FORMATS[name].unavailable(net)
        if reason is None:
            made.append(name)
        elif explicit:
            raise ValueError(f"--format {name} asked for, but {reason}")
        else:
            notes.append(reason)
    return made, notes


def build_files(b: Build, formats: list[str], update: Update | None = None) -> dict[str, bytes]:
    """The bytes of every format in ``formats``; skipped ones add a note to ``b.notes``."""
    files: dict[str, bytes] = {}
    for done, name in enumerate(formats):
        if update:
            update(name, done, len(formats))
        try:
            files.update(FORMATS[name].make(b))
        except Skipped as skipped:
            b.notes.append(str(skipped))
    if update:
        update("done", len(formats), len(formats))
    return files

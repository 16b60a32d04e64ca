"""The formats symbp writes, as one registry: ``symbp derive --format`` and ``symbp.render`` both
read ``FORMATS``, so a new format is one entry here and one template folder.

A ``Build`` holds one run's inputs, with the document (plain strings) built once and its
LaTeX rendered once; every format makes its files, in memory, from it. Nothing here
touches an output folder (``cli.outputs`` stages and publishes the files) and nothing
runs a proof: a Build is handed one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ..core.derivation import Derivation
from ..core.network import Network
from ..document.build import Document
from ..document.example import Example as WorkedExample
from ..document.kinds import KindsDocument, document
from ..document.kinds_matrix import KindsMatrixChapter, kinds_matrix_chapter
from ..document.kinds_numbers import LayerExample
from ..document.kinds_second_order import KindsSecondOrderChapter, kinds_second_order_chapter
from ..document.kinds_worked import worked_file
from ..document.matrix import MatrixChapter, matrix_chapter
from ..document.second_order import SecondOrderChapter, second_order_chapter
from ..numeric.codegen import module_source
from ..numeric.curvature_codegen import second_order_source
from ..numeric.kinds_curvature_codegen import kinds_second_order_source
from ..numeric.numba_codegen import numba_module_source
from ..numeric.printable import code_problem, one_line
from ..numeric.trace import require_numeric
from ..proof.kinds_code import FLAVORS as CODE_FLAVORS
from ..proof.kinds_code import code_proved
from ..proof.prove import Proof
from .documents import render_document, render_matrix, render_second_order
from .figures import figure_files, markdown_images
from .latex import DEFAULT_TIMEOUT, compile_all, missing_compiler_note
from .notebook import notebook
from .slides import render_slides


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
    example: WorkedExample | LayerExample | None = None  # numbers for the worked example
    wanted: tuple[str, ...] = ()  # the formats being made: their PDFs compile side by side
    notes: list[str] = field(default_factory=list)
    second: Proof | None = None  # the second-order proof, for a derivation of order 2
    only: str | None = None  # the one file wanted (symbp.render): no other PDF is compiled

    @cached_property
    def document(self) -> Document | KindsDocument:
        return document(self.d, self.proof, timings=self.timings, title=self.title,
                        example=self.example)

    @cached_property
    def tex(self) -> str:
        return render_document(self.document, "tex")

    @cached_property
    def matrix(self) -> MatrixChapter | KindsMatrixChapter:
        """The dense chapter, or for a network of layer kinds the chapter layer by layer."""
        return matrix_chapter(self.d) if self.d.net.dense else kinds_matrix_chapter(self.d)

    @cached_property
    def matrix_tex(self) -> str:
        return render_matrix(self.matrix, "tex")

    @cached_property
    def second_order(self) -> SecondOrderChapter | KindsSecondOrderChapter:
        """The dense chapter, or for a network of layer kinds the chapter over its graph."""
        if self.second is None:
            raise Skipped("no second_order: it needs a derivation of order 2 (--order 2, "
                          "symbp.derive(net, order=2))")
        if not self.d.net.dense:
            return kinds_second_order_chapter(self.d, self.second,  # type: ignore[arg-type]
                                              self.example)  # type: ignore[arg-type]
        return second_order_chapter(self.d, self.second,
                                    self.example)  # type: ignore[arg-type]  # dense

    @cached_property
    def second_order_tex(self) -> str:
        return render_second_order(self.second_order, "tex")

    @cached_property
    def numeric_problem(self) -> str:
        """"" when the derivation's program prints as numeric code, else why not (the generic
        σ, a map that is not yet printed as code)."""
        return code_problem(self.d)

    @cached_property
    def slides_tex(self) -> str:
        return render_slides(self.document)

    @cached_property
    def images(self) -> dict[str, str]:
        """The SVG figures: files beside derivation.md, inline in derivation.html."""
        return markdown_images(self.d)

    @cached_property
    def pdfs(self) -> dict[str, bytes]:
        """Every PDF of the run, compiled at once: one pdflatex per document, side by side."""
        sources = {}
        if "pdf" in self.wanted:
            sources["derivation.pdf"] = self.tex
        if missing_compiler_note() is None:  # else the pdf format's note says it once
            if "matrix" in self.wanted:
                sources["matrix.pdf"] = self.matrix_tex
            if "slides" in self.wanted:
                sources["slides.pdf"] = self.slides_tex
            if "second_order" in self.wanted and self.second is not None:
                sources["second_order.pdf"] = self.second_order_tex
        if self.only is not None:
            sources = {name: tex for name, tex in sources.items() if name == self.only}
        if not sources:
            return {}
        compiled = compile_all(list(sources.values()), timeout=self.timeout,
                               workdir=self.workdir)
        return {name: c.pdf for name, c in zip(sources, compiled)}


# ---------------------------------------------------------------- how each format is made


def _numeric(name: str) -> Callable[[Network], str | None]:
    def unavailable(net: Network) -> str | None:
        try:
            require_numeric(net)
        except ValueError as error:  # e.g. the generic σ, which has no numeric form
            return f"no {name}: {error}"
        if not net.dense:  # a kind's map may not print (numeric.maps refuses it): the program
            problem = code_problem(Derivation(net))  # is recorded and traced in about 1 s
            if problem:
                return f"no {name}: {one_line(problem, 160)}"
        return None

    return unavailable


def _gradients(name: str, source: Callable[..., str]) -> Callable[[Build], dict]:
    def make(b: Build) -> dict[str, bytes]:
        try:
            flavor = "numba" if name == "gradients_numba.py" else "numpy"
            if b.second is not None:  # order 2: hessian, hvp and gauss_newton too
                return {name: second_order_source(b.d, flavor, proved_sentence(b.d, b.proof),
                                                  second_sentence(b.d, b.second, flavor)).encode()}
            return {name: source(b.d, proved=proved_sentence(b.d, b.proof)).encode()}
        except ValueError as error:
            raise Skipped(f"no {name}: {one_line(str(error) or type(error).__name__, 160)}") \
                from None

    return make



def proved_sentence(d: Derivation, proof: Proof) -> str:
    """What a generated module's docstring says of the proof: only of the same program."""
    if proof.fingerprint != d.program.fingerprint:
        return "symbp's proof in proof.json is of another program: this one is not proved."
    if proof.holds:
        return (f"Proved by symbp ({proof.method}) for this network, program "
                f"{proof.fingerprint}: see proof.json.")
    return (f"NOT proved by symbp ({proof.status}, {proof.method}) for this network: see "
            "proof.json.")


def second_sentence(d: Derivation, proof: Proof, flavor: str = "numpy") -> str:
    """What a generated module's docstring says of the second-order proof: only of the same
    programs (for layer kinds, of the same printed _tangent too)."""
    # a network of layer kinds: its second order is the δ program's, differentiated
    if proof.fingerprint != getattr(d, "fingerprint", d.program.fingerprint):
        return "symbp's second-order proof is of other programs: these are not proved."
    if proof.holds:
        code = "" if d.net.dense else _code_sentence(d, proof, flavor)
        return (f"Proved by symbp ({proof.method}) for this network, programs "
                f"{proof.fingerprint}{code}: see second_order.json.")
    return (f"NOT proved by symbp ({proof.status}, {proof.method}) for this network: see "
            "second_order.json.")


def _code_sentence(d: Derivation, proof: Proof, flavor: str) -> str:
    """For layer kinds: whether this module's tangent program is the one proved (claims "Hv
    code", "Hv numba")."""
    function = CODE_FLAVORS[flavor][0]
    code = code_proved(proof, kinds_second_order_source(d, flavor), flavor)
    if not code:
        return f", but not the printed {function}"
    return f", and this module's {function} (code {code}) run exactly is that H v"


def _second_order(b: Build) -> dict[str, bytes]:
    """The chapter "Second order" as .tex, .md, .html, its PDF where pdflatex is, and its
    proof."""
    chapter = b.second_order  # Skipped without a second-order proof
    assert b.second is not None
    return {"second_order.tex": b.second_order_tex.encode(),
            "second_order.md": render_second_order(chapter, "md").encode(),
            "second_order.html": render_second_order(chapter, "html").encode(),
            "second_order.json": b.second.to_json().encode(),
            **_compiled(b, "second_order.pdf")}


def _markdown(b: Build) -> dict[str, bytes]:
    """derivation.md with the figures it links."""
    files = {"derivation.md": render_document(b.document, "md").encode()}
    files.update({name: text.encode() for name, text in b.images.items()})
    return files


def _html(b: Build) -> dict[str, bytes]:
    """derivation.html and matrix.html, each one self-contained file (figures inline)."""
    return {"derivation.html": render_document(b.document, "html", images=b.images).encode(),
            "matrix.html": render_matrix(b.matrix, "html").encode()}


def _compiled(b: Build, name: str) -> dict[str, bytes]:
    """The PDF ``name`` where pdflatex is; else nothing (the pdf format's note says why)."""
    return {name: b.pdfs[name]} if name in b.pdfs else {}


def _slides(b: Build) -> dict[str, bytes]:
    """slides.tex, and slides.pdf where pdflatex is."""
    return {"slides.tex": b.slides_tex.encode(), **_compiled(b, "slides.pdf")}


def _json(b: Build) -> dict[str, bytes]:
    """proof.json, and worked.json when there is a worked example."""
    files = {"proof.json": b.proof.to_json().encode()}
    if b.example is not None:
        files["worked.json"] = worked_file(b.d, b.example).encode()
    return files


def _figures(b: Build) -> dict[str, bytes]:
    """graph.tex, graph.svg and swell.svg: the tree of dependencies and the swell (for layer
    kinds, of one shared parameter entry and of networks like this one)."""
    return {name: text.encode() for name, text in figure_files(b.d).items()}


def _matrix(b: Build) -> dict[str, bytes]:
    """The chapter as .tex and .md, and its PDF where pdflatex is."""
    return {"matrix.tex": b.matrix_tex.encode(),
            "matrix.md": render_matrix(b.matrix, "md").encode(), **_compiled(b, "matrix.pdf")}


# ---------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Format:
    """One format: the files it may write (its main file first), how to make them, and, known
    before any work, why it cannot be made for a network (None when it can)."""

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
    # one self-contained web page per document: MathML, inline SVG and CSS, no network
    Format("html", ("derivation.html", "matrix.html"), _html),
    # a Beamer deck, one step per frame, and its PDF where pdflatex is: on request (a second
    # pdflatex run of a few seconds)
    Format("slides", ("slides.tex", "slides.pdf"), _slides, default=False),
    # a Jupyter notebook that builds, proves and trains the network through the public API
    Format("ipynb", ("derivation.ipynb",),
           lambda b: {"derivation.ipynb": notebook(b.document, b.d.net, b.example,
                                                   numeric=b.numeric_problem).encode()}),
    Format("json", ("proof.json", "worked.json"), _json),
    Format("py", ("gradients.py",), _gradients("gradients.py", module_source),
           _numeric("gradients.py")),
    # the same gradient as one compiled numba kernel (pip install 'symbp[fast]'), on request
    Format("numba", ("gradients_numba.py",),
           _gradients("gradients_numba.py", numba_module_source),
           _numeric("gradients_numba.py"), default=False),
    # graph.tex, graph.svg and swell.svg on their own
    Format("figures", ("graph.tex", "graph.svg", "swell.svg"),
           _figures),
    # the matrix-calculus chapter, the seed's sequel: .tex, .md and, with pdflatex, .pdf
    Format("matrix", ("matrix.tex", "matrix.md", "matrix.pdf"), _matrix),
    # second order (--order 2): the chapter and its proof, second_order.json
    Format("second_order", ("second_order.tex", "second_order.md", "second_order.html",
                            "second_order.pdf", "second_order.json"), _second_order,
           default=False),
]}
DEFAULT_FORMATS = tuple(name for name, f in FORMATS.items() if f.default)


def check_format(name: object) -> Format:
    """The registry entry of ``name``; ValueError naming it and the valid ones otherwise."""
    if not isinstance(name, str) or name not in FORMATS:
        raise ValueError(f"unknown format {name!r}; choose one of: {', '.join(FORMATS)}")
    return FORMATS[name]

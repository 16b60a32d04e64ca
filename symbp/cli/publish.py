"""What ``symbp derive`` writes: every requested output, produced in memory.

Nothing here touches the output folder; ``outputs.commit`` does that once all
files exist, so a failure or an interruption on the way loses nothing. The
document is built once and rendered into every format.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.derivation import Derivation
from ..document.build import build
from ..numeric.codegen import module_source
from ..numeric.numba_codegen import numba_module_source
from ..proof.prove import Proof
from ..render.documents import render_document
from ..render.figures import figure_files
from ..render.latex import LatexNotFound, compile_pdf
from .config import Job
from .outputs import FILENAMES

Update = Callable[[str, int, int], None]


def build_files(d: Derivation, proof: Proof, job: Job,
                update: Update | None = None) -> tuple[dict[str, bytes], list[str]]:
    """The bytes of every requested output, and notes on anything skipped."""
    files: dict[str, bytes] = {}
    notes: list[str] = []
    needs_document = {"tex", "md", "pdf"} & set(job.formats)
    doc = build(d, proof, timings=job.timings, title=job.title) if needs_document else None
    tex = None
    for done, fmt in enumerate(job.formats):
        if update:
            update(fmt, done, len(job.formats))
        if fmt in ("tex", "pdf") and tex is None and doc is not None:
            tex = render_document(doc, "tex")
        if fmt == "tex" and tex is not None:
            files[FILENAMES["tex"]] = tex.encode()
        elif fmt == "md" and doc is not None:
            files[FILENAMES["md"]] = render_document(doc, "md").encode()
        elif fmt == "json":
            files[FILENAMES["json"]] = proof.to_json().encode()
        elif fmt == "pdf" and tex is not None:
            try:
                files[FILENAMES["pdf"]] = compile_pdf(tex)
            except LatexNotFound as missing:
                notes.append(str(missing))
        elif fmt == "figures":  # graph.tex, graph.svg, swell.svg: derivation.md shows the SVGs
            files.update({name: text.encode() for name, text in figure_files(d).items()})
        elif fmt in ("py", "numba"):
            source = module_source if fmt == "py" else numba_module_source
            try:
                files[FILENAMES[fmt]] = source(d).encode()
            except ValueError as error:  # e.g. the generic σ, which has no numeric form
                notes.append(f"no {FILENAMES[fmt]}: {error}")
    if update:
        update("done", len(job.formats), len(job.formats))
    return files, notes

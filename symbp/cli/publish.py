"""What ``symbp derive`` writes: every requested output, produced in memory.

Nothing here touches the output folder; ``outputs.commit`` does that once all
files exist, so a failure or an interruption on the way loses nothing.
"""

from __future__ import annotations

from .config import Job
from ..core.derivation import Derivation
from ..document.figures import figure_files
from .outputs import FILENAMES, proof_json
from ..proof.prove import Proof
from ..render.documents import LatexNotFound, compile_pdf, render


def build_files(d: Derivation, proof: Proof, job: Job, update=None) -> tuple[dict, list[str]]:
    """The bytes of every requested output, and notes on anything skipped."""
    files: dict[str, bytes] = {}
    notes: list[str] = []
    tex = None
    for done, fmt in enumerate(job.formats):
        if update:
            update(fmt, done, len(job.formats))
        if fmt in ("tex", "pdf") and tex is None:
            tex = render(d, "tex", proof, timings=job.timings, title=job.title)
        if fmt == "tex":
            files[FILENAMES["tex"]] = tex.encode()
        elif fmt == "md":
            md = render(d, "md", proof, timings=job.timings, title=job.title)
            files[FILENAMES["md"]] = md.encode()
        elif fmt == "json":
            files[FILENAMES["json"]] = proof_json(proof).encode()
        elif fmt == "pdf":
            try:
                files[FILENAMES["pdf"]] = compile_pdf(tex)
            except LatexNotFound as missing:
                notes.append(str(missing))
        elif fmt == "figures":  # graph.tex, graph.svg, swell.svg: derivation.md shows the SVGs
            files.update({name: text.encode() for name, text in figure_files(d).items()})
        elif fmt == "py":
            code, note = _module(d)
            if note:
                notes.append(note)
            else:
                files[FILENAMES["py"]] = code.encode()
    if update:
        update("done", len(job.formats), len(job.formats))
    return files, notes


def _module(d: Derivation) -> tuple[str | None, str | None]:
    from ..numeric.codegen import module_source

    try:
        return module_source(d), None
    except ValueError as error:  # e.g. the generic σ, which has no numeric form
        return None, f"no gradients.py: {error}"

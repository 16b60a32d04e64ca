"""The matrix-calculus chapter, laid out by its templates as .tex or .md.

Like ``render.documents``: it is handed the chapter's plain data and never runs a proof.
"""

from __future__ import annotations

import re

from ..core.derivation import Derivation
from ..document.matrix import MatrixChapter, matrix_chapter
from .environment import environment
from .latex import LatexNotFound, compile_pdf

FORMATS = ("tex", "md")


def render_matrix(chapter: MatrixChapter, fmt: str = "tex") -> str:
    """The matrix chapter as LaTeX (``fmt="tex"``) or Markdown (``"md"``)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    if not isinstance(chapter, MatrixChapter):
        raise TypeError(f"render_matrix() needs a MatrixChapter, got {type(chapter).__name__}")
    text = environment().get_template(f"matrix.{fmt}.j2").render(doc=chapter, fmt=fmt)
    return re.sub(r"\n{3,}", "\n\n", text)


def matrix_files(d: Derivation, stem: str = "matrix",
                 notes: list[str] | None = None) -> dict[str, bytes]:
    """``{stem}.tex``, ``{stem}.md`` and ``{stem}.pdf`` of ``d``'s matrix chapter, in memory.

    Without pdflatex the PDF is left out and the reason is added to ``notes`` (once).
    """
    chapter = matrix_chapter(d)
    tex = render_matrix(chapter, "tex")
    files = {f"{stem}.tex": tex.encode(), f"{stem}.md": render_matrix(chapter, "md").encode()}
    try:
        files[f"{stem}.pdf"] = compile_pdf(tex)
    except LatexNotFound as missing:  # one note for every PDF that pdflatex would have made
        if notes is not None and str(missing) not in notes:
            notes.append(str(missing))
    return files

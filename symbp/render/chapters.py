"""The matrix-calculus chapter, laid out by its templates as .tex or .md.

Like ``render.documents``: it is handed the chapter's plain data and never runs a proof.
"""

from __future__ import annotations

import re

from ..document.matrix import MatrixChapter
from .environment import environment

FORMATS = ("tex", "md")


def render_matrix(chapter: MatrixChapter, fmt: str = "tex") -> str:
    """The matrix chapter as LaTeX (``fmt="tex"``) or Markdown (``"md"``)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    if not isinstance(chapter, MatrixChapter):
        raise TypeError(f"render_matrix() needs a MatrixChapter, got {type(chapter).__name__}")
    text = environment().get_template(f"matrix.{fmt}.j2").render(doc=chapter, fmt=fmt)
    return re.sub(r"\n{3,}", "\n\n", text)

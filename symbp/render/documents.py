"""The documents: a ``Document`` (the derivation) or a ``MatrixChapter`` (its sequel), plain
data laid out by the templates as .tex or .md.

A renderer is handed a document built from a derivation and its proof; it never
runs a proof. ``symbp.render`` (the package's top level) is the convenience that
proves first when no proof is given.
"""

from __future__ import annotations

import re

from ..document.build import Document
from ..document.matrix import MatrixChapter
from .environment import environment, plain_line

FORMATS = ("tex", "md")
# TeX's specials in a PDF string (hyperref's pdftitle): Unicode letters pass as they are
_PDF_ESCAPES = {"\\": r"\textbackslash{}", "#": r"\#", "$": r"\$", "%": r"\%", "&": r"\&",
                "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                "^": r"\textasciicircum{}"}


def pdf_text(text: str) -> str:
    """Plain text for a PDF metadata field, on one line, TeX's special characters escaped."""
    return "".join(_PDF_ESCAPES.get(c, c) for c in plain_line(text))


def render_document(doc: Document, fmt: str = "tex") -> str:
    """``doc`` as LaTeX (``fmt="tex"``) or Markdown (``"md"``)."""
    if not isinstance(doc, Document):
        raise TypeError(f"render_document() needs a Document, got {type(doc).__name__}")
    pdf = {"title": pdf_text(doc.title), "subject": pdf_text(doc.subject)}
    return _lay_out("derivation", doc, fmt, pdf=pdf)


def render_matrix(chapter: MatrixChapter, fmt: str = "tex") -> str:
    """The matrix-calculus chapter as LaTeX (``fmt="tex"``) or Markdown (``"md"``)."""
    if not isinstance(chapter, MatrixChapter):
        raise TypeError(f"render_matrix() needs a MatrixChapter, got {type(chapter).__name__}")
    return _lay_out("matrix", chapter, fmt)


def _lay_out(template: str, doc: object, fmt: str, **extra: object) -> str:
    """One document through ``{template}.{fmt}.j2``, tidied the same way for every document."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    text = environment().get_template(f"{template}.{fmt}.j2").render(doc=doc, fmt=fmt, **extra)
    text = re.sub(r"\n{3,}", "\n\n", text)  # optional parts leave runs of blank lines
    return _display_math_safe(text) if fmt == "md" else text


def _display_math_safe(md: str) -> str:
    """No line of a $$ block begins with "- " or "+ ": a Markdown renderer would start a list.

    TeX ignores the space, so "-\\frac" reads as "- \\frac" did.
    """
    def block(match: re.Match) -> str:
        return _LIST_MARKER.sub(r"\1\2", match.group(0))

    return re.sub(r"^\$\$\n.*?\n\$\$$", block, md, flags=re.S | re.M)


_LIST_MARKER = re.compile(r"^(\s*)([-+*]) +", re.M)

"""Derivation documents: one ``Document`` (plain data) laid out by the templates as .tex or .md.

A renderer is handed a document built from a derivation and its proof; it never
runs a proof. ``symbp.render`` (the package's top level) is the convenience that
proves first when no proof is given.
"""

from __future__ import annotations

import re

from ..document.build import Document
from .environment import environment

FORMATS = ("tex", "md")
# TeX's specials in a PDF string (hyperref's pdftitle): Unicode letters pass as they are
_PDF_ESCAPES = {"\\": r"\textbackslash{}", "#": r"\#", "$": r"\$", "%": r"\%", "&": r"\&",
                "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                "^": r"\textasciicircum{}"}


def pdf_text(text: str) -> str:
    """Plain text for a PDF metadata field, TeX's special characters escaped."""
    return "".join(_PDF_ESCAPES.get(c, c) for c in text)


def render_document(doc: Document, fmt: str = "tex") -> str:
    """``doc`` as LaTeX (``fmt="tex"``) or Markdown (``"md"``)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    if not isinstance(doc, Document):
        raise TypeError(f"render_document() needs a Document, got {type(doc).__name__}")
    pdf = {"title": pdf_text(doc.title), "subject": pdf_text(doc.subject)}
    text = environment().get_template(f"derivation.{fmt}.j2").render(doc=doc, fmt=fmt, pdf=pdf)
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

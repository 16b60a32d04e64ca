"""The derivation as a Beamer deck (slides.tex): the same Document as the other formats, laid
out by templates/slides/slides.tex.j2, one step per frame."""

from __future__ import annotations

from ..document.build import Document
from .documents import pdf_text
from .environment import environment


def render_slides(doc: Document) -> str:
    """``doc`` as a Beamer deck, for pdflatex."""
    if not isinstance(doc, Document):
        raise TypeError(f"render_slides() needs a Document, got {type(doc).__name__}")
    return environment().get_template("slides/slides.tex.j2").render(
        doc=doc, fmt="tex", pdf={"title": pdf_text(doc.title)})

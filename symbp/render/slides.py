"""The derivation as a Beamer deck (slides.tex): the same Document as the other formats, laid
out by templates/slides/slides.tex.j2 (dense layers) or kinds.tex.j2 (layer kinds), one step per
frame."""

from __future__ import annotations

from ..document.build import Document
from ..document.kinds import KindsDocument
from .documents import pdf_text
from .environment import environment


def render_slides(doc: Document | KindsDocument) -> str:
    """``doc`` as a Beamer deck, for pdflatex."""
    if not isinstance(doc, Document | KindsDocument):
        raise TypeError(f"render_slides() needs a Document, got {type(doc).__name__}")
    deck = "slides.tex.j2" if isinstance(doc, Document) else "kinds.tex.j2"
    return environment().get_template(f"slides/{deck}").render(
        doc=doc, fmt="tex", pdf={"title": pdf_text(doc.title)})

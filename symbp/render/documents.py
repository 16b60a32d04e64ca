"""The documents: a ``Document`` (the derivation), a ``MatrixChapter`` (its sequel) or a
``SecondOrderChapter`` (the chapter after the gradient), plain data laid out by the templates
as LaTeX, Markdown or a web page.

A renderer is handed a document built from a derivation and its proof; it never
runs a proof. ``symbp.render`` (the package's top level) is the convenience that
proves first when no proof is given. Each format has its folder of templates
(``templates/tex``, ``md``, ``html``) around the shared sections (``templates/sections``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..document.build import Document
from ..document.kinds import KindsDocument
from ..document.kinds_matrix import KindsMatrixChapter
from ..document.kinds_second_order import KindsSecondOrderChapter
from ..document.matrix import MatrixChapter
from ..document.second_order import SecondOrderChapter
from .environment import environment, plain_line
from .html import finish_html
from .markdown import github_math

TEXT_FORMATS = ("tex", "md", "html")  # the formats laid out by the shared sections
# TeX's specials in a PDF string (hyperref's pdftitle): Unicode letters pass as they are
_PDF_ESCAPES = {"\\": r"\textbackslash{}", "#": r"\#", "$": r"\$", "%": r"\%", "&": r"\&",
                "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                "^": r"\textasciicircum{}"}


def pdf_text(text: str) -> str:
    """Plain text for a PDF metadata field, on one line, TeX's special characters escaped."""
    return "".join(_PDF_ESCAPES.get(c, c) for c in plain_line(text))


def render_document(doc: Document | KindsDocument, fmt: str = "tex", *,
                    images: Mapping[str, str] | None = None, github: bool = True) -> str:
    """``doc`` as LaTeX (``fmt="tex"``), Markdown (``"md"``) or one web page (``"html"``,
    with ``images``, the SVG text of each figure file, set inline).

    Markdown carries its math in GitHub's forms unless ``github`` is False: then as ``$...$``
    and ``$$`` blocks, for Jupyter and MathJax, which read the math before the Markdown.
    """
    if not isinstance(doc, Document | KindsDocument):
        raise TypeError(f"render_document() needs a Document, got {type(doc).__name__}")
    pdf = {"title": pdf_text(doc.title), "subject": pdf_text(doc.subject)}
    template = "derivation" if isinstance(doc, Document) else "kinds"  # layer kinds: their own
    return _lay_out(template, doc, fmt, github, pdf=pdf, images=dict(images or {}))


def render_matrix(chapter: MatrixChapter | KindsMatrixChapter, fmt: str = "tex", *,
                  github: bool = True) -> str:
    """The matrix-calculus chapter as LaTeX (``fmt="tex"``), Markdown (``"md"``) or a web page
    (``"html"``): dense layers' or, for a network of layer kinds, layer by layer."""
    if not isinstance(chapter, MatrixChapter | KindsMatrixChapter):
        raise TypeError(f"render_matrix() needs a MatrixChapter, got {type(chapter).__name__}")
    template = "matrix" if isinstance(chapter, MatrixChapter) else "kinds_matrix"
    return _lay_out(template, chapter, fmt, github, images={})


def render_second_order(chapter: SecondOrderChapter | KindsSecondOrderChapter,
                        fmt: str = "tex", *, github: bool = True) -> str:
    """The chapter "Second order" as LaTeX (``fmt="tex"``), Markdown (``"md"``) or a web page
    (``"html"``): dense layers' or, for a network of layer kinds, over its graph."""
    if not isinstance(chapter, SecondOrderChapter | KindsSecondOrderChapter):
        raise TypeError(f"render_second_order() needs a SecondOrderChapter, got "
                        f"{type(chapter).__name__}")
    template = "second_order" if isinstance(chapter, SecondOrderChapter) else \
        "kinds_second_order"
    return _lay_out(template, chapter, fmt, github, images={})


def _lay_out(template: str, doc: object, fmt: str, github: bool, *, images: dict[str, str],
             **extra: object) -> str:
    """One document through ``{fmt}/{template}.{fmt}.j2``, tidied the same way for every one."""
    if fmt not in TEXT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of: {', '.join(TEXT_FORMATS)}")
    text = environment().get_template(f"{fmt}/{template}.{fmt}.j2").render(
        doc=doc, fmt=fmt, images=images, **extra)
    text = re.sub(r"\n{3,}", "\n\n", text)  # optional parts leave runs of blank lines
    if fmt == "md":
        return github_math(text) if github else _display_math_safe(text)
    if fmt == "html":
        return finish_html(text, images)
    return text


def _display_math_safe(md: str) -> str:
    """No line of a $$ block begins with "- " or "+ ": a Markdown renderer would start a list.

    TeX ignores the space, so "-\\frac" reads as "- \\frac" did.
    """
    def block(match: re.Match) -> str:
        return _LIST_MARKER.sub(r"\1\2", match.group(0))

    return re.sub(r"^\$\$\n.*?\n\$\$$", block, md, flags=re.S | re.M)


_LIST_MARKER = re.compile(r"^(\s*)([-+*]) +", re.M)

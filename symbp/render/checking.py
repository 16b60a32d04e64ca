"""The files of ``symbp check --out DIR``: the report as Markdown, PDF and JSON.

The report is ``symbp.document.claimed_report``'s plain data laid out by ``check.md.j2`` and
``check.tex.j2``, as the training report is.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..document.claimed_report import CheckDocument
from ..document.verdicts import Report
from .documents import pdf_text
from .environment import environment
from .latex import DEFAULT_TIMEOUT, compile_pdf

FILES = ("check.md", "check.pdf", "check.json")


def render_check(doc: CheckDocument, fmt: str = "md") -> str:
    """The report as Markdown (``fmt="md"``) or LaTeX (``"tex"``)."""
    if fmt not in ("md", "tex"):
        raise ValueError(f"unknown format {fmt!r}; choose one of: md, tex")
    pdf = {"title": pdf_text(doc.title), "subject": pdf_text(doc.subject)}
    return environment().get_template(f"{fmt}/check.{fmt}.j2").render(doc=doc, pdf=pdf)


def check_files(doc: CheckDocument, report: Report, *, pdf: bool = True,
                workdir: Path | None = None,
                timeout: float = DEFAULT_TIMEOUT) -> dict[str, bytes]:
    """Every file of the report, by name (``check.pdf`` only with ``pdf``)."""
    files = {"check.md": render_check(doc, "md").encode(),
             "check.json": (json.dumps(report.to_dict(), indent=2, ensure_ascii=False)
                            + "\n").encode()}
    if pdf:
        files["check.pdf"] = compile_pdf(render_check(doc, "tex"), timeout=timeout,
                                         workdir=workdir)
    return files

"""Derivation documents: Jinja templates → .tex / .md, and pdflatex → .pdf.

One Jinja Environment with LaTeX-safe delimiters (``\\BLOCK{ }``, ``\\VAR{ }``,
``\\#{ }``) serves both formats. Templates receive only the plain data built by
``symbp.document``; the filters here only escape and format. Templates come from the
top-level ``templates/`` folder of a checkout, or from ``symbp/templates`` in an
installed wheel (pyproject force-includes the folder there).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2

from ..core.derivation import Derivation
from ..document.build import backprop_summary, build
from ..proof.prove import Proof, prove

FORMATS = ("tex", "md")
PACKAGE = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = (PACKAGE / "templates", PACKAGE.parent / "templates")
LATEX_RUNS = 3  # pdflatex passes at most; one is enough unless the log asks for a rerun


class LatexNotFound(RuntimeError):
    """No pdflatex on PATH."""


class LatexError(RuntimeError):
    """pdflatex failed; the message is the error excerpt of its log, not the whole log."""


# ---------------------------------------------------------------- escaping

# ~ and ^ as OT1 accents: \textasciitilde would pull in a TS1 font, a bitmap without cm-super
_TEX_ESCAPES = {
    "\\": r"\textbackslash{}", "#": r"\#", "$": r"\$", "%": r"\%", "&": r"\&", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\~{}", "^": r"\^{}",
    # the registry's plain text may hold a little Unicode math, which pdflatex cannot typeset
    "σ": r"$\sigma$", "δ": r"$\delta$", "η": r"$\eta$", "∂": r"$\partial$", "⊙": r"$\odot$",
    "≤": r"$\le$", "≥": r"$\ge$", "≠": r"$\ne$", "×": r"$\times$", "−": "-", "′": "'",
    "·": r"$\cdot$", "→": r"$\to$", "←": r"$\leftarrow$", "Σ": r"$\Sigma$", "ᵀ": r"$^{T}$",
}
_MARKDOWN_SPECIAL = set("\\`*_[]<>|#$")


def escape_tex(text: object) -> str:
    """Plain text made safe for LaTeX: ``# $ % & _ { } ~ ^ \\`` print as themselves.

    A few Unicode math signs (σ, δ, ⊙, ≤, ...) become their math-mode LaTeX.
    """
    return "".join(_TEX_ESCAPES.get(c, c) for c in str(text))


def escape_tex_breakable(text: object) -> str:
    """``escape_tex`` for long machine text (a residual): line breaks allowed after * ( , and /."""
    out = escape_tex(text)
    for mark in "*(,/":
        out = out.replace(mark, mark + r"\allowbreak{}")
    return out


def tex_display(body: str) -> str:
    """A display for LaTeX; a lone ``aligned`` block becomes ``alignat*``, which may break pages.

    ``alignat*`` adds no space between column pairs, so it sets the rows as ``aligned`` would.
    """
    body = body.strip()
    begin, end = "\\begin{aligned}", "\\end{aligned}"
    if body.startswith(begin) and body.endswith(end) and body.count(begin) == 1:
        inner = body[len(begin):-len(end)].strip()
        pairs = max(row.count("&") // 2 + 1 for row in inner.split("\\\\"))
        return f"\\begin{{alignat*}}{{{pairs}}}\n{inner}\n\\end{{alignat*}}"
    return "\\[\n" + body + "\n\\]"


def escape_md(text: object) -> str:
    """Plain text made safe for Markdown: characters with a markup meaning are backslashed."""
    return "".join("\\" + c if c in _MARKDOWN_SPECIAL else c for c in str(text))


# ---------------------------------------------------------------- templates


def template_dir() -> Path:
    """The templates folder: inside the package (installed wheel) or next to it (checkout)."""
    for folder in TEMPLATE_DIRS:
        if (folder / "derivation.tex.j2").is_file():
            return folder
    raise FileNotFoundError(
        "symbp templates not found; looked in " + ", ".join(str(f) for f in TEMPLATE_DIRS))


@cache
def environment() -> jinja2.Environment:
    """The one Jinja Environment: LaTeX-safe delimiters, strict about missing values."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir()),
        block_start_string=r"\BLOCK{", block_end_string="}",
        variable_start_string=r"\VAR{", variable_end_string="}",
        comment_start_string=r"\#{", comment_end_string="}",
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        autoescape=False, undefined=jinja2.StrictUndefined,
    )
    env.filters["escape_tex"] = escape_tex
    env.filters["escape_md"] = escape_md
    env.filters["tex_display"] = tex_display
    env.filters["escape_tex_breakable"] = escape_tex_breakable
    return env


def render(d: Derivation, fmt: str = "tex", proof: Proof | None = None, *,
           timings: bool = False, title: str | None = None) -> str:
    """The derivation document of ``d`` as LaTeX (``fmt="tex"``) or Markdown (``"md"``).

    ``proof`` defaults to ``prove(d)``; ``title`` (plain text, escaped here)
    replaces the default title. Without ``timings`` the text depends only on
    the network, so repeated renders are byte-identical.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    if not isinstance(d, Derivation):
        raise ValueError(f"render() needs a symbp.Derivation, got {type(d).__name__}")
    if proof is None:
        proof = prove(d)
    doc = build(d, proof, timings=timings, title=title)
    text = environment().get_template(f"derivation.{fmt}.j2").render(doc=doc, fmt=fmt)
    return re.sub(r"\n{3,}", "\n\n", text)  # optional parts leave runs of blank lines


# ---------------------------------------------------------------- notebooks


def repr_markdown(d: Derivation) -> str:
    """The Markdown document, for ``Derivation._repr_markdown_`` (runs the proof)."""
    return render(d, "md")


def repr_latex(d: Derivation) -> str:
    """The backward pass as vector-Jacobian products, for ``Derivation._repr_latex_`` (cheap)."""
    return "$$\n" + backprop_summary(d) + "\n$$"


# ---------------------------------------------------------------- PDF


@dataclass(frozen=True)
class Compiled:
    """A compiled document: the PDF bytes and the log of the last pdflatex pass."""

    pdf: bytes
    log: str

    @property
    def overfull(self) -> list[str]:
        """The log's "Overfull \\hbox" warnings: lines that run into the margin."""
        return [line for line in self.log.splitlines() if line.startswith("Overfull \\hbox")]


MISSING_PDFLATEX = ("pdflatex was not found, so no PDF; install TeX Live "
                    "(Debian: apt-get install texlive-latex-recommended)")


def missing_compiler_note() -> str | None:
    """None when pdflatex is on PATH, else what to install (checked before any work)."""
    return None if shutil.which("pdflatex") else MISSING_PDFLATEX


def compile_pdf(tex: str, *, timeout: float = 120.0) -> bytes:
    """Compile a LaTeX document with pdflatex and return the PDF bytes (see ``compile_tex``)."""
    return compile_tex(tex, timeout=timeout).pdf


def compile_tex(tex: str, *, timeout: float = 120.0) -> Compiled:
    """Compile a LaTeX document with pdflatex in a temporary folder.

    Raises LatexNotFound without pdflatex on PATH, LatexError (with a short log
    excerpt) when compilation fails. Dates and the PDF ID are pinned through
    SOURCE_DATE_EPOCH, so the same .tex gives the same bytes.
    """
    exe = shutil.which("pdflatex")
    if exe is None:
        raise LatexNotFound(MISSING_PDFLATEX)
    env = {**os.environ, "SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1"}
    with tempfile.TemporaryDirectory(prefix="symbp-latex-") as tmp:
        folder = Path(tmp)
        (folder / "derivation.tex").write_text(tex, encoding="utf-8")
        for _ in range(LATEX_RUNS):
            log = _run_pdflatex(exe, folder, env, timeout)
            if "Rerun to get" not in log and "Label(s) may have changed" not in log:
                break
        return Compiled((folder / "derivation.pdf").read_bytes(), log)


def _run_pdflatex(exe: str, folder: Path, env: dict, timeout: float) -> str:
    command = [exe, "-interaction=nonstopmode", "-halt-on-error", "derivation.tex"]
    try:
        result = subprocess.run(command, cwd=folder, env=env, stdin=subprocess.DEVNULL,
                                capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise LatexError(f"pdflatex did not finish within {timeout:g} s") from None
    log_file = folder / "derivation.log"
    log = (log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists()
           else result.stdout.decode(errors="replace"))
    if result.returncode != 0 or not (folder / "derivation.pdf").exists():
        raise LatexError(log_excerpt(log))
    return log


def log_excerpt(log: str, limit: int = 12) -> str:
    """The first ``!`` error of a TeX log and the lines that locate it (through ``l.<n>``)."""
    lines = log.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("!")), None)
    if start is None:  # no error line: the end of the log says what happened
        return "pdflatex failed:\n" + "\n".join(lines[-limit:])
    end = min(start + limit, len(lines))
    for i in range(start + 1, end):
        if lines[i].startswith("l."):  # the source line; the next one shows where TeX stopped
            end = min(i + 2, end)
            break
    return "pdflatex failed:\n" + "\n".join(line for line in lines[start:end] if line.strip())

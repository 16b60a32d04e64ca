"""The one Jinja environment and its filters: a leaf that every template user shares.

LaTeX-safe delimiters (``\\BLOCK{ }``, ``\\VAR{ }``, and comments ``\\#{ ... }#``) serve
both formats; ``StrictUndefined`` makes a missing value fail loudly. Templates come
from the top-level ``templates/`` folder of a checkout, or from ``symbp/templates``
in an installed wheel (pyproject force-includes the folder there). Filters only
escape and format.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

PACKAGE = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = (PACKAGE / "templates", PACKAGE.parent / "templates")

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
        comment_start_string=r"\#{", comment_end_string="}#",
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        autoescape=False, undefined=jinja2.StrictUndefined,
    )
    env.filters["escape_tex"] = escape_tex
    env.filters["escape_md"] = escape_md
    env.filters["tex_display"] = tex_display
    env.filters["escape_tex_breakable"] = escape_tex_breakable
    return env

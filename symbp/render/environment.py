"""The one Jinja environment and its filters: a leaf that every template user shares.

LaTeX-safe delimiters (``\\BLOCK{ }``, ``\\VAR{ }``, and comments ``\\#{ ... }#``) serve
both formats; ``StrictUndefined`` makes a missing value fail loudly. Templates come
from the top-level ``templates/`` folder of a checkout, or from ``symbp/templates``
in an installed wheel (pyproject force-includes the folder there). Filters only
escape and format.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from itertools import groupby, pairwise
from pathlib import Path

import jinja2

from .html import escape_html, mathml, slug

PACKAGE = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = (PACKAGE / "templates", PACKAGE.parent / "templates")

# ---------------------------------------------------------------- escaping

# ~ and ^ as OT1 accents: \textasciitilde would pull in a TS1 font, a bitmap without cm-super;
# for the same reason " is the typewriter font's straight quote, not T1's \textquotedbl
_TEX_ESCAPES = {
    "\\": r"\textbackslash{}", "#": r"\#", "%": r"\%", "&": r"\&", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\~{}", "^": r"\^{}",
    # in OT1 text fonts these slots hold ¡ ¿ — ”: take them from the math and typewriter fonts
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", '"': r"{\ttfamily\char34}",
    "$": r"{\upshape\char36}",  # \$ would draw it from a bitmap (Type 3) font
    "\u00a0": "~", "–": "--", "—": "---", "‘": "`", "’": "'", "“": "``", "”": "''",
    "…": r"\ldots{}",
    # the registry's plain text may hold a little Unicode math, which pdflatex cannot typeset
    "σ": r"$\sigma$", "δ": r"$\delta$", "η": r"$\eta$", "∂": r"$\partial$", "⊙": r"$\odot$",
    "≤": r"$\le$", "≥": r"$\ge$", "≠": r"$\ne$", "×": r"$\times$", "−": "-", "′": "'",
    "·": r"$\cdot$", "→": r"$\to$", "←": r"$\leftarrow$", "Σ": r"$\Sigma$", "ᵀ": r"$^{T}$",
}
_GREEK = ("alpha beta gamma epsilon zeta theta iota kappa lambda mu nu xi pi rho tau upsilon "
          "phi chi psi omega Gamma Delta Theta Lambda Xi Pi Phi Psi Omega")
_TEX_ESCAPES.update({  # the rest of the Greek alphabet, as math
    letter: f"$\\{name}$" for letter, name in zip("αβγεζθικλμνξπρτυφχψωΓΔΘΛΞΠΦΨΩ", _GREEK.split())
})
# Letters pdflatex sets with its default UTF-8 input and OT1 fonts, each checked by compiling
# it (tests/test_titles.py); anything else outside ASCII gets a visible fallback, [U+XXXX]
_TEX_LETTERS = frozenset(
    "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĆćĈĉĊċČčĎďĒēĔĕĖėĚěĜĝĞğĠġĢģĤĥ"
    "ĨĩĪīĬĭİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŴŵŶŷŸŹźŻżŽžǍǎǏǐǑǒǓǔǦǧǨǩǰǴǵȘșȚț"
    "ȲȳßæÆøØœŒıŁłĲĳ¡¿"
)
_LIGATURES = ("''", "--")  # pairs of separate characters that pdflatex would join into ” or –
_LINE_BREAKS = "\t\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_MARKDOWN_SPECIAL = set("\\`*_[]<>|#$")


def plain_line(text: object) -> str:
    """``text`` as one line of plain text: NFC, line breaks as spaces, control characters gone.

    Control and format characters (NUL, DEL, bidi overrides, ...) carry no text of their
    own and could change how the rest reads, so they are dropped.
    """
    out = []
    for c in unicodedata.normalize("NFC", str(text)):
        if c in _LINE_BREAKS:
            out.append(" ")
        elif unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn"):
            out.append(c)
    return "".join(out)


def _settable(c: str) -> bool:
    return c in _TEX_ESCAPES or " " <= c <= "~" or c in _TEX_LETTERS


def unsettable(text: object) -> list[str]:
    """The characters of ``text`` that pdflatex cannot set, so ``escape_tex`` shows [U+XXXX]."""
    return list(dict.fromkeys(c for c in plain_line(text) if not _settable(c)))


def escape_tex(text: object) -> str:
    """Plain text made safe for LaTeX: ``# $ % & _ { } ~ ^ \\ < > | "`` print as themselves.

    Text becomes one line (``plain_line``). A few Unicode math signs (σ, δ, ⊙, ≤, ...) and
    Greek letters become their math-mode LaTeX; accented Latin letters pass through; any other
    character pdflatex cannot set (emoji, CJK, Hebrew, ...) is shown by its code, [U+1F600].
    """
    out = []
    for settable, run in groupby(plain_line(text), key=_settable):
        if settable:
            pieces = [_TEX_ESCAPES.get(c, c) for c in run]
            for i, (piece, after) in enumerate(pairwise(pieces)):
                if piece[-1:] + after[:1] in _LIGATURES:  # σ'' stays two primes, not ”
                    pieces[i] = piece + "{}"
            out += pieces
        else:
            out.append(r"\texttt{[" + " ".join(f"U+{ord(c):04X}" for c in run) + "]}")
    return "".join(out)


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
    """Plain text made safe for Markdown: one line (``plain_line``), so it cannot start a
    heading or a list, and characters with a markup meaning backslashed."""
    return "".join("\\" + c if c in _MARKDOWN_SPECIAL else c for c in plain_line(text))


# ---------------------------------------------------------------- templates


def template_dir() -> Path:
    """The templates folder: inside the package (installed wheel) or next to it (checkout)."""
    for folder in TEMPLATE_DIRS:
        if (folder / "tex" / "derivation.tex.j2").is_file():
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
    env.filters["escape_html"] = escape_html
    env.filters["capitalize_first"] = lambda text: text[:1].upper() + text[1:]
    env.filters["html_slug"] = slug
    env.filters["mathml_display"] = lambda tex: mathml(tex, display=True)
    return env

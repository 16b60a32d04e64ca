"""The one LaTeX printer: SymPy expressions to plain LaTeX strings that fit on a page.

Symbols print through the derivation's name map (``w^{(2)}_{13}``). Three rules
keep large networks readable:

- a long sum *inside* an entry shows its pattern: first terms, ``\\cdots``, last term;
- a matrix shows as many rows and columns as fit, ``\\cdots``/``\\vdots``/``\\ddots``
  standing in for the rest;
- a long top-level sum breaks over the lines of an ``aligned`` block.

The same strings go into the .tex and the .md documents, so they use only what
both LaTeX and GitHub's MathJax understand (``bmatrix``, ``aligned``,
``\\operatorname``). Widths are estimated (``width``) rather than measured;
``LINE`` is calibrated so that pdflatex reports no overfull line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

import sympy as sp
from sympy.printing.latex import LatexPrinter

from .width import BRACKETS, COLUMN_GAP, COMMANDS, RELATION, matrix_width, width

# pt for one display line: \textwidth is 455 pt (11pt, A4, 2.5 cm margins); width() errs by ~7 %
LINE = 420.0
MAX_ROWS = 8  # rows of a matrix shown before \vdots
MAX_COLS = 8  # columns shown before \cdots, whatever the width
MAX_TERMS = 4  # terms of a sum inside an entry shown before \cdots
_FLAT_PARENTHESES = re.compile(r"\\left\(((?:(?!\\left\(|\\right\)|\\frac).)*?)\\right\)")
_INDEX = re.compile(r"\d+")
_TWO_DIGITS = re.compile(r"\d\d")
CONTINUE = r"\qquad"  # starts a continuation row of a long sum: past the relation's width
_REST = r"\qquad "  # starts the rest of a product too long for one row, after CONTINUE


class _ElidingLatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer, except that a sum of many terms prints as its pattern.

    Parentheses without a fraction inside are ``\\bigl( \\bigr)``: ``\\left(`` would grow
    them to the full height of the layer superscripts in ``\\sigma'(z^{(3)}_{1})``.
    """

    _default_settings: ClassVar[dict] = {**LatexPrinter._default_settings, "max_terms": MAX_TERMS}

    def doprint(self, expr) -> str:
        tex, previous = super().doprint(expr), None
        while tex != previous:  # innermost pairs first
            previous, tex = tex, _FLAT_PARENTHESES.sub(r"\\bigl(\1\\bigr)", tex)
        return tex

    def _as_ordered_terms(self, expr, order=None):
        """SymPy's order, except that terms of one shape follow their indices as numbers.

        SymPy compares symbol names as strings, so δ_10 w_10,1 would come between δ_1 w_1,1
        and δ_2 w_2,1. Terms that differ only in their indices trade places among themselves
        to run 1, 2, ..., 10; every other term keeps its place.
        """
        terms = super()._as_ordered_terms(expr, order=order)
        if self._settings["order"] == "none" or order == "none" or \
                not _TWO_DIGITS.search(str(expr)):
            return terms  # every index has one digit: string order is number order
        shapes: dict[str, list[int]] = {}
        for n, term in enumerate(terms):
            shapes.setdefault(_INDEX.sub("#", str(term)), []).append(n)
        ordered = list(terms)
        for places in shapes.values():
            by_number = sorted((terms[n] for n in places), key=_natural)
            for n, term in zip(places, by_number):
                ordered[n] = term
        return ordered

    def _print_Add(self, expr, order=None):
        terms = self._as_ordered_terms(expr, order=order)
        limit = self._settings["max_terms"]
        if len(terms) > limit:  # the index pattern is clear from first, second and last term
            terms = [*terms[: max(limit - 2, 1)], None, terms[-1]]
        tex = ""
        for i, term in enumerate(terms):
            if term is None:
                tex += r" + \cdots"
                continue
            if i > 0 and term.could_extract_minus_sign():
                tex += " - "
                term = -term
            elif i > 0:
                tex += " + "
            term_tex = self._print(term)
            if self._needs_add_brackets(term):
                term_tex = rf"\left({term_tex}\right)"
            tex += term_tex
        return tex


def _natural(term) -> list:
    """A term's text as words and numbers, for sorting: delta2_9 before delta2_10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(term))]


def _pick(n: int, limit: int) -> list[int | None]:
    """Indices 0..n-1 to show, None standing for the elided middle: [0, 1, ..., None, n-1]."""
    if n <= limit:
        return list(range(n))
    return [*range(limit - 2), None, n - 1]


# ---------------------------------------------------------------- the printer


class Printer:
    """Prints the expressions of one derivation; every string a document shows comes from here."""

    def __init__(self, names: dict[sp.Symbol, str], line: float = LINE, *,
                 ordered: bool = False):
        """``ordered``: an unevaluated product prints its factors in the order given, as
        diag(σ'(z)) W gives σ'(z_i) w_ik, rather than in SymPy's canonical order."""
        self.line = line
        settings = {"symbol_names": names, **({"order": "none"} if ordered else {})}
        self._latex = _ElidingLatexPrinter(settings)
        self._tight = _ElidingLatexPrinter({**settings, "max_terms": 3})

    def __call__(self, expr) -> str:
        """LaTeX of one expression; long inner sums show their pattern only."""
        return self._latex.doprint(expr)

    def terms(self, expr) -> list[str]:
        """The top-level terms of a sum, in printing order, each with its sign (``- t``)."""
        out = []
        for term in self._latex._as_ordered_terms(expr) if expr.is_Add else [expr]:
            sign = "- " if term.could_extract_minus_sign() else ""
            term = -term if sign else term
            tex = self(term)
            out.append(sign + (rf"\left({tex}\right)" if self._latex._needs_add_brackets(term)
                               else tex))
        return out

    # ------------------------------------------------------------ matrices

    def matrix(self, M: sp.MatrixBase, budget: float | None = None,
               max_rows: int = MAX_ROWS, max_cols: int = MAX_COLS,
               rows: list[int | None] | None = None) -> str:
        """``bmatrix`` of M with as many rows and columns as fit into ``budget``; ``rows``
        picks the rows to show (None standing for the elided ones), else the first and last."""
        return self.fitted(M, budget, max_rows, max_cols, rows)[0]

    def fitted(self, M: sp.MatrixBase, budget: float | None = None,
               max_rows: int = MAX_ROWS, max_cols: int = MAX_COLS,
               rows: list[int | None] | None = None) -> tuple[str, list[int | None]]:
        """``matrix``, and the columns it shows: a vector that M multiplies shows the same
        entries (``rows=``), so that an elided column of W_l is an elided entry of a_{l-1}."""
        budget = self.line if budget is None else budget
        rows = _pick(M.rows, max_rows) if rows is None else rows
        for printer in (self._latex, self._tight):  # second try: inner sums cut shorter
            cells = _Cells(M, rows, printer.doprint)
            for cols in _column_choices(M.cols, max_cols):
                if cells.width(cols) <= budget:
                    return cells.bmatrix(cols), cols
        return cells.bmatrix(cols), cols  # the narrowest form; still too wide, but complete

    def defined(self, lhs: str, M: sp.MatrixBase) -> str:
        """``lhs = M``: a matrix if it fits beside ``lhs``, else its entries one per line."""
        rows = self.defined_rows(lhs, M)
        return f"{lhs} = {rows[0][1]}" if len(rows) == 1 else aligned(rows)

    def defined_rows(self, lhs: str, M: sp.MatrixBase) -> list[tuple[str | None, str]]:
        """``defined`` as rows of an ``aligned`` block, to be combined with other rows."""
        tex = self.matrix(M, budget=self.room(lhs))
        if matrix_width(tex) <= self.room(lhs):
            return [(lhs, tex)]
        return self.entry_rows(lhs, M)

    def entry_rows(self, lhs: str, M: sp.MatrixBase, max_rows: int = 4,
                   max_cols: int = 3) -> list[tuple[str | None, str]]:
        """The entries ``[lhs]_{jk} = ...`` of a matrix too wide to show whole, one per row."""
        vector = M.cols == 1
        wide = max(M.shape) > 9
        rows: list[tuple[str | None, str]] = []
        for i in _pick(M.rows, MAX_ROWS if vector else max_rows):
            for j in _pick(M.cols, max_cols):
                if i is None or j is None:
                    if not rows or rows[-1][1] != r"\quad \vdots":
                        rows.append((None, r"\quad \vdots"))
                    continue
                pair = f"{i + 1},{j + 1}" if wide else f"{i + 1}{j + 1}"
                index = f"{i + 1}" if vector else pair
                rows += self.rows(rf"\left[{lhs}\right]_{{{index}}}", M[i, j])
        return rows

    def numbers(self, M: sp.MatrixBase, text, budget: float | None = None,
                max_rows: int = MAX_ROWS, max_cols: int = MAX_COLS) -> str:
        """``bmatrix`` of the numbers in M, each printed by ``text`` (a decimal string), with as
        many rows and columns as fit into ``budget``."""
        budget = self.line if budget is None else budget
        cells = _Cells(M, _pick(M.rows, max_rows), lambda v: number_latex(text(v)))
        for cols in _column_choices(M.cols, max_cols):
            if cells.width(cols) <= budget:
                break
        return cells.bmatrix(cols)

    def room(self, lhs: str) -> float:
        """Width left on a display line after ``lhs =``."""
        return self.line - width(lhs) - RELATION

    def diag(self, entries: Sequence, budget: float | None = None) -> str:
        r"""``\operatorname{diag}(e_1, ..., e_n)``, the middle entries elided if they do not fit."""
        budget = self.line if budget is None else budget
        printed = [self(e) for e in entries]
        for picked in _column_choices(len(printed), len(printed)):
            parts = [r"\dots" if i is None else printed[i] for i in picked]
            tex = r"\operatorname{diag}\bigl(" + ", ".join(parts) + r"\bigr)"
            if width(tex) <= budget:
                break
        return tex  # the narrowest form if none fits

    # ------------------------------------------------------------ long lines

    def rows(self, lhs: str, expr) -> list[tuple[str | None, str]]:
        """``lhs = expr`` as rows of an ``aligned`` block: one if it fits, else the sum broken."""
        rhs = self(expr)
        if width(lhs) + width(rhs) <= self.room("") or not isinstance(expr, sp.Add):
            return [(lhs, rhs)]
        return self.wrap(lhs, self.terms(expr))

    def wrap(self, lhs: str, terms: Sequence[str], more: int = 0) -> list[tuple[str | None, str]]:
        r"""``lhs = t_1 + t_2 + ...`` as rows, a new row where one is full.

        A continuation row starts with ``\qquad + ...``: indented past the relation, so
        that its sign never sits under the ``=``. ``terms`` carry their signs (``- t`` for a
        negative term); ``more`` terms that are not written out show as ``+ \cdots``. A
        product too long for one row breaks between its factors (written ``a \, b``), its
        rest indented once more.
        """
        first, indent = self.room(lhs), COMMANDS[CONTINUE]
        rows: list[str] = []
        row, used = "", 0.0

        def room() -> float:  # later rows start indented, the rest of a long product more so
            return first - (indent if rows else 0.0) - (indent if row.startswith(_REST) else 0.0)

        for n, term in enumerate([*terms, *([r"\cdots"] if more else [])]):
            if n:
                term = ("- " + term[1:].lstrip()) if term.startswith("-") else "+ " + term
            if row and used + width(term) > room():  # a term that fits a row of its own stays whole
                rows.append(row)
                row, used = "", 0.0
            for k, factor in enumerate(term.split(r" \, ")):
                if row and k and used + width(factor) > room():  # a product longer than a row
                    rows.append(row)
                    row, used = _REST, 0.0
                elif row:
                    row += r" \, " if k else " "
                row += factor
                used += width(factor) + COMMANDS[r"\,"]
            if row.startswith(_REST):  # the last piece of a long product ends its row
                rows.append(row)
                row, used = "", 0.0
        if row:
            rows.append(row)
        return [(lhs, rows[0])] + [(None, rf"{CONTINUE} {r}") for r in rows[1:]]

    def lines(self, lhs: str, terms: Sequence[str], *, more: int = 0, note: str = "") -> str:
        """``wrap`` as one ``aligned`` block, with an optional short ``note`` on a last line."""
        rows = self.wrap(lhs, terms, more)
        if note:
            rows.append((None, rf"{CONTINUE} \text{{({note})}}"))
        return aligned(rows)

    def equation(self, lhs: str, expr) -> str:
        """``lhs = expr`` on one line if it fits, else an ``aligned`` block broken at ``+``."""
        rows = self.rows(lhs, expr)
        return f"{lhs} = {rows[0][1]}" if len(rows) == 1 else aligned(rows)


def _column_choices(n: int, max_cols: int):
    """Column selections from widest to narrowest: all, then first k-2, None, last."""
    if n <= max_cols:
        yield list(range(n))
    for shown in range(min(n - 1, max_cols), 2, -1):
        yield _pick(n, shown)


class _Cells:
    """The printed entries of one matrix, printed when first needed."""

    def __init__(self, M: sp.MatrixBase, rows: list[int | None], doprint):
        self.M, self.rows, self.doprint = M, rows, doprint
        self._tex: dict[tuple[int, int], str] = {}

    def __getitem__(self, ij: tuple[int, int]) -> str:
        if ij not in self._tex:
            self._tex[ij] = self.doprint(self.M[ij])
        return self._tex[ij]

    def width(self, cols: list[int | None]) -> float:
        total = BRACKETS
        for j in cols:
            widest = COMMANDS[r"\cdots"] if j is None else max(
                width(self[i, j]) for i in self.rows if i is not None)
            total += widest + COLUMN_GAP
        return total

    def bmatrix(self, cols: list[int | None]) -> str:
        def cell(i, j):
            if i is None:
                return r"\ddots" if j is None else r"\vdots"
            return r"\cdots" if j is None else self[i, j]

        body = " \\\\\n".join(" & ".join(cell(i, j) for j in cols) for i in self.rows)
        return "\\begin{bmatrix}\n" + body + "\n\\end{bmatrix}"


def number_latex(text: str) -> str:
    r"""A decimal string as LaTeX: ``3.2e-07`` becomes ``3.2 \times 10^{-7}``."""
    mantissa, _, exponent = text.partition("e")
    if not exponent:
        return mantissa
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else rf"{mantissa} \times {power}"


def aligned(rows: Sequence[tuple[str | None, str]], relation: str = "=") -> str:
    """Rows ``lhs = rhs`` aligned at the relation, as one ``aligned`` block.

    An empty ``lhs`` continues with the relation (``&= rhs``); ``None`` continues
    without it (``&\\qquad + rhs``).
    """
    body = " \\\\\n".join(f"&{rhs}" if lhs is None else f"{lhs} &{relation} {rhs}"
                          for lhs, rhs in rows)
    return "\\begin{aligned}\n" + body + "\n\\end{aligned}"

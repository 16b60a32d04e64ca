"""How wide a line of LaTeX math prints, estimated from its tokens (no TeX run).

The printer uses the estimate to decide what fits on a display line: how many
columns of a matrix, where a long sum breaks. Widths are in pt of 11pt Computer
Modern math; the estimate is good to about 10 %, which the printer's line length
leaves as margin.
"""

from __future__ import annotations

import re

COLUMN_GAP = 11.0  # 2 \arraycolsep around each column of a bmatrix, in pt
BRACKETS = 10.0  # the two brackets of a bmatrix

_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|[{}^_&]|\s+|.")
# approximate advance widths in pt of 11pt Computer Modern math, spacing included
_SILENT = {r"\left", r"\right", r"\bigl", r"\bigr", r"\Bigl", r"\Bigr", r"\biggl", r"\biggr",
           r"\big", r"\Big", r"\limits", r"\displaystyle", r"\textstyle", r"\mathsf",
           r"\mathrm", r"\begin", r"\end", r"\boldsymbol"}
COMMANDS = {r"\cdots": 14.7, r"\dots": 14.7, r"\ldots": 14.7, r"\vdots": 3.1, r"\ddots": 13.0,
             r"\quad": 11.0, r"\qquad": 22.0, r"\,": 1.8, r"\;": 3.1, r"\:": 2.4, r"\!": -1.8,
             r"\odot": 13.4, r"\cdot": 8.0, r"\times": 13.4, r"\leftarrow": 17.2, r"\to": 17.2,
             r"\sum": 15.4, r"\partial": 6.5, r"\delta": 5.6, r"\eta": 6.0, r"\sigma": 7.0,
             r"\le": 14.8, r"\ge": 14.8, r"\neq": 14.8, r"\ne": 14.8, r"\{": 5.5, r"\}": 5.5}
_OPERATORS = {r"\tanh", r"\log", r"\exp", r"\max", r"\min", r"\sin", r"\cos", r"\ln"}
_BINARY = {"+": 13.4, "-": 13.4, "=": 14.8, "<": 14.8, ">": 14.8}
_NARROW = {"(": 5.0, ")": 5.0, "[": 3.1, "]": 3.1, ",": 4.9, ".": 3.1, ";": 4.9, "'": 3.5,
           "|": 3.1, "/": 5.5}
_SCRIPT = 0.7


def width(tex: str) -> float:
    """Estimated printed width of one line of math, in pt of an 11pt document.

    Sub- and superscripts on the same base overlap (the wider counts), scripts
    shrink to 70 %, a fraction counts its wider part. Good to about 10 %, which
    is what ``LINE`` leaves as margin.
    """
    tokens = [t for t in _TOKEN.findall(tex) if not t.isspace() and t != "&"]
    return _measure(tokens, 0, 1.0)[0]


def _measure(tokens: list[str], i: int, scale: float) -> tuple[float, int]:
    """Width of tokens[i:] up to the closing brace of the current group, and the index after it."""
    total, script = 0.0, None  # script: width already taken by a script on the current base
    while i < len(tokens):
        token = tokens[i]
        if token == "}":
            return total, i + 1
        if token in "^_":
            w, i = _argument(tokens, i + 1, scale * _SCRIPT)
            total += w if script is None else max(0.0, w - script)
            script = w if script is None else max(w, script)
            continue
        script = None
        w, i = _item(tokens, i, scale)
        total += w
    return total, i


def _argument(tokens: list[str], i: int, scale: float) -> tuple[float, int]:
    if i < len(tokens) and tokens[i] == "{":
        return _measure(tokens, i + 1, scale)
    return _item(tokens, i, scale) if i < len(tokens) else (0.0, i)


def _item(tokens: list[str], i: int, scale: float) -> tuple[float, int]:
    token = tokens[i]
    if token == "{":
        return _measure(tokens, i + 1, scale)
    if token in (r"\frac", r"\dfrac", r"\tfrac"):
        top, i = _argument(tokens, i + 1, scale)
        bottom, i = _argument(tokens, i, scale)
        return max(top, bottom) + 2.4 * scale, i
    if token in (r"\operatorname", r"\text", r"\mathrm"):
        inner, j = _argument(tokens, i + 1, scale)
        return inner * 1.05 + 1.8 * scale, j
    if token in _SILENT:
        return 0.0, i + 1
    if token in _OPERATORS:
        return (5.8 * (len(token) - 1) + 1.8) * scale, i + 1
    if token in COMMANDS:
        return COMMANDS[token] * scale, i + 1
    if token in _BINARY:
        return (_BINARY[token] if scale == 1.0 else 7.0 * scale), i + 1
    if token in _NARROW:
        return _NARROW[token] * scale, i + 1
    if token.startswith("\\"):
        return 6.8 * scale, i + 1  # another symbol, e.g. a Greek letter
    return (9.2 if token in "wmMW" else 6.4) * scale, i + 1


def matrix_width(tex: str) -> float:
    """Estimated width of a ``bmatrix`` printed by ``Printer.matrix``."""
    rows = [row.split(" & ") for row in tex.splitlines()[1:-1]]
    columns = zip(*[[cell.rstrip(" \\") for cell in row] for row in rows])
    return BRACKETS + sum(COLUMN_GAP + max(width(cell) for cell in column) for column in columns)


RELATION = _BINARY["="]  # an = with its spaces, in pt

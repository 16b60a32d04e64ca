"""The registry's LaTeX formulas as plain text for the terminal: ``\\frac{1}{1 + e^{-z}}`` →
``1/(1 + e^(-z))``. It knows the few commands the registry uses; tests check every entry
comes out without a backslash or a brace."""

from __future__ import annotations

import re

_WORDS = {
    r"\sigma": "σ", r"\delta": "δ", r"\partial": "∂", r"\sum": "Σ", r"\le": "≤", r"\ge": "≥",
    r"\cdot": "·", r"\tanh": "tanh", r"\log": "log", r"\max": "max", r"\exp": "exp",
    r"\bigl": "", r"\bigr": "", r"\Bigl": "", r"\Bigr": "", r"\left": "", r"\right": "",
}
_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _group(text: str, start: int) -> tuple[str, int]:
    """The contents of the brace group opening at ``text[start]`` and the index after it."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1:i], i + 1
    raise ValueError(f"unbalanced braces in {text!r}")


def _atom(text: str) -> str:
    """Parenthesised unless it is one symbol, so that ``a/b`` reads right."""
    return text if re.fullmatch(r"[\w.′σδ∂^]+(\([^()]*\))?", text) else f"({text})"


def plain(latex: str) -> str:
    """``latex`` (one of the registry's formulas) as plain text."""
    text = latex
    cases = re.fullmatch(r"\s*\\begin\{cases\}(.*)\\end\{cases\}\s*", text, re.S)
    if cases:
        rows = [row.split("&") for row in cases.group(1).split(r"\\")]
        return ", ".join(f"{plain(value).strip()} if {plain(cond).strip()}"
                         for value, cond in rows)
    out, i = [], 0
    while i < len(text):
        if text.startswith(r"\frac", i):
            top, i = _group(text, i + len(r"\frac"))
            bottom, i = _group(text, i)
            out.append(f"{_atom(plain(top))}/{_atom(plain(bottom))}")
        elif text.startswith((r"\text", r"\operatorname"), i):
            word, i = _group(text, text.index("{", i))
            out.append(word)
        elif text[i] in "^_" and text.startswith("{", i + 1):
            mark = text[i]
            inner, i = _group(text, i + 1)
            inner = plain(inner)
            if mark == "^" and inner.isdigit():
                out.append(inner.translate(_SUPERSCRIPTS))
            else:
                out.append(mark + (inner if mark == "_" or len(inner) == 1 else f"({inner})"))
        elif text[i] == "\\":
            name = re.match(r"\\([A-Za-z]+|.)", text[i:]).group()  # type: ignore[union-attr]
            out.append(_WORDS.get(name, " " if name in (r"\,", r"\;", r"\ ") else name))
            i += len(name)
            while name == r"\partial" and text.startswith(" ", i):  # ∂a_j, not ∂ a_j
                i += 1
        elif text[i] == "^" and text[i + 1:i + 2].isdigit():
            out.append(text[i + 1].translate(_SUPERSCRIPTS))
            i += 2
        elif text[i] in "{}":
            i += 1
        else:
            out.append(text[i])
            i += 1
    return re.sub(r" {2,}", " ", "".join(out)).strip()

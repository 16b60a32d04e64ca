"""Claimed formulas written in LaTeX, in the documents' own notation, read into SymPy.

A claims file gives them under ``formulas_latex`` (keys and shapes as ``formulas``):
``\\delta^{(1)}_{1} = `` is not written, only the right-hand side, such as
``\\left(w^{(2)}_{11} \\delta^{(2)}_{1} + w^{(2)}_{21} \\delta^{(2)}_{2}\\right)
\\sigma'\\left(z^{(1)}_{1}\\right)``. Symbols are read as the documents print them
(``naming.Names``: w^{(l)}_{jk}, b^{(l)}_{j}, z^{(l)}_{j}, a^{(l)}_{j}, \\delta^{(l)}_{j},
x_{k}, y_{j}; w^{(l)}_{j,k} where an index has two digits; the script parts in either order,
braces optional around one digit), the activations by their LaTeX names with ``'`` for the
derivative (\\sigma'(z)), and the rest (\\frac, \\cdot, \\times, ^, \\exp, \\log, \\sqrt, sums
written out) by SymPy's ``parse_latex`` (lark backend: the extra ``symbp[latex]``).

Nothing is evaluated: each symbol and each activation applied is first replaced by a
placeholder the grammar reads as one symbol, the parser builds a tree, and every symbol of
the tree must be a placeholder. A text the grammar reads two ways is refused.
"""

from __future__ import annotations

import re
from typing import Any

import sympy as sp

from ..core.derivation import Derivation

PLACEHOLDER = "theta"  # \theta_{n}: the grammar reads it as one symbol; not symbp notation


def _scripts(n: int) -> str:
    """A layer superscript ^{(l)} or ^(l), its number in group l<n> or m<n>."""
    return (r"(?:\^\s*\{\s*\(\s*(?P<l" + str(n) + r">\d+)\s*\)\s*\}|\^\s*\(\s*(?P<m" + str(n)
            + r">\d+)\s*\))")


def _index(n: int) -> str:
    """A subscript _{jk}, _{j,k} or _j, in group i<n> or j<n>."""
    return r"(?:_\s*\{(?P<i" + str(n) + r">[^{}]*)\}|_\s*(?P<j" + str(n) + r">\d))"


_SYMBOL = re.compile(r"(?<![A-Za-z\\])(?P<base>\\delta|[A-Za-z])(?![A-Za-z])\s*(?:"
                     + _index(2) + r"\s*" + _scripts(2) + "|" + _scripts(1) + r"?\s*" + _index(1)
                     + ")")  # the subscript first, then the superscript; or the other way
_PARENS = {r"\left(": "(", r"\right)": ")", r"\bigl(": "(", r"\bigr)": ")", r"\Bigl(": "(",
           r"\Bigr)": ")", r"\big(": "(", r"\big)": ")", r"\left[": "(", r"\right]": ")"}


def latex_parser() -> Any:
    """SymPy's ``parse_latex`` when lark is installed; ValueError saying what to install."""
    try:
        import lark  # noqa: F401  # parse_latex's lark backend imports it late
        from sympy.parsing.latex import parse_latex
    except ImportError:
        raise ValueError("claimed: formulas_latex needs a LaTeX parser, which is not installed "
                         "(pip install 'symbp[latex]', or pip install lark)") from None
    return parse_latex


def _key(base: str, layer: str | None, index: str) -> tuple[str, str | None, tuple[str, ...]]:
    parts = [p.strip() for p in index.split(",")] if "," in index else list(index.strip())
    return base, layer, tuple(parts)


def symbol_table(d: Derivation) -> dict[tuple, sp.Symbol]:
    """Every symbol of ``d`` by (base, layer, indices), read from the LaTeX the documents print."""
    table: dict[tuple, sp.Symbol] = {}
    for symbol, tex in d.latex_names.items():
        match = _SYMBOL.fullmatch(tex)
        if match is not None:
            table[_match_key(match)] = symbol
    return table


def _match_key(m: re.Match) -> tuple:
    layer = m["l1"] or m["m1"] or m["l2"] or m["m2"]
    index = m["i1"] if m["i1"] is not None else m["j1"] or m["i2"] or m["j2"] or ""
    return _key(m["base"], layer, index)


def activation_table(d: Derivation) -> dict[str, type]:
    """Each activation of ``d`` and its derivative by LaTeX name: \\sigma, \\sigma', \\tanh'."""
    t = sp.Symbol("t")
    found: dict[str, type] = {}
    for l in d.layers:
        act = d.net.activation(l)
        if act.elementwise and act.formula is not None:
            for f in (act.apply([t])[0], act.prime(t)):
                found.setdefault(type(f).latex_name, type(f))
    return found


class LatexReader:
    """Reads the LaTeX formulas of one network (its tables made once)."""

    def __init__(self, d: Derivation):
        self.parse = latex_parser()
        self.symbols = symbol_table(d)
        self.functions = activation_table(d)
        names = sorted(self.functions, key=len, reverse=True)  # \sigma' before \sigma
        self._function = re.compile(
            "(" + "|".join(re.escape(n.rstrip("'")) + ("'" if n.endswith("'") else "")
                           + r"(?![A-Za-z'])" for n in names) + r")\s*\(") if names else None

    def read(self, text: object, where: str) -> sp.Expr:
        """``text`` as a SymPy expression in ``d``'s symbols; ValueError naming ``where``."""
        if not isinstance(text, str) or len(text) > 10_000:
            raise ValueError(f"claimed: {where} entries must be LaTeX strings; got {text!r:.40}")
        if r"\theta" in text:
            raise ValueError(f"claimed: {where}: \\theta is not a symbol of this network")
        held: dict[str, sp.Expr] = {}
        try:
            return self._read(text, held, where)
        except ValueError:
            raise
        except Exception as error:  # lark's syntax errors, SymPy's conversion errors
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise ValueError(f"claimed: {where}: not LaTeX symbp can read: {text!r:.60}"
                             + (f" ({first[:80]})" if first else "")) from None

    def _read(self, original: str, held: dict[str, sp.Expr], where: str) -> sp.Expr:
        text = original.strip().strip("$").strip()
        for tex, plain in _PARENS.items():
            text = text.replace(tex, plain)
        text = self._hold_functions(text, held, where)
        text = _SYMBOL.sub(lambda m: self._hold_symbol(m, held, where), text)
        # a placeholder before "(" is a product, not a function applied
        text = re.sub(r"(\\theta_\{\d+\})\s*(?=\()", r"\1 \\cdot ", text)
        tree = self.parse(text, backend="lark")
        if not isinstance(tree, sp.Expr):
            raise ValueError(f"claimed: {where}: {original!r:.60} reads more than one way, or is "
                             "not an expression; add \\cdot or parentheses")
        unknown = [s for s in tree.free_symbols if str(s) not in held]
        if unknown:
            raise ValueError(f"claimed: {where}: unknown symbol {str(unknown[0])!r}; write "
                             "symbols as the documents do: w^{(l)}_{jk}, b^{(l)}_{j}, "
                             "z^{(l)}_{j}, a^{(l)}_{j}, \\delta^{(l)}_{j}, x_{k}, y_{j}")
        if tree.atoms(sp.core.function.AppliedUndef):
            f = next(iter(tree.atoms(sp.core.function.AppliedUndef)))
            raise ValueError(f"claimed: {where}: unknown function {type(f).__name__!r}")
        exact = tree.xreplace({f: sp.Rational(str(f)) for f in tree.atoms(sp.Float)})
        return exact.xreplace({s: held[str(s)] for s in tree.free_symbols})

    def _placeholder(self, value: sp.Expr, held: dict[str, sp.Expr]) -> str:
        name = f"{PLACEHOLDER}_{{{len(held)}}}"
        held[name] = value
        return rf" \theta_{{{len(held) - 1}}} "

    def _hold_symbol(self, m: re.Match, held: dict[str, sp.Expr], where: str) -> str:
        symbol = self.symbols.get(_match_key(m))
        if symbol is None:
            raise ValueError(f"claimed: {where}: {m.group(0)!r} is not a symbol of this "
                             f"network")
        return self._placeholder(symbol, held)

    def _hold_functions(self, text: str, held: dict[str, sp.Expr], where: str) -> str:
        """Each activation applied, its argument read first, held as one placeholder."""
        while self._function is not None and (m := self._function.search(text)):
            close = _closing(text, m.end() - 1)
            if close is None:
                raise ValueError(f"claimed: {where}: unbalanced parentheses in {text!r:.60}")
            argument = self._read(text[m.end():close], held, where)
            applied = self.functions[m.group(1)](argument)
            text = text[:m.start()] + self._placeholder(applied, held) + text[close + 1:]
        return text


def _closing(text: str, opening: int) -> int | None:
    depth = 0
    for i in range(opening, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    return None

"""Every naming scheme in one place: identifier-safe symbol names and their LaTeX.

Symbols carry plain names (``w2_1_3``) so that lambdify and code printers work;
the LaTeX form (``w^{(2)}_{13}``) lives in one name map used by the printer.
Indices are 1-based, as in the math: w^{(l)}_{jk} joins neuron k of layer l-1
to neuron j of layer l.
"""

from __future__ import annotations

import re

import sympy as sp


def _pair(j: int | str, k: int | str, wide: bool) -> str:
    # w_{13} is unambiguous only while every index has one digit
    return f"{j},{k}" if wide else f"{j}{k}"


Shape = tuple[int, ...] | None  # a tensor's axes; None for a vector


def entry_index(j: int | str, shape: Shape = None) -> str:
    """Entry j (1-based, row-major) of a tensor of ``shape`` as its LaTeX index: "5" of a
    vector, "1,2" of a matrix (unit 1 at step 2), where a flat 5 would hide the axes."""
    if shape is None or len(shape) < 2 or isinstance(j, str):
        return str(j)
    index, rest = [], j - 1
    for n in reversed(shape):
        rest, i = divmod(rest, n)
        index.append(i + 1)
    return ",".join(map(str, reversed(index)))


class Names:
    """Factory of the symbols of one network, remembering each symbol's LaTeX."""

    def __init__(self, widths: tuple[int, ...]):
        self.wide = max(widths) > 9
        self.latex: dict[sp.Symbol, str] = {}

    def _symbol(self, name: str, latex: str) -> sp.Symbol:
        symbol = sp.Symbol(name)
        self.latex[symbol] = latex
        return symbol

    def weight(self, l: int, j: int | str, k: int | str) -> sp.Symbol:
        return self._symbol(f"w{l}_{j}_{k}", f"w^{{({l})}}_{{{_pair(j, k, self.wide)}}}")

    def bias(self, l: int, j: int) -> sp.Symbol:
        return self._symbol(f"b{l}_{j}", f"b^{{({l})}}_{{{j}}}")

    # x, y, z, a, δ and g: the symbol's name has the flat position j, its LaTeX the entry's
    # index in the tensor's ``shape``

    def input(self, k: int, shape: Shape = None) -> sp.Symbol:
        return self._symbol(f"x_{k}", f"x_{{{entry_index(k, shape)}}}")

    def target(self, j: int, shape: Shape = None) -> sp.Symbol:
        return self._symbol(f"y_{j}", f"y_{{{entry_index(j, shape)}}}")

    def preactivation(self, l: int, j: int | str, shape: Shape = None) -> sp.Symbol:
        return self._symbol(f"z{l}_{j}", f"z^{{({l})}}_{{{entry_index(j, shape)}}}")

    def activation(self, l: int, j: int, shape: Shape = None) -> sp.Symbol:
        return self._symbol(f"a{l}_{j}", f"a^{{({l})}}_{{{entry_index(j, shape)}}}")

    def delta(self, l: int, j: int, shape: Shape = None) -> sp.Symbol:
        return self._symbol(f"delta{l}_{j}", rf"\delta^{{({l})}}_{{{entry_index(j, shape)}}}")

    def grad(self, l: int, j: int, shape: Shape = None) -> sp.Symbol:
        """g^{(l)}_j = ∂C/∂a^{(l)}_j, bound where a skip passes it back."""
        return self._symbol(f"g{l}_{j}", rf"g^{{({l})}}_{{{entry_index(j, shape)}}}")

    def parameter(self, l: int, name: str, index: tuple[int, ...], word: str = "") -> sp.Symbol:
        """An entry of another parameter of layer l: p^{(l)}_{jk} for P; printed as the kind
        calls it (``word``: a kernel's K^{(1)}_{1,1,1}), with commas past two axes."""
        low = name.lower()
        joined = ("," if self.wide or len(index) > 2 else "").join(map(str, index))
        return self._symbol(f"{low}{l}_" + "_".join(map(str, index)),
                            f"{word or low}^{{({l})}}_{{{joined}}}")

    # second order: the curvature Ω_l, the cross curvature Γ_l, a direction v and tangents

    def curvature(self, l: int, j: int, k: int) -> sp.Symbol:
        return self._symbol(f"omega{l}_{j}_{k}",
                            rf"\Omega^{{({l})}}_{{{_pair(j, k, self.wide)}}}")

    def cross(self, l: int, j: int, c: int) -> sp.Symbol:
        return self._symbol(f"gamma{l}_{j}_{c}", rf"\Gamma^{{({l})}}_{{{j},{c}}}")

    def direction_weight(self, l: int, j: int, k: int) -> sp.Symbol:
        return self._symbol(f"v{l}_{j}_{k}", f"v^{{({l})}}_{{{_pair(j, k, self.wide)}}}")

    def direction_bias(self, l: int, j: int) -> sp.Symbol:
        return self._symbol(f"vb{l}_{j}", f"v^{{({l})}}_{{b,{j}}}")

    def tangent(self, l: int, j: int) -> sp.Symbol:
        return self._symbol(f"rz{l}_{j}", rf"\dot{{z}}^{{({l})}}_{{{j}}}")

    def tangent_delta(self, l: int, j: int) -> sp.Symbol:
        return self._symbol(f"rdelta{l}_{j}", rf"\dot{{\delta}}^{{({l})}}_{{{j}}}")


def vector_latex(kind: str, l: int | None = None) -> str:
    """LaTeX for a whole vector or matrix of one layer: a_2, W_3, \\delta_1, x, y."""
    base = {"delta": r"\delta", "W": "W", "b": "b", "z": "z", "a": "a"}.get(kind, kind)
    return base if l is None else f"{base}_{{{l}}}"


SUPERSCRIPT = str.maketrans("0123456789()+-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾⁺⁻")
SUBSCRIPT = str.maketrans("0123456789()+-", "₀₁₂₃₄₅₆₇₈₉₍₎₊₋")
_SCRIPT = re.compile(r"([\^_])\{([^{}]*)\}")


def unicode_name(latex: str) -> str:
    """A symbol's LaTeX name as plain Unicode, for SVG text: w^{(3)}_{12} → w⁽³⁾₁₂.

    Characters without a Unicode script form (letters, commas) stay on the line.
    """
    text = latex.replace(r"\delta", "δ")

    def script(match: re.Match) -> str:
        return match.group(2).translate(SUPERSCRIPT if match.group(1) == "^" else SUBSCRIPT)

    return _SCRIPT.sub(script, text)

"""The influence graph's words: Unicode labels for SVG and the legend of the unlabelled edges.

Only the highlighted path carries labels in a drawing; the legend says, once per
kind of edge, what every other edge carries (w for a → z, the activation's own
derivative for z → a, the cost's gradient into C).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp
from sympy.printing.str import StrPrinter

from ..core.derivation import Derivation
from ..core.naming import SUPERSCRIPT, unicode_name
from ..core.registry import ACTIVATIONS
from ..printing import forms


@dataclass(frozen=True)
class LegendItem:
    """What one kind of grey edge carries: ``edge`` → its local derivative ``carries``."""

    edge: str  # LaTeX
    carries: str  # LaTeX
    edge_text: str  # Unicode, for SVG
    carries_text: str
    where: str = ""  # plain text: "in layers 1 and 2" when not every layer


def legend(d: Derivation, l: int) -> tuple[LegendItem, ...]:
    """What the unlabelled edges carry, one line per kind of edge in this graph."""
    items = []
    if l < d.L:
        items.append(LegendItem(r"a^{(m-1)}_k \to z^{(m)}_i", r"w^{(m)}_{ik}",
                                "a⁽ᵐ⁻¹⁾ₖ → z⁽ᵐ⁾ᵢ", "w⁽ᵐ⁾ᵢₖ"))
    layers = range(l, d.L + 1)
    for name in dict.fromkeys(d.net.activations[l - 1:]):
        act = ACTIVATIONS[name]
        where = [str(m) for m in layers if d.net.activations[m - 1] == name]
        at = "" if len(where) == len(layers) else ("in layer " if len(where) == 1 else
                                                   "in layers ") + _and(where)
        if act.elementwise:
            items.append(LegendItem(r"z^{(m)}_i \to a^{(m)}_i",
                                    rf"{act.latex}'\bigl(z^{{(m)}}_i\bigr)",
                                    "z⁽ᵐ⁾ᵢ → a⁽ᵐ⁾ᵢ", f"{function_text(act.latex)}′(z⁽ᵐ⁾ᵢ)", at))
        else:
            items.append(LegendItem(r"z^{(m)}_k \to a^{(m)}_i",
                                    r"a^{(m)}_i\bigl([i = k] - a^{(m)}_k\bigr)",
                                    "z⁽ᵐ⁾ₖ → a⁽ᵐ⁾ᵢ", "a⁽ᵐ⁾ᵢ([i = k] − a⁽ᵐ⁾ₖ)", at))
    L = d.L
    cost = d.net.cost_entry
    items.append(LegendItem(rf"a^{{({L})}}_i \to C",
                            forms.cost_gradient(cost).replace("a_j", f"a^{{({L})}}_i")
                            .replace("y_j", "y_i"),
                            f"a{f'({L})'.translate(SUPERSCRIPT)}ᵢ → C",
                            _cost_text(cost.name, L)))
    return tuple(items)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _cost_text(name: str, L: int) -> str:
    a = f"a{f'({L})'.translate(SUPERSCRIPT)}ᵢ"
    return {"mse": f"{a} − yᵢ", "bce": f"−yᵢ/{a} + (1 − yᵢ)/(1 − {a})",
            "softmax_ce": f"−yᵢ/{a}"}.get(name, f"∂C/∂{a}")



def function_text(latex: str) -> str:
    r"""\sigma → σ, \tanh → tanh, \operatorname{ReLU} → ReLU."""
    return {r"\sigma": "σ"}.get(latex, latex.replace(r"\operatorname{", "").strip("\\}"))


_FUNCTIONS = {name: function_text(act.latex) + suffix
              for act in ACTIVATIONS.values()
              for name, suffix in ((act.name, ""), (act.name + "_prime", "′"))}


class TextPrinter(StrPrinter):
    """SymPy's str printer with Unicode symbol names and σ′ for the opaque derivative."""

    def __init__(self, names: dict[sp.Symbol, str]):
        super().__init__()
        self.names = names

    def _print_Symbol(self, expr) -> str:
        return unicode_name(self.names[expr]) if expr in self.names else expr.name

    def _print_Function(self, expr) -> str:
        name = _FUNCTIONS.get(type(expr).__name__, type(expr).__name__)
        return f"{name}({', '.join(self._print(a) for a in expr.args)})"

    def doprint(self, expr) -> str:
        text = super().doprint(expr)
        text = _POWER.sub(lambda m: m.group(1).translate(SUPERSCRIPT), text)
        text = text.replace("**", "^").replace("*(", "(").replace("*", "·")
        return text.replace(" - ", " − ").replace("-", "−")


_POWER = re.compile(r"\*\*(-?\d+)")

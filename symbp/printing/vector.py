"""A kind's vector forms (``core.layers.vector``) printed as LaTeX: one ``_print_`` method per
operator, the way SymPy's printers are extended. The forms are the ones the proof checks
against the kind's maps, so what a document shows in vector notation is what was compared.
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp
from sympy.printing.latex import LatexPrinter

from ..core.layers import Resolved
from ..core.layers import vector as v

COMPOUND = (v.Plus, v.Neg, v.Dot, v.Had, v.Div, v.Star, v.FullConv, v.AvgPoolT, v.MaxPoolT,
            v.AtLast, v.StepSum)
# operators written between or before their operands: inside another they take parentheses


class VectorPrinter(LatexPrinter):
    """Operands by their names at one layer (``names``: stem and subscript, "" for none),
    sizes by ``symbol_names`` (n, d_k, T), σ as ``sigma``."""

    def __init__(self, names: Mapping[str, tuple[str, str]], sigma: str,
                 sizes: Mapping[sp.Symbol, str]):
        super().__init__({"symbol_names": dict(sizes)})
        self.names, self.sigma = names, sigma

    def _name(self, name: str, step: str = "") -> str:
        stem, sub = self.names.get(name, (name, ""))
        index = ",".join(filter(None, [sub, step]))
        return f"{stem}_{{{index}}}" if index else stem

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        if expr.name in self.names:
            return self._name(expr.name)
        return super()._print_Symbol(expr)

    def _wrapped(self, expr: sp.Basic) -> str:
        """``expr`` in parentheses unless it reads as one thing (a name, a function, Aᵀ)."""
        tex = self._print(expr)
        return rf"\bigl({tex}\bigr)" if isinstance(expr, COMPOUND) else tex

    def _print_Plus(self, expr: v.Plus) -> str:
        def term(t: sp.Basic) -> str:  # a product binds tighter than + and -; a sum does not
            tex = self._print(t)
            return rf"\bigl({tex}\bigr)" if isinstance(t, v.Plus | v.Neg) else tex

        out = self._print(expr.args[0])
        for t in expr.args[1:]:
            out += f" - {term(t.args[0])}" if isinstance(t, v.Neg) else f" + {term(t)}"
        return out

    def _print_Neg(self, expr: v.Neg) -> str:
        return f"-{self._wrapped(expr.args[0])}"

    def _print_Dot(self, expr: v.Dot) -> str:
        left, right = (self._wrapped(a) for a in expr.args)
        return f"{left} {right}" if left.endswith("^{T}") else rf"{left}\, {right}"

    def _print_T(self, expr: v.T) -> str:
        return f"{self._wrapped(expr.args[0])}^{{T}}"

    def _print_Had(self, expr: v.Had) -> str:
        a, b = expr.args
        return rf"{self._wrapped(a)} \odot {self._wrapped(b)}"  # ⊙ below juxtaposition

    def _print_Div(self, expr: v.Div) -> str:
        a, b = expr.args
        return rf"{self._wrapped(a)} \oslash {self._wrapped(b)}"

    def _print_Over(self, expr: v.Over) -> str:
        return rf"\frac{{{self._print(expr.args[0])}}}{{{self._print(expr.args[1])}}}"

    def _print_Sigma(self, expr: v.Sigma) -> str:
        return f"{self.sigma}({self._print(expr.args[0])})"

    def _print_SigmaPrime(self, expr: v.SigmaPrime) -> str:
        return f"{self.sigma}'({self._print(expr.args[0])})"

    def _print_Named(self, expr: v.Named) -> str:
        return self._print(expr.args[0])

    def _print_Ones(self, expr: v.Ones) -> str:
        return r"\mathbf{1}"

    def _print_SqNorm(self, expr: v.SqNorm) -> str:
        return rf"\lVert {self._print(expr.args[0])} \rVert^{{2}}"

    def _print_Root(self, expr: v.Root) -> str:
        return rf"\sqrt{{{self._print(expr.args[0])}}}"

    def _print_RowSum(self, expr: v.RowSum) -> str:
        (m,) = expr.args
        if isinstance(m, sp.Symbol) and m.name in self.names:  # Σ_t δ_(l,t)
            return rf"\sum_{{t}} {self._name(m.name, 't')}"
        return rf"\operatorname{{rowsum}}\bigl({self._print(m)}\bigr)"

    def _print_RowSoftmax(self, expr: v.RowSoftmax) -> str:
        where = r"s \le t" if bool(expr.args[1]) else "s"
        return rf"\operatorname{{softmax}}_{{{where}}}\bigl({self._print(expr.args[0])}" \
               r"[t, s]\bigr)"

    def _print_Star(self, expr: v.Star) -> str:
        return rf"{self._wrapped(expr.args[0])} \star {self._wrapped(expr.args[1])}"

    def _print_Flip(self, expr: v.Flip) -> str:
        return rf"\operatorname{{flip}}({self._print(expr.args[0])})"

    def _print_FullConv(self, expr: v.FullConv) -> str:
        return rf"{self._wrapped(expr.args[0])} \ast_{{\text{{full}}}} " \
               rf"{self._wrapped(expr.args[1])}"

    def _print_AvgPool(self, expr: v.AvgPool) -> str:
        q, s = expr.args
        return rf"\operatorname{{avgpool}}_{{{self._print(q)}}}\bigl({self._print(s)}\bigr)"

    def _print_AvgPoolT(self, expr: v.AvgPoolT) -> str:
        q, g = expr.args
        return rf"\operatorname{{avgpool}}_{{{self._print(q)}}}^{{T}}\, {self._wrapped(g)}"

    def _print_MaxPool(self, expr: v.MaxPool) -> str:
        q, s = expr.args
        return rf"\operatorname{{maxpool}}_{{{self._print(q)}}}\bigl({self._print(s)}\bigr)"

    def _print_MaxPoolT(self, expr: v.MaxPoolT) -> str:
        q, s, g = expr.args
        return rf"\operatorname{{maxpool}}_{{{self._print(q)}}}^{{T}}\bigl[{self._print(s)}\bigr]" \
               rf"\, {self._wrapped(g)}"

    def _print_Step(self, expr: v.Step) -> str:
        seq, offset = expr.args
        at = "t" if offset == 0 else f"t{int(offset):+d}"
        return self._name(seq.name, at)

    def _print_Last(self, expr: v.Last) -> str:
        return self._name(expr.args[0].name, "T")

    def _print_AtLast(self, expr: v.AtLast) -> str:
        return rf"[t = T]\, {self._print(expr.args[0])}"

    def _print_StepSum(self, expr: v.StepSum) -> str:
        body, first, _ = expr.args
        inner = self._print(body) if isinstance(body, v.Dot) else self._wrapped(body)
        return rf"\sum_{{t={self._print(first)}}}^{{T}} {inner}"

    def equation(self, eq: v.Equation, targets: set[str]) -> str:
        """``lhs = rhs``; a parameter's (a target shown in its own slot) is its rhs only."""
        rhs = self._print(eq.rhs)
        if eq.name in targets and eq.name not in v.TARGETS:
            return rhs
        return f"{self._name(eq.name, 't' if eq.per_step else '')} = {rhs}"


def slots(equations: tuple[v.Equation, ...], printer: VectorPrinter,
          targets: set[str]) -> dict[str, str]:
    """Each slot's LaTeX ("forward", "delta", "input", each parameter's name): its target first,
    then the intermediates shown beside it; a forward of more than two equations aligned."""
    grouped: dict[str, list[v.Equation]] = {}
    for eq in equations:
        grouped.setdefault(eq.shown_in, []).append(eq)
    out = {}
    for slot, eqs in grouped.items():
        if slot != "forward":  # the forward pass in its order; elsewhere the target first
            eqs.sort(key=lambda eq: eq.name not in targets)
        if slot == "forward" and len(eqs) > 2:
            rows = [printer.equation(eq, targets).split(" = ", 1) for eq in eqs]
            out[slot] = r"\begin{aligned}" + r" \\ ".join(f"{a} &= {b}" for a, b in rows) + \
                r"\end{aligned}"
        else:
            out[slot] = (r", \qquad " if slot == "forward" else r",\ ").join(
                printer.equation(eq, targets) for eq in eqs)
    return out


def printed(r: Resolved, sigma: str) -> dict[str, str]:
    """Layer r's vector forms, each slot's LaTeX, at its index l: the input a_(l-1), its own
    tensors and parameters (by the kind's words: K for a kernel's W) with subscript l."""
    assert r.kind.forms is not None
    forms = r.kind.forms(r.layer)
    l, below = str(r.index), str(r.index - 1)
    targets = {*v.TARGETS, *(p.name for p in r.maps.params)}
    names = {"x": ("a", below), "input": ("g", below), "delta": (r"\delta", l),
             **{name: (name, l) for name in ("z", "a", "g", "s")},
             **{p.name: (r.kind.words.get(p.name, p.name), l) for p in r.maps.params},
             **{eq.name: (eq.stem or eq.name, l if eq.layered else "")
                for eq in forms.equations if eq.name not in targets}}
    return slots(forms.equations, VectorPrinter(names, sigma, forms.sizes), targets)

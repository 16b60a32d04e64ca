"""Index notation as the documents print it: w^{(l+1)}_{ik}, n_l, sums with their ranges,
factors in the order the matrix products read, summation indices named i, m, p, ..."""

from __future__ import annotations

import itertools
import re
from typing import ClassVar

import sympy as sp
from sympy.printing.latex import LatexPrinter

_FLAT = re.compile(r"\\left\(((?:(?!\\left\(|\\right\)|\\frac|\\sum).)*?)\\right\)")


class IndexPrinter(LatexPrinter):
    """Index notation as in the documents: w^{(l+1)}_{ik}, n_{l}, sums with their ranges.

    The Kronecker delta prints as the bracket [j = k] (1 if j = k, else 0): δ is the error.
    """

    LAYERED: ClassVar[dict[str, str]] = {"w": "w", "b": "b", "z": "z", "a": "a",
                                         "delta": r"\delta"}

    FACTORS: ClassVar[tuple[str, ...]] = ("w", "delta", "a", "y")  # w_ik δ_i, δ_j a_k

    def doprint(self, expr: sp.Expr) -> str:
        """Parentheses around nothing tall (no fraction, no sum) as \\bigl( \\bigr)."""
        tex, previous = super().doprint(expr), None
        while tex != previous:  # innermost pairs first
            previous, tex = tex, _FLAT.sub(r"\\bigl(\1\\bigr)", tex)
        return tex

    def _as_ordered_terms(self, expr: sp.Expr, order: str | None = None) -> list:
        """Sums first, terms with a minus sign last: Σ w a + b, a - y (not b + Σ w a, -y + a)."""
        terms = super()._as_ordered_terms(expr, order="lex")
        return sorted(terms, key=lambda t: (t.could_extract_minus_sign(), not t.has(sp.Sum)))

    def _print_Mul(self, expr: sp.Mul) -> str:
        """Factors in the order products read: w_{ik} δ_i (Wᵀδ), δ_j a_k (δ aᵀ)."""
        def rank(f: sp.Expr) -> tuple:
            if f.is_Number:
                return (0,)
            if f.is_Add:
                return (1,)
            base = f.base if f.is_Pow else f
            if isinstance(base, sp.Indexed) and str(base.base) in self.FACTORS:
                return (2, self.FACTORS.index(str(base.base)))
            return (4 if isinstance(f, sp.Sum) else 3, sp.default_sort_key(f))

        coefficient, rest = expr.as_coeff_Mul()
        if coefficient.is_Rational and not coefficient.is_Integer:  # ½ (a - y)², not (a - y)²/2
            sign = "- " if coefficient < 0 else ""
            p, q = abs(coefficient.p), coefficient.q
            return rf"{sign}\frac{{{p}}}{{{q}}} {self._print(rest)}"
        return super()._print_Mul(sp.Mul(*sorted(expr.args, key=rank), evaluate=False))

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        name = str(expr.base)
        indices = [self._index(i) for i in expr.indices]
        if name in self.LAYERED and len(indices) > 1:
            layer, rest = indices[0], indices[1:]
            if name == "a" and layer == "0":
                return f"x_{{{''.join(rest)}}}"
            return f"{self.LAYERED[name]}^{{({layer})}}_{{{''.join(rest)}}}"
        return f"{self.LAYERED.get(name, name)}_{{{''.join(indices)}}}"

    def _index(self, e: sp.Expr) -> str:
        """l + 1 as l+1, not 1 + l."""
        constant, rest = e.as_coeff_Add() if e.is_Add else (0, e)
        tex = self._print(rest).replace(" ", "")
        if constant:
            tex += f"{'+' if constant > 0 else '-'}{abs(constant)}"
        return tex

    def _print_KroneckerDelta(self, expr: sp.KroneckerDelta, exp: str | None = None) -> str:
        j, k = (self._print(a) for a in expr.args)
        return f"[{j} = {k}]" if exp is None else f"[{j} = {k}]^{{{exp}}}"

    def _print_Sum(self, expr: sp.Sum) -> str:
        tex = ""
        for index, first, last in reversed(expr.limits):
            tex += rf"\sum_{{{self._print(index)}={self._print(first)}}}^{{{self._index(last)}}} "
        body = self._print(expr.function)
        if expr.function.is_Add:
            body = rf"\bigl({body}\bigr)"
        return tex + body


def readable(expr: sp.Expr) -> sp.Expr:
    """``expr`` with its summation indices (dummies, or the normal form's ``_s...``) named
    i, m, p, q, ..., letters not already in use."""
    bound = [s for s in expr.atoms(sp.Symbol) if isinstance(s, sp.Dummy) or s.name[0] == "_"]
    bound.sort(key=lambda s: (not isinstance(s, sp.Dummy), sp.default_sort_key(s)))
    used = {s.name for s in expr.atoms(sp.Symbol) if s not in bound} | {"j", "k", "l", "L"}
    # letters first; a formula with more sums than letters (attention's) goes on as i_1, i_2
    numbered = (f"i_{n}" for n in itertools.count(1))
    names = iter(c for c in itertools.chain("imprquvst", numbered) if c not in used)
    return expr.xreplace({s: sp.Symbol(next(names), integer=True, positive=True)
                          for s in bound})


def latex(expr: sp.Expr) -> str:
    return IndexPrinter({"order": "none"}).doprint(expr)  # factors keep _print_Mul's order

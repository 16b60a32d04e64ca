"""The registry's formulas in LaTeX and plain text, printed from their SymPy: never by hand.

What documents, lemma statements and ``symbp list`` show of an activation or a cost is
printed here from the formula the prover checks, so the two cannot disagree.
"""

from __future__ import annotations

import re
from functools import cache

import sympy as sp
from sympy.printing.str import StrPrinter

from ..core import registry
from ..core.forms import UnitForm
from .latex import _ElidingLatexPrinter

GENERIC = r"\text{any differentiable function}"
GENERIC_DERIVATIVE = r"\text{its derivative}"


class _FormPrinter(_ElidingLatexPrinter):
    """Terms in the order the formula gives them (1 + e^z), functions of a symbol without
    sized parentheses (tanh(z)), and Piecewise as cases whose last branch names its own
    condition (z ≤ 0, not otherwise)."""

    def __init__(self) -> None:
        super().__init__({"order": "none"})

    def _as_ordered_terms(self, expr, order=None):
        """Terms as given, those with a minus sign last: δ_jk - a_k, not -a_k + δ_jk."""
        terms = super()._as_ordered_terms(expr, order=order)
        return sorted(terms, key=lambda t: t.could_extract_minus_sign())

    def _print_Function(self, expr, exp=None):
        name = {"tanh": r"\tanh", "log": r"\log"}.get(type(expr).__name__)
        if name is None:
            return super()._print_Function(expr, exp)
        arg = expr.args[0]
        inner = self._print(arg)
        call = rf"{name}({inner})" if arg.is_Symbol else rf"{name}\bigl({inner}\bigr)"
        return call if exp is None else rf"{name}^{{{exp}}}" + call[len(name):]

    _print_tanh = _print_log = _print_Function

    def _print_KroneckerDelta(self, expr, exp=None):
        j, k = (self._print(a) for a in expr.args)
        return rf"\delta_{{{j}{k}}}"

    def _print_Piecewise(self, expr):
        rows, previous = [], []
        for value, condition in expr.args:
            if condition is sp.true:
                condition = sp.And(*[sp.Not(c) for c in previous]) if previous else sp.true
            previous.append(condition)
            shown = r"\text{otherwise}" if condition is sp.true else self._print(condition)
            rows.append(rf"{self._print(value)} & {shown}")
        return r"\begin{cases} " + r" \\ ".join(rows) + r" \end{cases}"


def latex(expr: sp.Expr) -> str:
    """``expr`` as the documents write it: e^{-z}, a_j (not e^{- z}, a_{j})."""
    tex = _FormPrinter().doprint(expr).replace("{- ", "{-")
    tex = tex.replace(r"\leq", r"\le").replace(r"\geq", r"\ge")
    tex = re.sub(r"(^|[({])- ", r"\1-", tex)  # -y_j/a_j, a unary minus
    return re.sub(r"\b([a-z])_\{([jk])\}", r"\1_\2", tex)


def _z() -> sp.Symbol:
    return sp.Symbol("z")


@cache
def activation_formula(act: registry.Activation) -> str:
    """The right-hand side of σ(z) = ... (a_j = ... for a layer-wide σ)."""
    if not act.elementwise and act.layer is not None:
        return unit_latex(act.layer)
    if act.formula is None:
        return GENERIC
    return latex(sp.sympify(act.formula(_z())))


@cache
def activation_definition(act: registry.Activation) -> str:
    """The right-hand side of σ(z) = ... where it defines σ: a formula that is the function
    itself (tanh) is written out in exponentials, not as tanh(z) = tanh(z)."""
    formula = sp.sympify(act.formula(_z())) if act.elementwise and act.formula else None
    if isinstance(formula, sp.Function) and formula.args == (_z(),):
        return latex(formula.rewrite(sp.exp))
    return activation_formula(act)


@cache
def activation_derivative(act: registry.Activation) -> str:
    """The right-hand side of σ'(z) = ..., in σ(z) where it is registered so; a layer-wide σ
    gives its Jacobian entry, ∂a_j/∂z_k = ...."""
    if not act.elementwise:
        j, k = sp.symbols("j k", integer=True)
        entry = registry.softmax_jacobian_entry(sp.Symbol("a_j"), sp.Symbol("a_k"),
                                                sp.KroneckerDelta(j, k))
        return rf"\frac{{\partial a_j}}{{\partial z_k}} = {latex(entry)}"
    if act.derivative is None:
        return GENERIC_DERIVATIVE
    z = _z()
    if act.of_output is not None:  # in σ(z), printed as the documents name it
        return latex(sp.sympify(act.of_output(sp.Symbol(rf"{act.latex}(z)"))))
    return latex(sp.sympify(act.derivative(z)))


def unit_latex(form: UnitForm, unit: str = "j", other: str = "k") -> str:
    """A layer-wide form for unit j, reductions written as sums over k."""
    def at(s: sp.Symbol, i: str) -> sp.Symbol:
        return sp.Symbol(f"{s.name}_{i}")

    expr = form.expr.xreplace({s: at(s, unit) for s in form.args})
    for r in reversed(form.reductions):
        body = r.body.xreplace({s: at(s, other) for s in form.args})
        k = sp.Symbol(other)
        reduced = sp.Sum(body, (k, 1, sp.Symbol("n"))) if r.kind == "sum" else None
        if reduced is None:
            raise ValueError(f"no LaTeX for the {r.kind} reduction {r.name}")
        expr = expr.xreplace({r.name: reduced})
    return _sums_over(latex(expr), other)


def _sums_over(tex: str, index: str) -> str:
    """\\sum_{k=1}^{n} as \\sum_k: the layer's units, as the documents write it."""
    return tex.replace(rf"\sum_{{{index}=1}}^{{n}}", rf"\sum_{index}")


@cache
def cost_formula(cost: registry.Cost) -> str:
    """The right-hand side of C = ..., as a sum over the output units j."""
    terms = registry.per_unit(cost)
    if terms is None:
        return rf"\text{{{cost.name}}}(a, y)"
    aj, yj = sp.Symbol("a_j"), sp.Symbol("y_j")
    term = sp.sympify(terms[0](aj, yj))
    coefficient, rest = term.as_coeff_Mul()
    if coefficient.is_Rational and coefficient != 1 and coefficient != -1:
        return rf"{latex(coefficient)} \sum_j {latex(rest)}"
    if coefficient == -1:
        return rf"-\sum_j {_grouped(rest)}"
    return rf"\sum_j {_grouped(term)}"


def _grouped(expr: sp.Expr) -> str:
    tex = latex(expr)
    return rf"\bigl[{tex}\bigr]" if expr.is_Add else tex


@cache
def cost_gradient(cost: registry.Cost) -> str:
    """The right-hand side of ∂C/∂a_j = ...."""
    terms = registry.per_unit(cost)
    if terms is None:
        return rf"\partial\,\text{{{cost.name}}}/\partial a_j"
    return latex(sp.sympify(terms[1](sp.Symbol("a_j"), sp.Symbol("y_j"))))


def plain(expr: sp.Expr) -> str:
    """Plain text for a generated module's docstring: a*(1 - a)."""
    return StrPrinter().doprint(expr)


def unit_plain(form: UnitForm) -> str:
    """A layer-wide form in plain text: a*t - y, where t = Σ_k y_k."""
    text = plain(form.expr)
    if form.reductions:
        text += ", where " + ", ".join(
            f"{r.name} = {'Σ' if r.kind == 'sum' else 'max'}_k {plain(r.body)}"
            for r in form.reductions)
    return text

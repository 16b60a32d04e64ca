"""What each claim of the general theorem says, in plain text and in index-notation LaTeX.

The LaTeX shows the formula the recursion actually computed (printed from its
trace), set equal to the derivative it is claimed to be, so a reader sees what
was checked: for ``backprop_deltas`` with a generic σ, the step reads
δ^{(l)}_k = σ'(z^{(l)}_k) Σ_{i=1}^{n_{l+1}} w^{(l+1)}_{ik} δ^{(l+1)}_i = ∂C/∂z^{(l)}_k.
"""

from __future__ import annotations

import sympy as sp

from ..core import registry
from ..printing import forms
from .indexed import display, latex

# name: (plain text, LaTeX left side, LaTeX right side, layer, parameter)
LEMMAS = {
    "base case": ("base case: the recursion's delta^(L)_k is dC/dz^(L)_k, for every width n_L",
             r"\delta^{(L)}_{k}", r"\frac{\partial C}{\partial z^{(L)}_{k}}", "L", None),
    "step": ("step: if delta^(l+1) = dC/dz^(l+1), the recursion's delta^(l)_k is dC/dz^(l)_k, "
             "for every layer l below L and widths n_l, n_(l+1)",
             r"\delta^{(l)}_{k}", r"\frac{\partial C}{\partial z^{(l)}_{k}}", "l", None),
    "dC/dW_l": ("parameters: the recursion's dC/dw^(l)_jk is dC/dw^(l)_jk = delta^(l)_j a^(l-1)_k, "
          "for every layer l and widths n_l, n_(l-1)",
          r"\Bigl(\frac{\partial C}{\partial W_l}\Bigr)_{jk}",
          r"\frac{\partial C}{\partial w^{(l)}_{jk}}", "l", "W"),
    "dC/db_l": ("parameters: the recursion's dC/db^(l)_j is dC/db^(l)_j = delta^(l)_j, "
          "for every layer l and width n_l",
          r"\Bigl(\frac{\partial C}{\partial b_l}\Bigr)_{j}",
          r"\frac{\partial C}{\partial b^{(l)}_{j}}", "l", "b"),
}


def lemma_statement(name: str, expr: sp.Expr | None,
                    ranges: dict | None = None) -> tuple[str, str, str | None]:
    """(plain text, LaTeX, parameter) of a structural lemma; ``expr`` is what was traced,
    shown in normal form (its free indices in ``ranges``)."""
    text, left, right, _, parameter = LEMMAS[name]
    if expr is None:
        return text, rf"{left} = {right}", parameter
    return text, rf"{left} = {latex(display(expr, ranges or {}))} = {right}", parameter


def activation_statement(act: registry.Activation) -> tuple[str, str]:
    return (f"{act.name}: the registered derivative is d/dz of the formula",
            rf"\frac{{d}}{{dz}}\,{forms.activation_formula(act)} = "
            rf"{forms.activation_derivative(act)}")


def cost_statement(cost: registry.Cost) -> tuple[str, str]:
    return (f"{cost.name}: the registered dC/da_k is d/da_k of the cost, for every width n_L",
            rf"\frac{{\partial}}{{\partial a_k}}\Bigl({forms.cost_formula(cost)}\Bigr) = "
            + forms.cost_gradient(cost).replace("_j", "_k"))


def jacobian_statement(act: registry.Activation, registered: sp.Expr) -> tuple[str, str]:
    """``registered``: the registered entry ∂a_j/∂z_k, in a_j, a_k and [j = k]."""
    return (f"{act.name}: the registered Jacobian is that of e^z_j / sum_m e^z_m, for every "
            "width n_l",
            r"\frac{\partial}{\partial z_k}\,\frac{e^{z_j}}{\sum_{m=1}^{n_l} e^{z_m}}"
            rf" = {latex(registered)}")

"""Function lemmas: σ', the softmax Jacobian and the cost gradient against their formulas, and
the forms the code is printed from against what they stand for.

The generated code computes σ' from a = σ(z) where the registry writes it so, softmax
shifted by its maximum, softmax's vector-Jacobian product without forming the
Jacobian, and δ_L in a closed form without the division by a. Each of those is SymPy
in the registry (``of_output``, ``stable``, ``vjp``, ``OutputDelta.form``) and each is
proved here, exactly, equal to what it stands for, at the widths of the network at hand
(the general theorem proves them for every width: ``registry_lemmas``).
"""

from __future__ import annotations

import sympy as sp

from ..core import registry
from ..core.functions import softmax_formula
from ..core.network import Network
from ..printing.forms import latex
from .lemmas import Lemma, _check, activation_lemma, cost_lemma, softmax_lemma


def of_output_lemma(act: registry.Activation) -> Lemma:
    """σ'(z) = of_output(σ(z)): σ' written in the output a, as the code computes it."""
    assert act.of_output is not None
    assert act.formula is not None
    assert act.derivative is not None
    z = sp.Dummy("z")
    in_a = latex(sp.sympify(act.of_output(sp.Symbol("a"))))
    return _check(f"{act.name}' in a", f"{act.name}'(z) = {in_a} with a = {act.name}(z)",
                  rf"{act.latex}'(z) = {in_a}, \quad a = {act.latex}(z)",
                  sp.sympify(act.derivative(z)), sp.sympify(act.of_output(act.formula(z))))


def softmax_form_lemmas(act: registry.Activation, n: int) -> list[Lemma]:
    """Softmax's unit form is its formula; its shifted form is the same for every shift m (in
    particular its maximum); its VJP form is Jᵀ v with the registered Jacobian."""
    assert act.layer is not None
    assert act.stable is not None
    assert act.vjp is not None
    z = list(sp.symbols(f"z1:{n + 1}"))
    a = list(sp.symbols(f"a1:{n + 1}"))
    v = list(sp.symbols(f"v1:{n + 1}"))
    m = sp.Symbol("m")
    stable = act.stable.on_lists(z)
    stable = [e.xreplace({e2: m for e2 in e.atoms(sp.Max)}) for e in stable]  # any shift m
    jacobian = act.jacobian(z, a)
    return [
        _check(f"{act.name} form (n={n})",
               f"the unit form of {act.name} on {n} units = its formula",
               r"a_j = \frac{e^{z_j}}{\sum_k e^{z_k}}",
               sp.Matrix(act.layer.on_lists(z)), sp.Matrix(softmax_formula(z))),
        _check(f"{act.name} shifted (n={n})",
               f"{act.name} shifted by any m (its maximum in the code) = {act.name}",
               r"\frac{e^{z_j - m}}{\sum_k e^{z_k - m}} = \frac{e^{z_j}}{\sum_k e^{z_k}}",
               sp.Matrix(stable), sp.Matrix(act.layer.on_lists(z))),
        _check(f"{act.name} VJP (n={n})", f"the VJP form of {act.name} on {n} units = J^T v",
               r"a_j \bigl(v_j - \textstyle\sum_k v_k a_k\bigr) = (J^{T} v)_j",
               sp.Matrix(act.vjp.on_lists(a, v)), jacobian.T * sp.Matrix(v)),
    ]


def output_delta_lemma(cost: registry.Cost, act: registry.Activation, n: int) -> Lemma | None:
    """The closed form of δ_L equals J_σ(z_L)ᵀ ∂C/∂a_L, the product it replaces."""
    form = cost.output_delta(act.name)
    if form is None:
        return None
    y = list(sp.symbols(f"y1:{n + 1}"))
    if act.elementwise:  # a = σ(z) from the formula, the Jacobian diag σ'(z)
        assert act.formula is not None
        assert act.derivative is not None
        z = list(sp.symbols(f"z1:{n + 1}"))
        a = [act.formula(zj) for zj in z]
        jacobian = sp.diag(*[act.derivative(zj) for zj in z])
    else:  # softmax: its Jacobian in terms of a
        a = list(sp.symbols(f"a1:{n + 1}"))
        jacobian = act.jacobian(a, a)
    return _check(f"{cost.name} output delta (n={n})",
                  f"the closed form of delta_L for {cost.name} after {act.name} = J^T dC/da",
                  rf"\delta_L = J_{{{act.latex}}}^{{T}}\, \partial C/\partial a_L",
                  sp.Matrix(form.formula(a, y)),
                  jacobian.T * sp.Matrix(cost.gradient(a, y)))


def function_lemmas(net: Network) -> list[Lemma]:
    """σ', the softmax Jacobian and the cost gradient against their formulas, and every form
    the code is printed from against what it stands for (below)."""
    found: list[Lemma] = []
    for l, name in enumerate(net.activations, start=1):
        act = registry.ACTIVATIONS[name]
        if act.elementwise and act.formula is not None:
            lemmas = [activation_lemma(act)]
            if act.of_output is not None:
                lemmas.append(of_output_lemma(act))
        elif not act.elementwise:
            lemmas = [softmax_lemma(act, net.widths[l])]
            if act.layer is not None:
                lemmas += softmax_form_lemmas(act, net.widths[l])
        else:
            continue
        found += [lem for lem in lemmas if lem.name not in {f.name for f in found}]
    found.append(cost_lemma(net.cost_entry, net.widths[-1]))
    closed = output_delta_lemma(net.cost_entry, net.activation(net.L), net.widths[-1])
    if closed is not None:
        found.append(closed)
    return found

"""The forms the code is printed from, proved for every width (the theorem's side of
``function_lemmas``): σ' written in a, softmax shifted, softmax's VJP, the closed δ_L."""

from __future__ import annotations

import time

import sympy as sp

from ..core import registry
from ..core.forms import UnitForm
from . import general
from .claims import Claim
from .function_lemmas import of_output_lemma
from .index_entries import A, J, Y, Z, fresh, jacobian_entry
from .indexed import LAYER, WIDTH

V = sp.IndexedBase("v")  # the vector a VJP pulls back


def form_claims(hidden: registry.Activation, out: registry.Activation,
                cost: registry.Cost) -> list[Claim]:
    claims = []
    for act in list({a.name: a for a in (hidden, out)}.values()):
        if act.elementwise and act.of_output is not None:
            claims.append(_lemma_claim(of_output_lemma(act)))
        elif not act.elementwise and act.stable is not None and act.vjp is not None:
            claims += [_shifted_claim(act), _vjp_claim(act)]
    form = cost.output_delta(out.name)
    if form is not None:
        claims.append(_output_delta_claim(cost, out, form.form))
    return claims


def _lemma_claim(lemma) -> Claim:
    return Claim(lemma.statement, lemma.latex, "general", "proved" if lemma.holds else "failed",
                 "symbolic identity in z (exact)", name=lemma.name, entry=lemma.entry,
                 residual=lemma.residual, seconds=lemma.seconds)


def _entry(layer):
    def entry(s: sp.Symbol, i: sp.Expr) -> sp.Expr:
        return {"z": Z[layer, i], "a": A[layer, i], "v": V[i], "y": Y[i]}[s.name]
    return entry


def _outcome_claim(name: str, statement: str, latex: str, identity: general.Identity,
                   started: float) -> Claim:
    outcome = general.check(identity)
    return Claim(statement, latex, "general", outcome.status, outcome.how, name=name,
                 entry=outcome.entry, residual=outcome.residual,
                 seconds=time.perf_counter() - started)


def _indexed(form: UnitForm, layer, free_max: dict | None = None) -> sp.Expr:
    """Unit J of ``form`` at a symbolic width; a max reduction becomes a free symbol m (the
    identity then holds for every m, the maximum among them)."""
    kept = tuple(r for r in form.reductions if r.kind == "sum")
    expr = form.expr.xreplace(free_max or {})
    reductions = tuple(r.__class__(r.name, r.kind, r.body.xreplace(free_max or {}))
                       for r in kept)
    return UnitForm(form.args, expr, reductions).indexed(_entry(layer), J, WIDTH[layer], fresh)


def _shifted_claim(act: registry.Activation) -> Claim:
    started = time.perf_counter()
    assert act.stable is not None
    assert act.layer is not None
    m = sp.Symbol("m", real=True)
    maxima = {r.name: m for r in act.stable.reductions if r.kind == "max"}
    lhs = sp.expand(_indexed(act.stable, LAYER, maxima), power_exp=True)
    rhs = _indexed(act.layer, LAYER)
    return _outcome_claim(
        f"{act.name} shifted", f"for every width, {act.name} shifted by any m (its maximum in "
        f"the code) is {act.name}",
        r"\frac{e^{z_j - m}}{\sum_k e^{z_k - m}} = \frac{e^{z_j}}{\sum_k e^{z_k}}",
        general.Identity(lhs, rhs, {J: (1, WIDTH[LAYER])}, [WIDTH[LAYER]]), started)


def _vjp_claim(act: registry.Activation) -> Claim:
    started = time.perf_counter()
    assert act.vjp is not None
    k = fresh()
    pulled = sp.Sum(jacobian_entry(act, LAYER, k, J, lambda i: A[LAYER, i]) * V[k],
                    (k, 1, WIDTH[LAYER]))
    return _outcome_claim(
        f"{act.name} VJP", f"for every width, the VJP form of {act.name} is J^T v",
        r"a_j \bigl(v_j - \textstyle\sum_k v_k a_k\bigr) = \sum_k J_{kj} v_k",
        general.Identity(_indexed(act.vjp, LAYER), pulled, {J: (1, WIDTH[LAYER])},
                         [WIDTH[LAYER]]), started)


def _output_delta_claim(cost: registry.Cost, act: registry.Activation, form: UnitForm) -> Claim:
    started = time.perf_counter()
    layer = LAYER
    terms = registry.per_unit(cost)
    name = f"{cost.name} output delta"
    statement = f"for every width, the closed form of delta_L for {cost.name} after " \
                f"{act.name} is J^T dC/da"
    latex = rf"\delta_L = J_{{{act.latex}}}^{{T}}\, \partial C/\partial a_L"
    if terms is None:
        return Claim(statement, latex, "general", "failed", "the cost is written on lists: "
                     "no per-unit gradient to compare with", name=name)
    k = fresh()
    gradient = sp.sympify(terms[1](A[layer, k], Y[k]))
    if act.elementwise:
        assert act.formula is not None
        assert act.derivative is not None
        closed = form.expr.xreplace({form.args[0]: act.formula(Z[layer, J]), form.args[1]: Y[J]})
        product = act.derivative(Z[layer, J]) * gradient.xreplace({k: J}).xreplace(
            {A[layer, J]: act.formula(Z[layer, J])})
    else:
        closed = _indexed(form, layer)
        product = sp.Sum(jacobian_entry(act, layer, k, J, lambda i: A[layer, i]) * gradient,
                         (k, 1, WIDTH[layer]))
    return _outcome_claim(name, statement, latex, general.Identity(
        closed, product, {J: (1, WIDTH[layer])}, [WIDTH[layer]]), started)

"""Claims about the registry entries the general theorem rests on.

The structural lemmas keep σ, σ' and softmax opaque, so they hold for any
activation; what ties them to a concrete one is proved here:

- σ'(z) = d/dz σ(z) from the explicit formula (``lemmas.activation_lemma``, symbolic in z);
- the registered ∂C/∂a_k = ∂/∂a_k Σ_j term(a_j, y_j), for a symbolic width n_L;
- the registered softmax Jacobian = ∂/∂z_k of e^{z_j} / Σ_m e^{z_m}, for a symbolic width.

The registry's functions take lists, so the index form reads them on one or two
entries (``cost_term``, ``jacobian_entry``). That they act entry by entry is an
assumption about Python code, checked only where it was run: at widths 1..4 the
list functions agree with the entry formulas (``entrywise_claim``, scoped so). The per-width
lemmas of the per-network prover (``lemmas``) are a cross-check (``per_width``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import sympy as sp

from ..core import registry
from . import general, lemmas
from .claims import Claim
from .exact import first_difference
from .form_claims import form_claims
from .index_entries import A, J, K, Y, Z, jacobian_entry
from .indexed import DEPTH, LAYER, WIDTH, readable
from .statements import activation_statement, cost_statement, jacobian_statement
from .sums import normal

WIDTHS = general.WIDTHS


def _activations(hidden: registry.Activation, out: registry.Activation):
    return list({a.name: a for a in (hidden, out)}.values())


def function_claims(hidden: registry.Activation, out: registry.Activation,
                    cost: registry.Cost) -> list[Claim]:
    """σ' (each concrete elementwise σ), the softmax Jacobian, the cost gradient; entrywise."""
    claims: list[Claim] = []
    for act in _activations(hidden, out):
        if not act.elementwise:
            claims.append(_jacobian_claim(act))
        elif act.formula is not None:
            claims.append(_activation_claim(act))
    claims.append(_cost_claim(cost))
    claims.append(entrywise_claim(hidden, out, cost))
    return claims + form_claims(hidden, out, cost)


def _activation_claim(act: registry.Activation) -> Claim:
    started = time.perf_counter()
    text, tex = activation_statement(act)
    lemma = lemmas.activation_lemma(act)
    return Claim(text, tex, "general", "proved" if lemma.holds else "failed",
                 "symbolic identity in z (exact)", name=f"{act.name}'", entry=lemma.entry,
                 residual=lemma.residual, seconds=time.perf_counter() - started)


def registered_jacobian(act: registry.Activation) -> sp.Expr:
    """The registered ∂a_j/∂z_k in a_j, a_k and [j = k], for display."""
    entry = jacobian_entry(act, LAYER, J, K, lambda i: sp.IndexedBase("a")[i])
    same = (1, WIDTH[LAYER])
    return readable(sp.factor_terms(normal(entry, {J: same, K: same})))


def _jacobian_claim(act: registry.Activation) -> Claim:
    started = time.perf_counter()
    text, tex = jacobian_statement(act, registered_jacobian(act))
    outcome = general.check(general.softmax_formula_lemma(act))
    return Claim(text, tex, "general", outcome.status, outcome.how,
                 name=f"{act.name} Jacobian", entry=outcome.entry, residual=outcome.residual,
                 seconds=time.perf_counter() - started)


def _cost_claim(cost: registry.Cost) -> Claim:
    started = time.perf_counter()
    text, tex = cost_statement(cost)
    outcome = general.check(general.cost_gradient_lemma(cost))
    return Claim(text, tex, "general", outcome.status, outcome.how,
                 name=f"{cost.name} gradient", entry=outcome.entry, residual=outcome.residual,
                 seconds=time.perf_counter() - started)


# ---------------------------------------------------------------- entry by entry


def entrywise_claim(hidden: registry.Activation, out: registry.Activation,
                    cost: registry.Cost) -> Claim:
    """The registry's list functions are the index formulas entry by entry: by construction
    where they are written unit by unit (proved), else compared at widths 1..4 (checked)."""
    started = time.perf_counter()
    problems = list(_cost_problems(cost))
    for act in _activations(hidden, out):
        if not act.elementwise:
            problems += list(_jacobian_problems(act))
    what = [f"the {cost.name} cost is a sum of per-unit terms and its gradient acts entry by "
            "entry"] + [f"the {a.name} Jacobian is [j = k] J_jj + (1 - [j = k]) J_jk"
                        for a in _activations(hidden, out) if not a.elementwise]
    by_units = registry.per_unit(cost) is not None and all(
        type(a).jacobian is registry.Activation.jacobian for a in _activations(hidden, out))
    low, high = WIDTHS[0], WIDTHS[-1]
    if problems:
        status, how = "failed", f"compared exactly at widths {low}..{high}"
    elif by_units:
        status = "proved"
        how = (f"by construction: the cost is written unit by unit (SumOfTerms, TermWise) and "
               f"a Jacobian entry by entry, so they are the same at every width (also compared "
               f"exactly at widths {low}..{high})")
    else:
        status = "checked"
        how = (f"checked at widths {low}..{high} only: the cost's formula or gradient takes a "
               "list and is not written unit by unit (registry.SumOfTerms, TermWise), so what "
               f"it does on wider layers is not seen; checked, not proved")
    return Claim(
        ("for every width" if by_units else f"at widths {low}..{high}")
        + ", the registry's list functions act entry by entry: " + "; ".join(what),
        r"C = \sum_{j=1}^{n_L} c\bigl(a^{(L)}_j, y_j\bigr),\quad "
        r"\Bigl(\frac{\partial C}{\partial a^{(L)}}\Bigr)_k = g\bigl(a^{(L)}_k, y_k\bigr)",
        "general", status, how, name="entrywise", residual="; ".join(problems)[:300],
        seconds=time.perf_counter() - started)


def _cost_problems(cost: registry.Cost) -> Iterator[str]:
    for n in WIDTHS:
        if n < cost.min_outputs:
            continue
        a = [A[DEPTH, i] for i in range(1, n + 1)]
        y = [Y[i] for i in range(1, n + 1)]
        total = sum(general.cost_term(cost, i) for i in range(1, n + 1))
        if first_difference(sp.sympify(cost.formula(a, y)), total) is not None:
            yield f"width {n}: the {cost.name} cost is not the sum of its per-unit terms"
            return
        per_unit = [general.cost_gradient_term(cost, i + 1).xreplace(dict(zip(
            [A[DEPTH, i + 1], Y[i + 1]], [a[i], y[i]]))) for i in range(n)]
        listed = list(cost.gradient(a, y))
        if len(listed) != n or first_difference(sp.Matrix(listed), sp.Matrix(per_unit)):
            yield f"width {n}: the registered {cost.name} gradient is not entry by entry"
            return


def _a(i: sp.Expr) -> sp.Expr:
    return A[LAYER, i]


def _jacobian_problems(act: registry.Activation) -> Iterator[str]:
    for n in WIDTHS[1:]:
        z, acts = [Z[LAYER, i] for i in range(1, n + 1)], [_a(i) for i in range(1, n + 1)]
        lifted = sp.Matrix(n, n, lambda r, c: jacobian_entry(act, LAYER, r + 1, c + 1, _a))
        found = first_difference(act.jacobian(z, acts), lifted)
        if found is not None:
            yield (f"width {n}: the registered {act.name} Jacobian differs from its entry "
                   f"formula at {found[0]} ({found[1]})")
            return


# ---------------------------------------------------------------- the per-network prover's lemmas


def per_width(hidden: registry.Activation, out: registry.Activation,
              cost: registry.Cost) -> list[lemmas.Lemma]:
    """The per-network prover's own function lemmas at each width 1..4, as a cross-check."""
    found = [lemmas.cost_lemma(cost, n) for n in WIDTHS if n >= cost.min_outputs]
    for act in _activations(hidden, out):
        if not act.elementwise:
            found += [lemmas.softmax_lemma(act, n) for n in WIDTHS[1:]]
    return found

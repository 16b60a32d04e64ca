"""Claims about the registry entries the general theorem rests on.

The structural lemmas keep σ, σ' and softmax opaque, so they hold for any
activation; what ties them to a concrete one is proved here:

- σ'(z) = d/dz σ(z) from the explicit formula (``lemmas.activation_lemma``, symbolic in z);
- the registered ∂C/∂a_k = ∂/∂a_k Σ_j term(a_j, y_j), for symbolic width n_L;
- the registered softmax Jacobian = ∂/∂z_k of e^{z_j} / Σ_m e^{z_m}, for symbolic width.

The registry's functions take lists, so the index form reads them on one or two
entries (``cost_term``, ``jacobian_entry``). That they act entry by entry is an
assumption about Python code, checked, not proved: at widths 1..4 the list
functions agree with the entry formulas. The per-width lemmas of the
per-network prover (``lemmas``) are run at the same widths as a cross-check.
"""

from __future__ import annotations

import time

import sympy as sp

from ..core import registry
from . import general, lemmas
from .exact import first_difference
from .indexed import DEPTH, LAYER, WIDTH, A, J, K, Y, Z, jacobian_entry, readable
from .statements import Claim, activation_statement, cost_statement, jacobian_statement
from .sums import normal

WIDTHS = general.WIDTHS


def function_claims(hidden: registry.Activation, out: registry.Activation,
                    cost: registry.Cost) -> list[Claim]:
    claims: list[Claim] = []
    for act in {a.name: a for a in (hidden, out)}.values():
        if not act.elementwise:
            claims += _jacobian_claims(act)
        elif act.formula is not None:
            claims.append(_activation_claim(act))
    claims += _cost_claims(cost)
    return claims


def _timed(claim: Claim, started: float) -> Claim:
    claim.seconds = time.perf_counter() - started
    return claim


def _activation_claim(act: registry.Activation) -> Claim:
    started = time.perf_counter()
    text, tex = activation_statement(act)
    lemma = lemmas.activation_lemma(act)
    return _timed(Claim(f"{act.name}'", "function", text, tex,
                        "proved" if lemma.holds else "failed",
                        "symbolic identity in z (exact)", residual=lemma.residual), started)


def _jacobian_claims(act: registry.Activation) -> list[Claim]:
    started = time.perf_counter()
    a = sp.IndexedBase("a")
    entry = jacobian_entry(act, LAYER, J, K, lambda i: a[i])
    same = (1, WIDTH[LAYER])
    registered = sp.factor_terms(normal(entry, {J: same, K: same}))
    text, tex = jacobian_statement(act, readable(registered))
    outcome = general.check(general.softmax_formula_lemma(act))
    symbolic = _timed(Claim(f"{act.name} Jacobian", "function", text, tex, outcome.status,
                            outcome.how, entry=outcome.entry, residual=outcome.residual), started)
    started = time.perf_counter()
    bad = None
    for n in WIDTHS[1:]:
        z, acts = [Z[LAYER, i] for i in range(1, n + 1)], [A[LAYER, i] for i in range(1, n + 1)]
        lists = act.jacobian(z, acts)
        lifted = sp.Matrix(n, n, lambda r, c: jacobian_entry(act, LAYER, r + 1, c + 1, _a))
        found = first_difference(lists, lifted)
        if found is not None:
            bad = (n, found)
            break
    entrywise = Claim(
        f"{act.name} Jacobian entrywise", "function",
        f"the registry's {act.name} Jacobian on a list is the index formula entry by entry",
        r"J_{jk} = [j = k]\,J_{jj} + \bigl(1 - [j = k]\bigr)\,J_{jk}\big|_{j \ne k}",
        "proved" if bad is None else "failed",
        f"instantiated: widths {WIDTHS[1]}..{WIDTHS[-1]} (exact)",
        entry=None if bad is None else bad[1][0],
        residual="" if bad is None else f"width {bad[0]}: {bad[1][1]}")
    checks = [lemmas.softmax_lemma(act, n) for n in WIDTHS[1:]]
    failed = next((lem for lem in checks if not lem.holds), None)
    cross = Claim(f"{act.name} Jacobian per width", "cross-check",
                  f"the per-network prover's {act.name} lemma at widths "
                  f"{WIDTHS[1]}..{WIDTHS[-1]}", tex, "proved" if failed is None else "failed",
                  "per-network prover (lemmas.softmax_lemma), exact, at each width",
                  residual="" if failed is None else f"{failed.name}: {failed.residual}")
    return [symbolic, _timed(entrywise, started), cross]


def _a(i: sp.Expr) -> sp.Expr:
    return A[LAYER, i]


def _cost_claims(cost: registry.Cost) -> list[Claim]:
    started = time.perf_counter()
    text, tex = cost_statement(cost)
    outcome = general.check(general.cost_gradient_lemma(cost))
    symbolic = _timed(Claim(f"{cost.name} gradient", "function", text, tex, outcome.status,
                            outcome.how, entry=outcome.entry, residual=outcome.residual), started)
    started = time.perf_counter()
    problem = ""
    for n in WIDTHS:
        if n < cost.min_outputs:
            continue
        a = [A[DEPTH, i] for i in range(1, n + 1)]
        y = [Y[i] for i in range(1, n + 1)]
        total = sum(general.cost_term(cost, i) for i in range(1, n + 1))
        if first_difference(sp.sympify(cost.formula(a, y)), total) is not None:
            problem = f"width {n}: the cost is not the sum of its per-unit terms"
            break
        per_unit = [sp.sympify(cost.gradient([a[i]], [y[i]])[0]) for i in range(n)]
        listed = cost.gradient(a, y)
        if len(listed) != n or first_difference(sp.Matrix(listed), sp.Matrix(per_unit)):
            problem = f"width {n}: the registered gradient is not entry by entry"
            break
    entrywise = Claim(
        f"{cost.name} entrywise", "function",
        f"the registry's {cost.name} on a list is the sum of per-unit terms, and its gradient "
        "entry k depends on a_k, y_k only",
        r"C = \sum_{j=1}^{n_L} c\bigl(a^{(L)}_j, y_j\bigr),\quad "
        r"\Bigl(\frac{\partial C}{\partial a^{(L)}}\Bigr)_k = g\bigl(a^{(L)}_k, y_k\bigr)",
        "failed" if problem else "proved",
        f"instantiated: widths {WIDTHS[0]}..{WIDTHS[-1]} (exact)", residual=problem)
    checks = [lemmas.cost_lemma(cost, n) for n in WIDTHS if n >= cost.min_outputs]
    failed = next((lem for lem in checks if not lem.holds), None)
    cross = Claim(f"{cost.name} gradient per width", "cross-check",
                  f"the per-network prover's {cost.name} gradient lemma at widths "
                  f"{WIDTHS[0]}..{WIDTHS[-1]}", tex, "proved" if failed is None else "failed",
                  "per-network prover (lemmas.cost_lemma), exact, at each width",
                  residual="" if failed is None else f"{failed.name}: {failed.residual}")
    return [symbolic, _timed(entrywise, started), cross]


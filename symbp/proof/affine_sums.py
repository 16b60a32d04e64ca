"""Index sums whose entries are indexed by affine expressions: a normal form that sees through a
change of summation index.

A convolution's formulas index one tensor by a shifted or reflected index: the backward pass
reads Σ_s K[o, c, k + 1 − s] δ[o, u + s − k + p], the chain rule gives Σ_t δ[o, t] K[o, c, u −
t + 1 + p]. They are one sum, over t = u + s − k + p. ``sums.normal`` compares sums by their
bodies and ranges and cannot see that; this normal form can, for sums of products whose
indices are affine in the summation indices with coefficients ±1.

Every term becomes a sum over the integer points of a polytope (``affine_terms``): its
summation indices, the linear inequalities they satisfy (each sum's range, each zero-padding
bracket [1 ≤ u ≤ N], ``layers.base.Inside``) and equalities (Kronecker deltas). A sum is read
as the sum over the integers of its range, none where last < first: what it is at every size
a network has (SymPy reads a reversed range otherwise, Karr's convention; no network has one).
Each step is an equivalence of such sums over the integers:

- an equality with a summation index of coefficient ±1 is solved for it and substituted
  everywhere (Σ_i [i = e] f(i) = f(e), with e's range kept as inequalities);
- the summation indices are changed, by a shift or a reflection (i' = ±i + e, a bijection of
  the integers), so that each stands alone in the first entry that reads it, entries taken
  in a fixed order (by name); then they are renamed canonically;
- an inequality free of summation indices is dropped where the free indices' ranges imply
  it, and the term is 0 where they refute it; else it stays, as a condition of the term;
- an inequality implied by another with the same summation part and a smaller constant is
  dropped;
- an index held by B ≤ q·i ≤ B + q − 1 (q > 0: a pooling window of q positions) has the one
  value ⌊(B − 1)/q⌋ + 1, and is substituted; an inequality with such floors is rewritten
  without them (⌊X/q⌋ ≤ R iff X ≤ q R + q − 1) before it is decided.

Terms with the same summation part are then added. Sound: each rule is an identity of finite
sums over the integers (a sum with no points is 0); incomplete: equal sums that need other
rules stay unequal, and the claim is "not proved".
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import sympy as sp

from ..core.layers.symbolic import FAMILIES
from .affine_terms import Term, affine_form, summation_index, terms
from .expanded import expand
from .index_entries import replace_entries
from .sums import ME, OTHER, orders_by_role, srepr

Ranges = Mapping[sp.Symbol, tuple[sp.Expr, sp.Expr]]


# ---------------------------------------------------------------- one term in normal form


def _solve_equalities(t: Term) -> Term:
    """Each equality with a summation index of coefficient ±1 solved for it and substituted."""
    bound, eqs, kept = list(t.bound), list(t.eqs), []
    factor, ineqs = t.factor, list(t.ineqs)
    while eqs:
        e = eqs.pop(0)
        found = affine_form(e, tuple(bound))
        unit = None if found is None else next(
            (i for i, c in found[0].items() if c in (1, -1)), None)
        if unit is None:
            kept.append(e)
            continue
        coefficients = found[0]  # type: ignore[index]
        c = coefficients[unit]
        value = sp.expand(-(e - c * unit) / c)  # c·i + others = 0  →  i = −others / c
        if not value.is_integer:  # [i = 1/2] holds for no index i: not ours to substitute
            kept.append(e)
            continue
        sub = {unit: value}
        bound.remove(unit)
        factor = _substitute(factor, sub)
        ineqs = [sp.expand(x.xreplace(sub)) for x in ineqs]
        eqs = [sp.expand(x.xreplace(sub)) for x in eqs]
        kept = [sp.expand(x.xreplace(sub)) for x in kept]
    return Term(factor, tuple(bound), tuple(ineqs), tuple(kept))


def _free_equalities(t: Term, ranges: Ranges) -> Term:
    """An equality on the free indices alone, [k = e], with k of coefficient ±1: the factor
    reads k as e (f · [k = e] is f(e) · [k = e]). The bracket [e ≤ k ≤ e] (a recurrent layer's
    last step) is that equality too, so both forms of one condition meet."""
    bound = set(t.bound)
    ineqs = [sp.expand(e) for e in t.ineqs]
    pairs = [e for e in ineqs if not e.free_symbols & bound and -e in ineqs
             and e.could_extract_minus_sign()]
    ineqs = [e for e in ineqs if e not in pairs and -e not in pairs]
    eqs = [*t.eqs, *pairs]
    factor = t.factor
    free = tuple(sorted(ranges, key=str))
    for e in eqs:
        found = None if e.free_symbols & bound else affine_form(e, free)
        unit = None if found is None else next(
            (i for i, c in found[0].items() if c in (1, -1)), None)
        if unit is not None:
            c = found[0][unit]  # type: ignore[index]
            factor = _substitute(factor, {unit: sp.expand(-(e - c * unit) / c)})
    return Term(factor, t.bound, tuple(ineqs), tuple(eqs))


def _substitute(expr: sp.Expr, sub: dict) -> sp.Expr:
    """``expr`` with ``sub`` made, every entry's indices expanded (x[k − q + q] is x[k])."""
    return replace_entries(expr.xreplace(sub), None,
                           lambda e: e.base[tuple(sp.expand(i) for i in e.indices)])


def _entries(expr: sp.Expr) -> list[sp.Indexed]:
    """The entries of ``expr`` in a fixed order: by name, then where they stand."""
    return sorted(expr.atoms(sp.Indexed), key=lambda e: (str(e.base), len(e.indices)))


def _bare(t: Term) -> Term:
    """Change the summation indices so that each stands alone at the first place it is read:
    i' = c·i + rest (c = ±1, rest integer and free of the indices not yet placed) at an
    entry's index c·i + rest, for the others fixed a bijection of the integers."""
    placed: list[sp.Symbol] = []
    while True:
        found = _next_bare(t, placed)
        if found is None:
            return t
        old, c, rest = found
        new = summation_index()
        sub = {old: sp.expand((new - rest) / c)}
        placed.append(new)
        t = Term(_substitute(t.factor, sub), tuple(new if i == old else i for i in t.bound),
                 tuple(sp.expand(x.xreplace(sub)) for x in t.ineqs),
                 tuple(sp.expand(x.xreplace(sub)) for x in t.eqs))


def _next_bare(t: Term, placed: list) -> tuple[sp.Symbol, sp.Expr, sp.Expr] | None:
    """The first index (entries by name, then position) with one unplaced summation index of
    coefficient ±1: that index, its coefficient and the rest."""
    for entry in _entries(t.factor):
        for index in entry.indices:
            free = [i for i in t.bound if i not in placed and index.has(i)]
            found = affine_form(index, t.bound) if len(free) == 1 else None
            if found is None or found[0].get(free[0]) not in (1, -1):
                continue
            c = found[0][free[0]]
            rest = sp.expand(index - c * free[0])
            if rest.is_integer:
                return free[0], c, rest
    return None


def _windows(t: Term) -> Term:
    """Summation indices held by B ≤ q·w ≤ B + q − 1 (q > 0, w = Σ ±i a combination of them)
    give w one value, ⌊(B − 1)/q⌋ + 1: the pooling window that holds position B. The first
    index of w is solved for and substituted; the other inequalities stay."""
    while True:
        found = _window(t)
        if found is None:
            return t
        (v, value), pair = found
        sub = {v: value}
        t = Term(_substitute(t.factor, sub), tuple(i for i in t.bound if i != v),
                 tuple(sp.expand(x.xreplace(sub)) for x in t.ineqs if x not in pair),
                 tuple(sp.expand(x.xreplace(sub)) for x in t.eqs))


def _window(t: Term) -> tuple[tuple[sp.Symbol, sp.Expr], tuple] | None:
    forms = []
    for e in t.ineqs:
        found = affine_form(e, t.bound)
        if found is not None and found[0]:
            forms.append((e, found[0], found[1]))
    for (e1, c1, rest1), (e2, c2, rest2) in itertools.permutations(forms, 2):
        # e1 = A − q·w ≥ 0 and e2 = q·w − B ≥ 0, with A − B = q − 1
        if set(c1) != set(c2) or any(sp.expand(c1[v] + c2[v]) != 0 for v in c1):
            continue
        first = min(c2, key=sp.default_sort_key)
        q = abs(c2[first])
        signs = {v: sp.simplify(c2[v] / q) for v in c2}
        if not (q.is_positive and q.is_integer) or any(d not in (1, -1) for d in signs.values()):
            continue
        A, B = rest1, -rest2
        if sp.expand(A - B - q + 1) != 0 or not B.is_integer:
            continue
        w_value = sp.floor((B - 1) / q) + 1
        others = sp.Add(*[signs[v] * v for v in c2 if v != first])
        return (first, sp.expand((w_value - others) / signs[first])), (e1, e2)
    return None


def _unfloor(e: sp.Expr) -> sp.Expr | None:
    """e ≥ 0 with its floors ⌊X/q⌋ (coefficient ±1, q > 0) rewritten away, an equivalent
    inequality for integers: ⌊X/q⌋ + R ≥ 0 iff X + q R ≥ 0, and −⌊X/q⌋ + R ≥ 0 iff
    q (R + 1) − 1 − X ≥ 0. None where a floor is not of that form."""
    e = sp.expand(e)
    while True:
        floors = sorted(e.atoms(sp.floor), key=sp.default_sort_key)
        if not floors:
            return e
        f = floors[0]
        c = e.coeff(f, 1)
        X, q = sp.fraction(sp.together(f.args[0]))
        rest = sp.expand(e - c * f)
        if c not in (1, -1) or rest.has(f) or not (q.is_positive and q.is_integer
                                                   and X.is_integer and rest.is_integer):
            return None
        e = sp.expand(X + q * rest if c == 1 else q * (rest + 1) - 1 - X)


def _decide(e: sp.Expr, ranges: Ranges) -> bool | None:
    """Whether e ≥ 0 for every value of the free indices in their ranges (e affine in them,
    floors of them allowed; any other symbol a size: in n_l, or in a range), or None where
    that is not known: its least value over the box of ranges, by SymPy's assumptions."""
    unfloored = _unfloor(e)
    if unfloored is None:
        return None
    sizes = set().union(*(x.free_symbols for x in unfloored.atoms(sp.Indexed)),
                        *(sp.sympify(b).free_symbols for r in ranges.values() for b in r))
    if not unfloored.free_symbols <= sizes | set(ranges):
        return None  # a symbol that is neither a free index nor a size: not ours to bound
    found = affine_form(unfloored, tuple(ranges))
    if found is None:
        return None
    coefficients, rest = found
    low, high = rest, rest
    for v, c in coefficients.items():
        first, last = ranges[v]
        if _sized(c).is_nonnegative:
            low, high = low + c * first, high + c * last
        elif _sized(c).is_nonpositive:
            low, high = low + c * last, high + c * first
        else:
            return None
    if _sized(sp.expand(low)).is_nonnegative:
        return True
    if _sized(sp.expand(high)).is_negative:
        return False
    return None


def _sized(e: sp.Expr) -> sp.Expr:
    """``e`` with every size (n_l, c_l, q_l, ...) a positive integer symbol: what it is at
    every network, which SymPy cannot know of an entry."""
    return e.xreplace({x: sp.Dummy("size", integer=True, positive=True)
                       for x in e.atoms(sp.Indexed) if x.base in FAMILIES})


def _constraints(t: Term, ranges: Ranges) -> Term | None:
    """Inequalities free of summation indices decided by the ranges (None: the term is 0),
    duplicates and inequalities implied by a stronger one with the same indices dropped."""
    kept: dict[sp.Expr, sp.Expr] = {}  # summation part -> the smallest constant seen
    conditions = []
    for e in t.ineqs:
        e = sp.expand(e)
        found = affine_form(e, t.bound)
        if found is None:
            conditions.append(e)
            continue
        coefficients, rest = found
        if not coefficients:
            decided = _decide(e, ranges)
            if decided is False:
                return None
            if decided is None:
                conditions.append(e)
            continue
        part = sp.expand(e - rest)
        if part in kept:  # rest against the kept one's, over the free indices' ranges too
            difference = sp.expand(rest - kept[part])
            if difference.is_nonnegative or _decide(difference, ranges):  # e ≥ 0 follows
                continue
            if difference.is_nonpositive or _decide(-difference, ranges):
                kept[part] = rest
                continue
            conditions.append(e)
            continue
        kept[part] = rest
    ineqs = sorted({sp.expand(p + r) for p, r in kept.items()} | set(conditions),
                   key=sp.default_sort_key)
    return Term(t.factor, t.bound, tuple(ineqs), tuple(sorted(
        {_sign(e) for e in t.eqs}, key=sp.default_sort_key)))


def _sign(e: sp.Expr) -> sp.Expr:
    e = sp.expand(e)
    return -e if e.could_extract_minus_sign() else e


def _split(t: Term) -> tuple[sp.Expr, sp.Expr]:
    """(coefficient, the factors that read a summation index)."""
    inside: list[sp.Expr] = []
    outside: list[sp.Expr] = []
    for f in sp.Mul.make_args(t.factor):
        (inside if f.free_symbols & set(t.bound) else outside).append(f)
    return sp.Mul(*outside), sp.Mul(*inside)


def _canonical(body: sp.Expr, t: Term) -> tuple:
    """The term's summation part with its indices named so that it sorts first: the indices
    in the order of their roles (``_role``, the same whatever they are named), every order of
    the indices that share a role tried (``sums.orders_by_role``)."""
    names = [sp.Symbol(f"_t{r}", integer=True) for r in range(1, len(t.bound) + 1)]
    best = None
    for order in orders_by_role(t.bound, lambda i: _role(i, body, t)):
        renamed = dict(zip(order, names))
        key = (srepr(body.xreplace(renamed)),
               tuple(sorted(srepr(sp.expand(e.xreplace(renamed))) for e in t.ineqs)),
               tuple(sorted(srepr(_sign(e.xreplace(renamed))) for e in t.eqs)))
        if best is None or key < best:
            best = key
    return (len(t.bound), *best) if best is not None else (0, "", (), ())


def _role(i: sp.Symbol, body: sp.Expr, t: Term) -> tuple:
    """What summation index i does in the term, whatever the indices are named: every factor
    and condition that reads it, with i as _me and the other summation indices as _other."""
    named = {**{b: OTHER for b in t.bound}, i: ME}
    parts = [*sp.Mul.make_args(body), *t.ineqs, *t.eqs]
    return tuple(sorted(srepr(p.xreplace(named)) for p in parts if p.has(i)))


def normal_terms(expr: sp.Expr, ranges: Ranges) -> dict[tuple, sp.Expr]:
    """``expr`` in normal form: each canonical summation part with its coefficient."""
    found: dict[tuple, sp.Expr] = {}
    for t in terms(expand(expr)):
        t = Term(_substitute(t.factor, {}), t.bound, t.ineqs, t.eqs)  # indices expanded
        t = _windows(_free_equalities(_solve_equalities(t), ranges))
        t = _bare(t)
        done = _constraints(t, ranges)
        if done is None:
            continue
        coefficient, body = _split(done)
        key = _canonical(body, done)
        found[key] = found.get(key, 0) + coefficient
    return found


def difference(lhs: sp.Expr, rhs: sp.Expr, ranges: Ranges) -> sp.Expr:
    """0 when ``lhs`` and ``rhs`` have the same normal form; else what is left of lhs − rhs,
    one summation part per term (``_s`` the part's key number)."""
    left = normal_terms(lhs, ranges)
    right = normal_terms(rhs, ranges)
    left_over = []
    for n, key in enumerate(sorted(set(left) | set(right), key=str)):
        c = sp.expand(left.get(key, 0) - right.get(key, 0))
        if c != 0:
            left_over.append(c * sp.Symbol(f"_s{n}"))
    return sp.Add(*left_over)

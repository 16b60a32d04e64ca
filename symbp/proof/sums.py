"""Index expressions brought to a normal form in which equal ones can be seen to be equal.

An index expression holds entries (``IndexedBase`` objects such as w[l+1, i, k]),
sums over symbolic ranges (``Sum(f, (i, 1, n[l]))``) and Kronecker deltas, as
SymPy's ``diff`` produces them: ∂/∂z[l, k] of Σ_m w[i, m] σ(z[l, m]) is
Σ_m [m = k] w[i, m] σ'(z[l, m]). The normal form, every rule an equivalence of
finite sums:

- sums distribute over the terms of their body; a factor that does not depend on
  a sum's index moves outside it: Σ_i c f(i) = c Σ_i f(i);
- nested sums of one product merge into one sum over several indices, whose
  order does not matter: Σ_i f(i) Σ_m g(i, m) = Σ_{i,m} f(i) g(i, m);
- a Kronecker delta on a sum's index is summed out: Σ_i [i = e] f(i) is f(e) when e
  is known to lie in the sum's range (an index of the same range), and stays a
  conditional otherwise;
- a Kronecker delta between two free indices of one range substitutes one for the
  other in its own term: [j = k] F(j, k) = [j = k] F(j, j);
- bound indices get canonical names: of all namings, the one that sorts first.

``difference`` then decides zero with ``exact.residual``, in which every sum and
every entry is an independent variable: sound (what is zero for independent
values is zero for all), and incomplete (an identity that needs more than these
rules stays "not proved").
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

import sympy as sp

from .exact import residual
from .expanded import expand

Range = tuple[sp.Expr, sp.Expr]  # (first, last), both included
Ranges = Mapping[sp.Symbol, Range]
Limit = tuple[sp.Symbol, sp.Expr, sp.Expr]
MAX_PASSES = 6
T = TypeVar("T")
MAX_ORDERS = 120  # orders of one sum's indices tried when naming them canonically


def _level(expr: sp.Basic) -> int:
    """How deeply sums nest in ``expr`` (0: no sum)."""
    return max((1 + _level(s.function) for s in expr.atoms(sp.Sum)), default=0)


def _in_range(e: sp.Expr, first: sp.Expr, last: sp.Expr, ranges: Ranges) -> bool:
    """True when e is known to lie in first..last: a number inside, or an index of that range."""
    if e.is_Integer and first.is_Integer and last.is_Integer:
        return bool(first <= e <= last)
    known = ranges.get(e)  # type: ignore[call-overload]
    return known is not None and known[0] == first and known[1] == last


def _other(delta: sp.Basic, index: sp.Symbol) -> sp.Expr | None:
    """The other side of [index = e], when e does not involve the index."""
    if not isinstance(delta, sp.KroneckerDelta):
        return None
    a, b = delta.args
    if a == index and not b.has(index):
        return b
    if b == index and not a.has(index):
        return a
    return None


def _product_sum(factors: list[sp.Expr], limits: list[Limit], ranges: Ranges) -> sp.Expr:
    """Σ over ``limits`` of the product of ``factors``, in normal form.

    Factors free of every bound index move out, sums among the factors merge in,
    deltas on a bound index are summed out, and the bound indices are renamed.
    """
    limits = list(limits)
    factors = list(factors)
    changed = True
    while changed:
        changed = False
        for n, f in enumerate(factors):  # merge an inner sum whose limits are free of ours
            if isinstance(f, sp.Sum) and any(f.has(i) for i, _, _ in limits) and not any(
                    lim.has(i) for _, a, b in f.limits for lim in (a, b) for i, _, _ in limits):
                apart = {i: sp.Dummy("i", integer=True, positive=True) for i, _, _ in f.limits}
                limits += [(apart[i], a, b) for i, a, b in f.limits]
                factors[n:n + 1] = sp.Mul.make_args(expand(f.function.xreplace(apart)))
                if any(g.is_Add for g in factors[n:]):
                    return _expand_then_sum(factors, limits, ranges)
                changed = True
                break
        for n, (index, first, last) in enumerate(limits):  # sum out [index = e]
            delta = next((f for f in factors if _other(f, index) is not None), None)
            if delta is None:
                continue
            value = _other(delta, index)
            rest = [f.xreplace({index: value}) for f in factors if f is not delta]
            del limits[n]
            inner = {**ranges, **{i: (a, b) for i, a, b in limits}}
            if _in_range(value, first, last, inner):
                factors, changed = rest, True
                break
            body = _product_sum(rest, limits, ranges)
            return sp.Piecewise((body, sp.And(sp.Le(first, value), sp.Le(value, last))),
                                (0, True))
    bound = {i for i, _, _ in limits}
    outside = [f for f in factors if not f.free_symbols & bound]
    inside = [f for f in factors if f.free_symbols & bound]
    used = [(i, a, b) for i, a, b in limits if any(f.has(i) for f in inside)]
    count = sp.Mul(*[b - a + 1 for i, a, b in limits if (i, a, b) not in used])
    if not used:
        return count * sp.Mul(*outside) * sp.Mul(*inside)
    sums = [_canonical(sp.Mul(*part), group) for part, group in _apart(inside, used)]
    return count * sp.Mul(*outside) * sp.Mul(*sums)


def _apart(factors: list[sp.Expr], limits: list[Limit]) -> list[tuple[list[sp.Expr], list[Limit]]]:
    """The factors and limits of one sum in groups that share no bound index: Σ_{i,m} f(i) g(m)
    is Σ_i f(i) · Σ_m g(m), one normal form whichever of the two a side arrived at (a batch
    norm's Σ_s δ_s (x_s − (1/B) Σ_i x_i) gives both)."""
    groups: list[tuple[list[sp.Expr], list[Limit]]] = []
    for f in factors:
        indices = {i for i, _, _ in limits if f.has(i)}
        joined = [g for g in groups if indices & {i for i, _, _ in g[1]}]
        part = [f, *(h for g in joined for h in g[0])]
        group = [lim for lim in limits if lim[0] in indices]
        group += [lim for g in joined for lim in g[1] if lim not in group]
        groups = [g for g in groups if g not in joined] + [(part, group)]
    changed = True
    while changed:  # a limit that reads another group's index joins the groups
        changed = False
        for a, b in itertools.combinations(range(len(groups)), 2):
            bound_b = {i for i, _, _ in groups[b][1]}
            bound_a = {i for i, _, _ in groups[a][1]}
            if any(lim.has(i) for _, lo, hi in groups[a][1] for lim in (lo, hi) for i in bound_b) \
                    or any(lim.has(i) for _, lo, hi in groups[b][1] for lim in (lo, hi)
                           for i in bound_a):
                merged = (groups[a][0] + groups[b][0], groups[a][1] + groups[b][1])
                groups = [g for n, g in enumerate(groups) if n not in (a, b)] + [merged]
                changed = True
                break
    order = {lim: n for n, lim in enumerate(limits)}
    return [(part, sorted(group, key=order.__getitem__)) for part, group in groups]


def _expand_then_sum(factors: list[sp.Expr], limits: list[Limit], ranges: Ranges) -> sp.Expr:
    terms = sp.Add.make_args(expand(sp.Mul(*factors)))
    return sp.Add(*[_product_sum(list(sp.Mul.make_args(t)), limits, ranges) for t in terms])


def _canonical(body: sp.Expr, limits: list[Limit]) -> sp.Sum:
    """Σ body over ``limits`` with its indices named so that the sum sorts first: the indices
    in the order of their roles (``_role``, the same whatever they are named), every order of
    the indices that share a role tried (``orders_by_role``)."""
    level = 1 + _level(body)
    names = [sp.Symbol(f"_s{level}_{r}", integer=True, positive=True)
             for r in range(1, len(limits) + 1)]
    best = None
    orders = orders_by_role(range(len(limits)), lambda n: _role(n, body, limits))
    for order in orders:
        renamed = {limits[o][0]: names[r] for r, o in enumerate(order)}
        limits_renamed = sorted(((renamed[i], a, b) for i, a, b in limits),
                                key=lambda lim: lim[0].name)
        candidate = sp.Sum(body.xreplace(renamed), *limits_renamed)
        if len(orders) == 1:  # nothing to choose between
            return candidate
        key = srepr(candidate)
        if best is None or key < best[0]:
            best = (key, candidate)
    assert best is not None
    return best[1]


@functools.lru_cache(maxsize=20000)
def srepr(expr: sp.Basic) -> str:
    """``sp.srepr(expr)``, remembered: the canonical namings compare the same parts (an index's
    role, read the same way whatever the indices are named) pass after pass."""
    return sp.srepr(expr)


def orders_by_role(items: Iterable[T], role: Callable[[T], tuple]) -> list[tuple[T, ...]]:
    """The orders of ``items`` a canonical naming tries: sorted by role, every order of the
    items that share a role, up to ``MAX_ORDERS`` orders (else the one order by role)."""
    roles: dict[tuple, list[T]] = {}
    for x in items:
        roles.setdefault(role(x), []).append(x)
    groups = [roles[r] for r in sorted(roles)]
    if math.prod(math.factorial(len(g)) for g in groups) > MAX_ORDERS:
        return [tuple(x for g in groups for x in g)]
    return [tuple(x for part in choice for x in part)
            for choice in itertools.product(*[itertools.permutations(g) for g in groups])]


# an index's role is read with it as ME and the other indices of its sum as OTHER
ME, OTHER = sp.Symbol("_me", integer=True), sp.Symbol("_other", integer=True)


def _role(n: int, body: sp.Expr, limits: list[Limit]) -> tuple:
    """What the n-th index does in the sum, whatever the indices are named: its range and
    every factor that reads it, with it as _me and the sum's other indices as _other."""
    i = limits[n][0]
    named = {**{j: OTHER for j, _, _ in limits}, i: ME}
    parts = [f for f in sp.Mul.make_args(body) if f.has(i)]
    return (srepr(sp.Tuple(*limits[n][1:]).xreplace(named)),
            *sorted(srepr(f.xreplace(named)) for f in parts))


def _free_deltas(expr: sp.Expr, ranges: Ranges) -> sp.Expr:
    """[j = k] F(j, k) → [j = k] F(j, j) for free indices j, k of the same range, term by term."""
    terms = []
    for term in sp.Add.make_args(expr):
        for factor in sp.Mul.make_args(term):
            if isinstance(factor, sp.KroneckerDelta):
                j, k = sorted(factor.args, key=sp.default_sort_key)
                if j in ranges and k in ranges and ranges[j] == ranges[k]:
                    term = factor * (term / factor).xreplace({k: j})
                    break
        terms.append(term)
    return sp.Add(*terms)


def normal(expr: sp.Expr, ranges: Ranges) -> sp.Expr:
    """The normal form of ``expr``, whose free indices lie in ``ranges``."""
    previous = None
    for _ in range(MAX_PASSES):
        if expr == previous:
            break
        previous = expr
        expr = _free_deltas(expand(_pass(expr, ranges)), ranges)
    return expr


def _pass(expr: sp.Basic, ranges: Ranges) -> sp.Expr:
    if isinstance(expr, sp.Sum):
        inner = {**ranges, **{i: (a, b) for i, a, b in expr.limits}}
        body = expand(_pass(expr.function, inner))
        return sp.Add(*[_product_sum(list(sp.Mul.make_args(term)), list(expr.limits), ranges)
                        for term in sp.Add.make_args(body)])
    if isinstance(expr, sp.Piecewise):
        return _piecewise(expr, ranges)
    if not expr.args or isinstance(expr, sp.Indexed):
        return expr  # type: ignore[return-value]
    return expr.func(*[_pass(arg, ranges) for arg in expr.args])


def _piecewise(expr: sp.Piecewise, ranges: Ranges) -> sp.Expr:
    """Conditions that only say an index lies in its own range are true."""
    pieces = []
    for value, condition in expr.args:
        known = condition.xreplace({
            rel: sp.true for rel in condition.atoms(sp.Rel) if _holds(rel, ranges)})
        pieces.append((_pass(value, ranges), known))
    return sp.Piecewise(*pieces)


def _holds(rel: sp.Rel, ranges: Ranges) -> bool:
    """first <= i or i <= last, for an index i of range (first, last)."""
    if isinstance(rel, sp.GreaterThan):
        rel = sp.Le(rel.rhs, rel.lhs, evaluate=False)
    if not isinstance(rel, sp.LessThan):
        return False
    low, high = rel.lhs, rel.rhs
    return (high in ranges and ranges[high][0] == low) or (
        low in ranges and ranges[low][1] == high)


def difference(lhs: sp.Expr, rhs: sp.Expr, ranges: Ranges) -> sp.Expr:
    """lhs − rhs in normal form, reduced by ``exact.residual``: 0 only when proved equal."""
    return residual(normal(expand(lhs - rhs), ranges))

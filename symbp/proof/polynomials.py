"""Expressions as rational functions over their atoms, in plain Python arithmetic.

Every maximal non-rational subterm (an applied function such as σ(z) or σ'(z),
a log, a fractional power) becomes a generator, the same generator for the same
subterm; a rational power p^(m/q) is the m-th power of the generator p^(1/q), so that
√p, √p³ and 1/√p are one generator's powers (and a difference is reduced by (p^(1/q))^q =
p). A polynomial is a dict from monomials to rational coefficients, a monomial the
sorted tuple of its generators' indices, repeated by exponent (so multiplying two
monomials is one sort). ``Polynomials.fraction`` turns an
expression into (numerator, denominator) with memoised work over a shared
DAG; two expressions are equal when n₁d₂ − n₂d₁ is the zero polynomial, for
*every* value of the generators, in particular the real ones. This replaces
SymPy's ``expand``/``together``, which rebuild an ``Expr`` at every step.

``exp`` is the one function whose algebra is used: exp(Σ c·m) = Π exp(m)^c for
integer c, so that softmax and sigmoid lemmas reduce to rational identities.
Whether a denominator can vanish identically is not decided here: the caller
is told every denominator base (``denominators``) and checks them. What cannot be
a rational function at all is ``Refused``: an atom that is or holds ∞ or nan once
its arguments are expanded (f(1/(x(y + 1) − xy − x)) is f(zoo)), a power of 0 that
is not known to be positive, a denominator that is the zero polynomial, and a Float
(as an atom, 1.0·x − x would turn back into 0.0 in ``to_expr``).
"""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction

import sympy as sp

Coefficient = int | Fraction
Monomial = tuple[int, ...]
Poly = dict[Monomial, Coefficient]
ONE: Poly = {(): 1}


def add(p: Poly, q: Poly, sign: int = 1) -> Poly:
    """p + sign·q, sign 1 or -1. A Fraction costs a gcd per operation: a term of q that p
    lacks is copied (negated), not added to 0 or multiplied by 1."""
    if sign not in (1, -1):
        raise ValueError(f"sign must be 1 or -1, got {sign!r}")
    out = dict(p)
    get = out.get
    for m, c in q.items():
        old = get(m)
        if old is None:
            out[m] = c if sign == 1 else -c
            continue
        value = old + c if sign == 1 else old - c
        if value:
            out[m] = value
        else:
            del out[m]
    return out


def integral(p: Poly) -> tuple[dict[Monomial, int], int]:
    """(P, s) with p = P/s, P's coefficients integers: the products and sums of ``multiply``
    are then machine integers, not a Fraction (and its gcd) each."""
    scale = 1
    for c in p.values():
        if type(c) is not int:
            scale = math.lcm(scale, c.denominator)
    if scale == 1:
        return {m: int(c) for m, c in p.items()}, 1
    return {m: c * scale if type(c) is int else c.numerator * (scale // c.denominator)
            for m, c in p.items()}, scale


def rational(p: dict[Monomial, int], scale: int) -> Poly:
    """p/scale, the zero terms left out; an integer coefficient stays an int."""
    if scale == 1:
        return {m: c for m, c in p.items() if c}
    return {m: c // scale if c % scale == 0 else Fraction(c, scale) for m, c in p.items() if c}


def multiply(p: Poly, q: Poly) -> Poly:
    if len(p) < len(q):
        p, q = q, p
    if q == ONE:
        return p
    (P, s), (Q, t) = integral(p), integral(q)
    out: dict[Monomial, int] = {}
    get = out.get
    for m2, c2 in Q.items():
        for m1, c1 in P.items():
            m = tuple(sorted(m1 + m2)) if m1 and m2 else m1 or m2
            out[m] = get(m, 0) + c1 * c2
    return rational(out, s * t)


def power(p: Poly, n: int) -> Poly:
    result, base = ONE, p
    while n:
        if n & 1:
            result = multiply(result, base)
        n >>= 1
        if n:
            base = multiply(base, base)
    return result


def constant(value: sp.Rational) -> Poly:
    c: Coefficient = int(value.p) if value.q == 1 else Fraction(int(value.p), int(value.q))
    return {(): c} if c else {}


Fractional = tuple[Poly, Poly]  # (numerator, denominator)


def content(p: Poly) -> Counter:
    """The largest monomial dividing every term of ``p`` (generator → exponent)."""
    terms = iter(p)
    common = Counter(next(terms, ()))
    for m in terms:
        if not common:
            break
        common &= Counter(m)
    return common


def _monomial(exponents: Counter) -> Monomial:
    return tuple(sorted(exponents.elements()))


def _divided(p: Poly, exponents: Counter) -> Poly:
    """``p`` / the monomial ``exponents``, which divides every term of it."""
    if not exponents:
        return p
    out: Poly = {}
    for m, c in p.items():
        left = Counter(m)
        left.subtract(exponents)
        out[_monomial(left)] = c
    return out


def combined(a: Fractional, b: Fractional, sign: int = 1) -> Fractional:
    """a + sign·b over one denominator. Each denominator is its monomial content times the
    rest, d = m·r, and the monomials meet at their least common multiple M, not at their
    product: n₁/(m₁r₁) ± n₂/(m₂r₂) = (n₁(M/m₁)r₂ ± n₂(M/m₂)r₁)/(M r₁ r₂) (r₁ once where
    r₁ = r₂). That is n₁d₂ ± n₂d₁ divided by the nonzero monomial m₁m₂/M, so it is zero
    exactly when n₁d₂ ± n₂d₁ is; it keeps 1/√p³ + 1/√p⁵ over √p⁵, not √p⁸, which the
    reduction by (√p)² = p would have to expand (the Hessians of a layer norm)."""
    (n1, d1), (n2, d2) = a, b
    if d1 == d2:
        return add(n1, n2, sign), d1
    m1, m2 = content(d1), content(d2)
    lcm = m1 | m2
    r1, r2 = _divided(d1, m1), _divided(d2, m2)
    up1: Poly = {_monomial(lcm - m1): 1}
    up2: Poly = {_monomial(lcm - m2): 1}
    top1, top2 = multiply(n1, up1), multiply(n2, up2)
    if r1 == r2:
        return add(top1, top2, sign), multiply({_monomial(lcm): 1}, r1)
    return (add(multiply(top1, r2), multiply(top2, r1), sign),
            multiply(multiply({_monomial(lcm): 1}, r1), r2))
INFINITIES = (sp.nan, sp.zoo, sp.oo, sp.S.NegativeInfinity)


class Refused(ArithmeticError):
    """What is no rational function over its atoms (∞ or nan in an atom, 1/0, a Float), why."""


def _short(expr: object, limit: int = 80) -> str:
    text = str(expr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Polynomials:
    """Turns expressions into rational functions over shared generators (memoised)."""

    def __init__(self) -> None:
        self.generators: list[sp.Basic] = []
        self._index: dict[sp.Basic, int] = {}
        self._memo: dict[sp.Basic, Fractional] = {}
        self.denominators: set[sp.Basic] = set()  # every base raised to a negative power
        self._roots: dict[int, tuple[int, Poly]] = {}  # generator p^(1/q) -> (q, p), p a polynomial
        self._root_of: dict[frozenset, tuple[int, int]] = {}  # p -> (generator p^(1/q), q)

    def generator(self, term: sp.Basic) -> Poly:
        index = self._index.get(term)
        if index is None:
            if term in INFINITIES or (not term.is_Atom and term.has(*INFINITIES)):
                raise Refused(f"{_short(term)} is not a finite value")
            index = self._index[term] = len(self.generators)
            self.generators.append(term)
        return {(index,): 1}

    def fraction(self, expr: sp.Basic) -> Fractional:
        found = self._memo.get(expr)
        if found is None:
            found = self._memo[expr] = self._convert(expr)
        return found

    def difference(self, a: sp.Basic, b: sp.Basic) -> Fractional:
        num, den = combined(self.fraction(a), self.fraction(b), -1)
        return self.reduced(num), den

    def reduced(self, p: Poly) -> Poly:
        """``p`` with every (p^(1/q))^q written as p, the one relation between a root and the
        rest that the generators do not know: 1/√p · 1/√p and 1/p are then one term. Each
        step is an identity, so a zero result means ``p`` was zero."""
        for index in sorted(self._roots, reverse=True):  # a root's radicand has older ones
            q, radicand = self._roots[index]
            if not any(m.count(index) >= q for m in p):
                continue
            top = max(m.count(index) for m in p) // q
            R, r = integral(radicand)  # radicand^k = R^k/r^k, over r^top for every k
            powers = {k: (power(dict(R), k), r ** (top - k)) for k in range(top + 1)}
            P, scale = integral(p)
            out: dict[Monomial, int] = {}
            for monomial, c in P.items():  # into one sum, not a copy per term
                times, rest = divmod(monomial.count(index), q)
                others = tuple(g for g in monomial if g != index) + (index,) * rest
                expanded, up = powers[times]
                for m, c2 in expanded.items():
                    key = tuple(sorted(others + m)) if m else others
                    out[key] = out.get(key, 0) + c * c2 * up
            p = rational(out, scale * r ** top)
        return p

    def _convert(self, expr: sp.Basic) -> Fractional:
        if expr.is_Rational:
            return constant(expr), ONE
        if expr.is_Symbol:
            return self.generator(expr), ONE
        if expr.is_Add:
            return self._sum([self.fraction(arg) for arg in expr.args])
        if expr.is_Mul:
            num, den = ONE, ONE
            for arg in expr.args:
                n, d = self.fraction(arg)
                num, den = multiply(num, n), multiply(den, d)
            return num, den
        if expr.is_Pow:
            base, exponent = expr.args
            if exponent.is_Integer:
                n, d = self.fraction(base)
                k = int(exponent)
                if k < 0:
                    if not n:
                        raise Refused(f"denominator {_short(base)} is zero")
                    self.denominators.add(base)
                    root = self._root_of.get(frozenset(n.items())) if d == ONE else None
                    if root is not None:  # 1/p^k = 1/(p^(1/q))^(qk): a monomial denominator
                        index, q = root
                        return ONE, {(index,) * (q * -k): 1}
                    n, d, k = d, n, -k
                return power(n, k), power(d, k)
            expanded = sp.expand(base)
            if expanded == 0:
                if exponent.is_positive:
                    return {}, ONE
                raise Refused(f"{_short(base)} is 0, and 0**({_short(exponent)}) is not finite")
            if exponent.is_Rational:  # p^(m/q) = (p^(1/q))^m for every p ≠ 0, so that
                return self._root_power(expanded, exponent)  # √p, √p³ and 1/√p are related
            return self.generator(sp.Pow(expanded, exponent)), ONE
        if isinstance(expr, sp.exp):
            return self._exponential(expr)
        if isinstance(expr, sp.Function) and expr.args:
            # f(x(x + y)) and f(x² + xy) are one atom: arguments equal as expanded polynomials
            # are equal, so naming them alike is sound, and it proves more
            return self.generator(expr.func(*[sp.expand(a) for a in expr.args])), ONE
        if expr.is_Float:
            raise Refused(f"Float {expr} is not exact")
        return self.generator(expr), ONE

    def _root_power(self, base: sp.Expr, exponent: sp.Rational) -> Fractional:
        """base^(m/q) as the m-th power of one generator base^(1/q) (m/q in lowest terms):
        exp((m/q) log p) is exp((log p)/q) to the m, on SymPy's principal branch too."""
        m, q = int(exponent.p), int(exponent.q)
        root = sp.Pow(base, sp.Rational(1, q))
        if root.is_Pow and root.base == base and root.exp == sp.Rational(1, q):
            radicand, below = self.fraction(base)
            n, d = self.generator(root), ONE
            if below == ONE:  # (p^(1/q))^q = p, used when a difference is reduced
                index = next(iter(n))[0]
                self._roots[index] = (q, radicand)
                self._root_of.setdefault(frozenset(radicand.items()), (index, q))
        else:  # SymPy evaluated the root (√4 = 2, √(4x) = 2√x): read what it made
            n, d = self.fraction(root)
        if m < 0:
            if not n:
                raise Refused(f"denominator {_short(base)} is zero")
            self.denominators.add(base)
            n, d, m = d, n, -m
        return power(n, m), power(d, m)

    def _sum(self, parts: list[Fractional]) -> Fractional:
        groups: dict[frozenset, tuple[Poly, Poly]] = {}  # terms over one denominator first,
        for n, d in parts:  # summed in place
            key = frozenset(d.items())
            if key not in groups:
                groups[key] = ({}, d)
            into = groups[key][0]
            for m, c in n.items():
                old = into.get(m)
                into[m] = c if old is None else old + c
        total: Fractional = ({}, ONE)
        for n, d in groups.values():
            total = combined(total, ({m: c for m, c in n.items() if c}, d))
        return total

    def _exponential(self, expr: sp.exp) -> Fractional:
        num, den = ONE, ONE
        for term in sp.Add.make_args(sp.expand(expr.args[0])):
            coeff, rest = term.as_coeff_Mul()
            if coeff.is_Integer and rest != 1:
                g, k = self.generator(sp.exp(rest)), int(coeff)
            else:
                g, k = self.generator(sp.exp(term)), 1
            if k < 0:
                den = multiply(den, power(g, -k))
            else:
                num = multiply(num, power(g, k))
        return num, den

    def to_expr(self, p: Poly) -> sp.Expr:
        """The polynomial back as a SymPy expression in the original subterms."""
        terms = []
        for m, c in p.items():
            coeff = sp.Rational(c.numerator, c.denominator) if isinstance(c, Fraction) else c
            terms.append(sp.Mul(coeff, *[self.generators[i] for i in m]))
        return sp.Add(*terms)

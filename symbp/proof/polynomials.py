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

from fractions import Fraction

import sympy as sp

Coefficient = int | Fraction
Monomial = tuple[int, ...]
Poly = dict[Monomial, Coefficient]
ONE: Poly = {(): 1}


def add(p: Poly, q: Poly, sign: int = 1) -> Poly:
    out = dict(p)
    for m, c in q.items():
        value = out.get(m, 0) + sign * c
        if value:
            out[m] = value
        else:
            out.pop(m, None)
    return out


def multiply(p: Poly, q: Poly) -> Poly:
    if len(p) < len(q):
        p, q = q, p
    if q == ONE:
        return p
    out: Poly = {}
    get = out.get
    for m2, c2 in q.items():
        for m1, c1 in p.items():
            m = tuple(sorted(m1 + m2)) if m1 and m2 else m1 or m2
            value = get(m, 0) + c1 * c2
            if value:
                out[m] = value
            else:
                del out[m]
    return out


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
        (n1, d1), (n2, d2) = self.fraction(a), self.fraction(b)
        if d1 == d2:
            return self.reduced(add(n1, n2, -1)), d1
        return self.reduced(add(multiply(n1, d2), multiply(n2, d1), -1)), multiply(d1, d2)

    def reduced(self, p: Poly) -> Poly:
        """``p`` with every (p^(1/q))^q written as p, the one relation between a root and the
        rest that the generators do not know: 1/√p · 1/√p and 1/p are then one term. Each
        step is an identity, so a zero result means ``p`` was zero."""
        for index in sorted(self._roots, reverse=True):  # a root's radicand has older ones
            q, radicand = self._roots[index]
            if not any(m.count(index) >= q for m in p):
                continue
            out: Poly = {}
            for monomial, c in p.items():
                times, rest = divmod(monomial.count(index), q)
                others = tuple(g for g in monomial if g != index) + (index,) * rest
                term = multiply({tuple(sorted(others)): c}, power(radicand, times))
                out = add(out, term)
            p = out
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
                self._roots[next(iter(n))[0]] = (q, radicand)
        else:  # SymPy evaluated the root (√4 = 2, √(4x) = 2√x): read what it made
            n, d = self.fraction(root)
        if m < 0:
            if not n:
                raise Refused(f"denominator {_short(base)} is zero")
            self.denominators.add(base)
            n, d, m = d, n, -m
        return power(n, m), power(d, m)

    def _sum(self, parts: list[Fractional]) -> Fractional:
        groups: dict[frozenset, tuple[Poly, Poly]] = {}  # terms over one denominator first
        for n, d in parts:
            key = frozenset(d.items())
            total = groups.get(key)
            groups[key] = (n, d) if total is None else (add(total[0], n), d)
        num: Poly = {}
        den = ONE
        for n, d in groups.values():
            num, den = add(multiply(num, d), multiply(n, den)), multiply(den, d)
        return num, den

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

"""Expressions as rational functions over their atoms, in plain Python arithmetic.

Every maximal non-rational subterm (an applied function such as σ(z) or σ'(z),
a log, a fractional power) becomes a generator, the same generator for the same
subterm; a rational power p^(m/q) is the m-th power of the generator p^(1/q), so that
√p, √p³ and 1/√p are one generator's powers (and a difference is reduced by (p^(1/q))^q =
p). The polynomials and their arithmetic are ``poly_arith``'s (a monomial one int of
packed exponents). ``Polynomials.fraction`` turns an
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
is not known to be positive, a denominator that is the zero polynomial, an exponent of
2^15 or more (past a packed monomial's field), and a Float (as an atom, 1.0·x − x would
turn back into 0.0 in ``to_expr``).
"""

from __future__ import annotations

from fractions import Fraction

import sympy as sp

from .poly_arith import (
    ONE,
    Fractional,
    Poly,
    Refused,
    checked,
    combined,
    constant,
    degree_in,
    exponents,
    integral,
    multiply,
    power,
    power_of,
    rational,
)

INFINITIES = (sp.nan, sp.zoo, sp.oo, sp.S.NegativeInfinity)


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
        return {power_of(self._number(term), 1): 1}

    def _number(self, term: sp.Basic) -> int:
        """The generator's index, a new one (the next) for a term not seen before."""
        index = self._index.get(term)
        if index is None:
            if term in INFINITIES or (not term.is_Atom and term.has(*INFINITIES)):
                raise Refused(f"{_short(term)} is not a finite value")
            index = self._index[term] = len(self.generators)
            self.generators.append(term)
        return index

    def fraction(self, expr: sp.Basic) -> Fractional:
        found = self._memo.get(expr)
        if found is None:
            found = self._memo[expr] = self._convert(expr)
        return found

    def difference(self, a: sp.Basic, b: sp.Basic) -> Fractional:
        (n1, d1), (n2, d2) = self.fraction(a), self.fraction(b)
        if d1 == d2 and n1 == n2:  # the common case of a proof, without a copy of n1
            return {}, d1
        num, den = combined((n1, d1), (n2, d2), -1)
        return self.reduced(num), den

    def reduced(self, p: Poly) -> Poly:
        """``p`` with every (p^(1/q))^q written as p, the one relation between a root and the
        rest that the generators do not know: 1/√p · 1/√p and 1/p are then one term. Each
        step is an identity, so a zero result means ``p`` was zero."""
        for index in sorted(self._roots, reverse=True):  # a root's radicand has older ones
            q, radicand = self._roots[index]
            top = max((degree_in(m, index) for m in p), default=0) // q
            if not top:
                continue
            R, r = integral(radicand)  # radicand^k = R^k/r^k, over r^top for every k
            powers = {k: (power(dict(R), k), r ** (top - k)) for k in range(top + 1)}
            P, scale = integral(p)
            out: dict[int, int] = {}
            for monomial, c in P.items():  # into one sum, not a copy per term
                times = degree_in(monomial, index) // q
                others = monomial - power_of(index, times * q)
                expanded, up = powers[times]
                for m, c2 in expanded.items():
                    key = others + m
                    out[key] = out.get(key, 0) + c * c2 * up
            checked(out)
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
                        return ONE, {power_of(index, q * -k): 1}
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
            index = self._number(root)
            n, d = self.generator(root), ONE
            if below == ONE:  # (p^(1/q))^q = p, used when a difference is reduced
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
        groups: dict[frozenset, tuple[list[Poly], Poly]] = {}  # numerators by denominator
        for n, d in parts:
            groups.setdefault(frozenset(d.items()), ([], d))[0].append(n)
        sums = []
        for numerators, d in groups.values():  # summed in place, into a copy of the longest
            numerators.sort(key=len, reverse=True)
            into = dict(numerators[0])
            get = into.get
            for n in numerators[1:]:
                for m, c in n.items():
                    old = get(m)
                    value = c if old is None else old + c
                    if value:
                        into[m] = value
                    else:
                        del into[m]
            sums.append((into, d))
        total = sums[0]  # 0/1 + n/d is n/d: the sum starts at the first
        for part in sums[1:]:
            total = combined(total, part)
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
            terms.append(sp.Mul(coeff, *[self.generators[i] for i, e in exponents(m)
                                         for _ in range(e)]))
        return sp.Add(*terms)

    def value(self, p: Poly, point: list) -> Fraction:
        """``p`` at generator i = point[i], exactly."""
        total = Fraction(0)
        for m, c in p.items():
            term = Fraction(c)
            for i, e in exponents(m):
                term *= point[i] ** e
            total += term
        return total

"""Sparse polynomials with rational coefficients over numbered generators, in plain Python.

A polynomial is a dict from monomials to nonzero coefficients (int or Fraction). A monomial
is one int, the exponent of generator i in the WIDTH bits from WIDTH·i up: multiplying two
monomials is one addition and a monomial hashes as one int (a sorted tuple of indices cost a
sort and a tuple per product). An addition carries into the next field only when a field
reaches 2^WIDTH; every field is kept below 2^(WIDTH-1) (``checked``), so the sum of two
never carries, and an exponent that would pass that bound is ``Refused``, never wrapped.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import cache, reduce
from operator import or_

import sympy as sp

Coefficient = int | Fraction
Monomial = int
Poly = dict[Monomial, Coefficient]
ONE: Poly = {0: 1}
WIDTH = 16
FIELD = (1 << WIDTH) - 1
LIMIT = 1 << (WIDTH - 1)  # no exponent reaches this


class Refused(ArithmeticError):
    """What is no rational function over its atoms (∞ or nan in an atom, 1/0, a Float), or
    has an exponent past LIMIT, and why."""


@cache
def _high_bits(fields: int) -> int:
    """The top bit of each of ``fields`` fields: set in a monomial once an exponent ≥ LIMIT."""
    return LIMIT * (((1 << (WIDTH * fields)) - 1) // FIELD)


def checked(p: dict[Monomial, int] | Poly) -> None:
    """Refused when an exponent of ``p`` reached LIMIT (the next product could carry)."""
    bits = reduce(or_, p, 0)
    if bits & _high_bits(-(-bits.bit_length() // WIDTH)):
        raise Refused(f"an exponent reached {LIMIT}, more than this check represents")


def power_of(index: int, exponent: int) -> Monomial:
    """The monomial g_index^exponent."""
    if not 0 <= exponent < LIMIT:
        raise Refused(f"exponent {exponent} is not in [0, {LIMIT}), what this check represents")
    return exponent << (WIDTH * index)


def degree_in(m: Monomial, index: int) -> int:
    """The exponent of generator ``index`` in ``m``."""
    return (m >> (WIDTH * index)) & FIELD


def exponents(m: Monomial) -> list[tuple[int, int]]:
    """(generator index, exponent) for every generator in ``m``, by index."""
    out, index = [], 0
    while m:
        e = m & FIELD
        if e:
            out.append((index, e))
        m >>= WIDTH
        index += 1
    return out


def _meet(a: Monomial, b: Monomial, pick) -> Monomial:
    """The monomial whose every exponent is pick(of a, of b): min for gcd, max for lcm."""
    out, shift = 0, 0
    while a or b:
        out |= pick(a & FIELD, b & FIELD) << shift
        a, b, shift = a >> WIDTH, b >> WIDTH, shift + WIDTH
    return out


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
    are then machine integers, not a Fraction (and its gcd) each. P is p itself (not to be
    changed) when p's coefficients are integers already."""
    if set(map(type, p.values())) <= {int}:
        return p, 1  # type: ignore[return-value]
    scale = math.lcm(*[c.denominator for c in p.values() if type(c) is not int])
    return {m: c * scale if type(c) is int else c.numerator * (scale // c.denominator)
            for m, c in p.items()}, scale


def rational(p: dict[Monomial, int], scale: int) -> Poly:
    """p/scale, the zero terms left out (from ``p`` itself, which the caller made for this);
    an integer coefficient stays an int."""
    for m in [m for m, c in p.items() if not c]:
        del p[m]
    if scale == 1:
        return p  # type: ignore[return-value]
    return {m: c // scale if c % scale == 0 else Fraction(c, scale) for m, c in p.items()}


def multiply(p: Poly, q: Poly) -> Poly:
    if len(p) < len(q):
        p, q = q, p
    if q == ONE:
        return p
    if len(q) == 1 and 1 in q.values():  # times one monomial: no two products meet
        ((m2, _),) = q.items()
        shifted = {m1 + m2: c1 for m1, c1 in p.items()}
        checked(shifted)
        return shifted
    (P, s), (Q, t) = integral(p), integral(q)
    terms = iter(Q.items())
    m2, c2 = next(terms, (0, 0))  # the first row is a copy, none of its products zero
    out = {m1 + m2: c1 * c2 for m1, c1 in P.items()} if c2 else {}
    get = out.get
    for m2, c2 in terms:
        for m1, c1 in P.items():
            m = m1 + m2
            out[m] = get(m, 0) + c1 * c2
    checked(out)
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
    return {0: c} if c else {}


Fractional = tuple[Poly, Poly]  # (numerator, denominator)


def content(p: Poly) -> Monomial:
    """The largest monomial dividing every term of ``p``."""
    terms = iter(p)
    common = next(terms, 0)
    for m in terms:
        if not common:
            break
        common = _meet(common, m, min)
    return common


def _divided(p: Poly, m: Monomial) -> Poly:
    """``p`` / the monomial ``m``, which divides every term of it (so no field borrows)."""
    return {k - m: c for k, c in p.items()} if m else p


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
    lcm = _meet(m1, m2, max)
    r1, r2 = _divided(d1, m1), _divided(d2, m2)
    top1, top2 = multiply(n1, {lcm - m1: 1}), multiply(n2, {lcm - m2: 1})
    if r1 == r2:
        return add(top1, top2, sign), multiply({lcm: 1}, r1)
    return (add(multiply(top1, r2), multiply(top2, r1), sign),
            multiply(multiply({lcm: 1}, r1), r2))

"""The packed monomials of ``proof.poly_arith`` against SymPy, and the bound on an exponent.

A monomial is one int holding every exponent in its own field; these tests check the
arithmetic on it against SymPy's ``cancel`` (an independent route), and that an exponent
too large for its field is refused, never carried into the next generator's field.
"""

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symbp.proof import exact
from symbp.proof.poly_arith import LIMIT
from symbp.proof.polynomials import Polynomials, Refused

x, y, z = sp.symbols("x y z")
f = sp.Function("f")

fractions_ = st.builds(lambda p, q: sp.Rational(p, q), st.integers(-4, 4), st.integers(1, 3))
leaves = st.one_of(st.sampled_from([x, y, z, f(x), f(x + y), 1 / (x**2 + x), 2 / (x * y + y),
                                     x / (y**2 * z + y), 1 / (x * f(x) - 1)]), fractions_)


def _combine(children):
    pair = st.tuples(children, children)
    return st.one_of(pair.map(lambda ab: ab[0] + ab[1]),
                     pair.map(lambda ab: ab[0] - ab[1]),
                     pair.map(lambda ab: ab[0] * ab[1]),
                     pair.map(lambda ab: ab[0] / ab[1] if ab[1] != 0 else ab[0]),
                     st.tuples(children, st.integers(-2, 4)).map(
                         lambda eb: eb[0] ** eb[1] if eb[0] != 0 else eb[0]))


expressions = st.recursive(leaves, _combine, max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(expressions, expressions)
def test_a_difference_is_zero_exactly_when_sympy_cancels_it(a, b):
    """num/den of a − b is a − b ((a − b)·den − num cancels to 0), and num is the zero
    polynomial exactly when SymPy cancels a − b to 0 (f(x), f(x + y) are its generators)."""
    polys = Polynomials()
    try:
        num, den = polys.difference(a, b)
    except Refused:  # only for a denominator that is the zero polynomial
        assert _zero_denominator(a) or _zero_denominator(b)
        return
    assert sp.cancel((a - b) * polys.to_expr(den) - polys.to_expr(num)) == 0
    assert (not num) == (sp.cancel(a - b) == 0)


def _zero_denominator(e: sp.Expr) -> bool:
    return any(isinstance(p, sp.Pow) and p.exp.is_negative and sp.expand(p.base) == 0
               for p in sp.preorder_traversal(e))


@settings(max_examples=100, deadline=None)
@given(expressions, st.lists(st.integers(-9, 9), min_size=5, max_size=5))
def test_a_value_is_sympys_value(e, draws):
    """``value`` of num and den at a point of the generators = SymPy's e at that point."""
    polys = Polynomials()
    num, den = polys.fraction(e)
    point = [sp.Rational(k, 7) for k in draws][: len(polys.generators)]
    at = dict(zip(polys.generators, point, strict=True))
    bottom = polys.value(den, point)
    expected = e.xreplace(at)
    if bottom == 0 or not expected.is_Rational:
        return
    assert polys.value(num, point) / bottom == expected


IDENTITIES = [  # (a, b): a − b over monomial contents that meet, roots, exp and a carry
    (1 / (x**2 + x) + 1 / (x * y + x), (x + y + 2) / (x * (x + 1) * (y + 1))),
    (1 / (x**2 * y + x * y**2) - 1 / (x**3 * y**2), (x**2 * y - x - y) / (x**3 * y**2 * (x + y))),
    (1 / sp.sqrt(x + 1) ** 3 + 1 / sp.sqrt(x + 1) ** 5, (x + 2) / sp.sqrt(x + 1) ** 5),
    (sp.sqrt(x + 1) ** 2 * y - 1, x * y + y - 1),
    (sp.exp(2 * x - y) * sp.exp(y), sp.exp(x) ** 2),
    ((x + 2 * y) * (3 * x - y) * (x**3 + 5), 3 * x**5 + 5 * x**4 * y - 2 * x**3 * y**2
     + 15 * x**2 + 25 * x * y - 10 * y**2),
]


@pytest.mark.parametrize("k", range(len(IDENTITIES)))
@pytest.mark.parametrize("change", [0, 1])
def test_known_identities_hold_and_a_change_is_seen(k, change):
    """Each identity is zero, as SymPy says too; plus x·y in a, it is not, and the residual
    returned is (a − b)'s value: SymPy cancels it against x·y."""
    a, b = IDENTITIES[k]
    a = a + change * x * y
    assert sp.simplify(a - b - change * x * y) == 0
    polys = Polynomials()
    num, den = polys.difference(a, b)
    assert (not num) == (not change)
    assert sp.simplify(polys.to_expr(num) / polys.to_expr(den) - change * x * y) == 0


def test_exponents_meet_without_carrying_up_to_the_bound():
    top = LIMIT - 1
    assert exact.residual(x ** (top - 3) * x**3 * y**top - x**top * y**top) == 0
    assert exact.residual(x**top / x ** (top - 1) - x) == 0


def test_an_exponent_past_the_bound_is_refused_not_carried():
    """Planted: x^(2^16) would land in y's field if a product carried; it is not equal to y,
    and the claim at that entry says why it is not decided."""
    found = exact.first_difference(sp.Matrix([[x**2, x ** (2 * LIMIT)]]), sp.Matrix([[x**2, y]]))
    assert found is not None
    assert found[0] == (1, 2)
    assert isinstance(found[1], str) and found[1].startswith("not decided")
    assert str(LIMIT) in found[1]
    assert not exact.equivalent(x ** LIMIT, x ** LIMIT)  # refused, never silently wrapped
    assert isinstance(exact.residual(1 / x ** LIMIT - y), str)

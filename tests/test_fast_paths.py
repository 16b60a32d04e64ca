"""The library's faster paths against independent oracles, on random expressions (Hypothesis):
``linear_coefficients`` against SymPy's ``coeff`` per symbol, ``replaced`` with a memo shared
across expressions against SymPy's ``xreplace``, and the polynomial difference (Fraction
coefficients added in place) against SymPy's ``expand``."""

import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symbp
from symbp.core.built import replaced
from symbp.proof.kind_factors import linear_coefficients
from symbp.proof.polynomials import Polynomials

d1, d2, g1, x, y = sp.symbols("d1 d2 g1 x y")
f = sp.Function("f")
READ = {d1, d2, g1}

leaves = st.sampled_from([d1, d2, g1, x, y, sp.Integer(2), sp.Rational(-3, 4)])


def _combine(children):
    pair = st.tuples(children, children)
    return st.one_of(pair.map(lambda ab: ab[0] + ab[1]), pair.map(lambda ab: ab[0] * ab[1]),
                     st.tuples(children, st.integers(2, 3)).map(lambda eb: eb[0] ** eb[1]),
                     children.map(f))


expressions = st.recursive(leaves, _combine, max_leaves=8)


@settings(max_examples=150, deadline=None)
@given(expressions)
def test_linear_coefficients_are_sympys_coeff_of_each_symbol(e):
    expanded = sp.expand(e)
    want = {s: c for s in READ if (c := expanded.coeff(s)) != 0}
    assert linear_coefficients(expanded, READ) == want


def test_linear_coefficients_of_a_delta_sum():
    e = sp.expand(3 * x * d1 + d2 * (x + y) - g1 + d1**2 + f(d1) * d2 + 7)
    assert linear_coefficients(e, READ) == {d1: 3 * x, d2: x + y + f(d1), g1: -1}


@settings(max_examples=100, deadline=None)
@given(st.lists(expressions, min_size=1, max_size=4),
       st.dictionaries(st.sampled_from([x, y, d1, f(x)]),
                       st.sampled_from([sp.Integer(0), sp.Integer(1), y + 1, x * d2]),
                       max_size=2))
def test_replaced_with_a_shared_memo_is_xreplace(es, rule):
    done: dict = {}
    assert [replaced(e, rule, done) for e in es] == [e.xreplace(rule) for e in es]


fractions_ = st.builds(lambda p, q: sp.Rational(p, q), st.integers(-7, 7), st.integers(1, 6))
rational_leaves = st.one_of(st.sampled_from([x, y, d1]), fractions_)
rational_expressions = st.recursive(
    rational_leaves,
    lambda c: st.one_of(st.tuples(c, c).map(lambda ab: ab[0] + ab[1]),
                        st.tuples(c, c).map(lambda ab: ab[0] - ab[1]),
                        st.tuples(c, c).map(lambda ab: ab[0] * ab[1]),
                        st.tuples(c, st.integers(2, 3)).map(lambda eb: eb[0] ** eb[1])),
    max_leaves=10)


@settings(max_examples=150, deadline=None)
@given(rational_expressions, rational_expressions)
def test_polynomial_difference_with_rational_coefficients_is_sympys(a, b):
    """num/den of a − b (sums of terms with Fraction coefficients, ``add``) against SymPy:
    (a − b)·den − num expands to 0, and num is zero exactly when a − b expands to 0."""
    polys = Polynomials()
    num, den = polys.difference(a, b)
    assert sp.expand((a - b) * polys.to_expr(den) - polys.to_expr(num)) == 0
    assert (not num) == (sp.expand(a - b) == 0)


def test_a_coefficient_dropped_from_a_vjp_is_not_proved_by_construction(monkeypatch):
    """Planted in the new path: the first VJP coefficient read is lost, so the chain's factor
    of the convolution is wrong; the construction's claim fails and names the entry."""
    from symbp.proof import kind_factors

    right = kind_factors.linear_coefficients

    def dropping(expanded, symbols):
        found = right(expanded, symbols)
        return dict(list(found.items())[1:])

    monkeypatch.setattr(kind_factors, "linear_coefficients", dropping)
    net = symbp.Network(layers=[symbp.Layer("conv1d", channels=2, kernel=3),
                                symbp.Layer("dense", units=2, activation="sigmoid")],
                        inputs=[1, 5])
    proof = symbp.prove(symbp.derive(net), "construction")
    failed = [c for c in proof.claims if c.status == "failed"]
    assert not proof.holds and failed, proof.summary()
    claim = next(c for c in failed if c.name == "dC/dW_1")
    assert claim.kind == "expansion" and claim.entry is not None
    assert "from the conv1d layer's VJP of W" in claim.culprit

"""``equivalent`` against an independent oracle: exact rational evaluation at random points.

Random expressions over x, y and an undefined f, paired with a rewrite SymPy says
is equal (expand, together, cancel) or with a perturbation. The oracle replaces f
by a concrete polynomial and evaluates both sides exactly at random rational
points: "equal" from symbp must never meet a point where they differ, and a
pair that SymPy rewrote must be proved equal.
"""

import random

import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import symbp

x, y = sp.symbols("x y")
f = sp.Function("f")


def oracle_f(t):
    return t**2 - 3 * t + 2


rationals = st.builds(lambda p, q: sp.Rational(p, q), st.integers(-5, 5), st.integers(1, 4))
leaves = st.one_of(st.just(x), st.just(y), rationals)


def _combine(children):
    pair = st.tuples(children, children)
    return st.one_of(
        pair.map(lambda ab: ab[0] + ab[1]),
        pair.map(lambda ab: ab[0] * ab[1]),
        pair.map(lambda ab: ab[0] / ab[1] if ab[1] != 0 else ab[0]),
        st.tuples(children, st.integers(2, 3)).map(lambda eb: eb[0] ** eb[1]),
        children.map(f),
    )


expressions = st.recursive(leaves, _combine, max_leaves=6)
REWRITES = {
    "expand": lambda e: sp.expand(e, deep=False),
    "together": lambda e: sp.together(e),
    "cancel": lambda e: sp.cancel(e),
}


def values(a: sp.Expr, b: sp.Expr, seed: int):
    """(a, b) at a few random rational points with f := t² − 3t + 2, where both are defined."""
    rng = random.Random(seed)
    concrete = [e.replace(f, oracle_f) for e in (a, b)]
    for _ in range(4):
        point = {x: sp.Rational(rng.randint(-40, 40), rng.randint(1, 9)),
                 y: sp.Rational(rng.randint(-40, 40), rng.randint(1, 9))}
        u, v = (e.xreplace(point) for e in concrete)  # exact: rationals, or zoo/nan
        if u.is_Rational and v.is_Rational:
            yield u, v


def values_differ(a: sp.Expr, b: sp.Expr, seed: int) -> bool:
    return any(u != v for u, v in values(a, b, seed))


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(expressions, st.sampled_from(list(REWRITES)), st.integers(0, 10**6))
def test_a_sympy_rewrite_is_proved_equal_and_really_is(e, rewrite, seed):
    other = REWRITES[rewrite](e)
    assert not values_differ(e, other, seed)  # the oracle agrees with SymPy's rewrite
    if any(True for _ in values(e, other, seed)):  # defined somewhere: no 0/0 to refuse
        assert symbp.equivalent(e, other), (e, other)


@SETTINGS
@given(expressions, expressions, st.integers(0, 10**6))
def test_equal_is_never_said_of_a_pair_that_differs(a, b, seed):
    if values_differ(a, b, seed):
        assert not symbp.equivalent(a, b), (a, b)
    if symbp.equivalent(a, b):
        assert not values_differ(a, b, seed + 1), (a, b)


@SETTINGS
@given(expressions, expressions, rationals.filter(lambda r: r != 0))
def test_a_perturbation_is_never_equal(e, m, r):
    perturbed = e + r * (x * y * f(x + y) if m.is_number else m * f(m))
    if values_differ(e, perturbed, 0):
        assert not symbp.equivalent(e, perturbed), (e, perturbed)


# -------------------------------------------------------------- concrete functions, rational points
#
# The same checker on symbp's concrete activations, exp, log and tanh at rational arguments,
# against an independent oracle: mpmath at 50 digits on the explicit formulas (a value that
# moves by more than 1e-30 between 50 and 60 digits is undefined there, a 0/0 for instance).
# The 0/0 forms are built from values that are exactly 0 (σ(0) − 1/2, tanh(0), 2σ(0) − 1, a
# softmax summed, minus 1) and that a checker giving concrete functions free values calls equal.

ACTIVATIONS = symbp.ACTIVATIONS
sigmoid, tanh = ACTIVATIONS["sigmoid"].function, ACTIVATIONS["tanh"].function
CONCRETE = [sigmoid, ACTIVATIONS["sigmoid"].prime, tanh, ACTIVATIONS["tanh"].prime,
            ACTIVATIONS["softplus"].function, ACTIVATIONS["relu"].function,
            ACTIVATIONS["leaky_relu"].function, sp.exp, sp.tanh,
            lambda t: sp.log(1 + t**2)]
SOFTMAX_SUM = sum(ACTIVATIONS["softmax"].apply([sp.Rational(1, 3), sp.Rational(-2, 1)]))
ZERO_RATIOS = [  # (a, b, r): a = b = 0 exactly, a = r·b for free values, and SymPy keeps a/b
    (sigmoid(0) - sp.Rational(1, 2), 2 * sigmoid(0) - 1, sp.Rational(1, 2)),
    (tanh(0) + tanh(0) ** 2, 3 * tanh(0) + 3 * tanh(0) ** 2, sp.Rational(1, 3)),
    (SOFTMAX_SUM - 1, 2 * SOFTMAX_SUM - 2, sp.Rational(1, 2)),
    (ACTIVATIONS["sigmoid"].prime(0) - sp.Rational(1, 4),
     4 * ACTIVATIONS["sigmoid"].prime(0) - 1, sp.Rational(1, 4)),
]
small = st.builds(lambda p, q: sp.Rational(p, q), st.integers(-4, 4), st.integers(1, 3))


def _concrete_combine(children):
    pair = st.tuples(children, children)
    return st.one_of(
        pair.map(lambda ab: ab[0] + ab[1]),
        pair.map(lambda ab: ab[0] * ab[1]),
        pair.map(lambda ab: ab[0] / ab[1] if ab[1] != 0 else ab[0]),
        st.tuples(st.sampled_from(CONCRETE), children).map(lambda fe: fe[0](fe[1])),
    )


closed = st.recursive(small, _concrete_combine, max_leaves=4)  # numbers: no symbol at all
with_x = st.recursive(st.one_of(small, st.just(x)), _concrete_combine, max_leaves=4)
# f(a) − c: exactly 0 for some draws (σ(0) − 1/2, tanh(0) − 0, relu(−1) − 0), tiny for others
shifted = st.builds(lambda fn, a, c: fn(a) - c, st.sampled_from(CONCRETE), small,
                   st.sampled_from([0, sp.Rational(1, 2), sp.Rational(1, 4), 1]))


def _over(numerators, denominators_):
    return st.builds(lambda n1, d1, n2, d2: n1 / d1 + n2 / d2,
                     numerators, denominators_, numerators, denominators_)


fractions_in_x = _over(with_x, st.one_of(shifted, st.builds(lambda v, e: v * e, shifted, with_x)))


def high_precision(e: sp.Expr, at: sp.Rational = sp.S.Zero):
    """e at x = ``at`` from its explicit formulas in mpmath, at 50 digits; None if undefined."""
    import mpmath

    formula = symbp.explicit(e)
    if formula.has(sp.nan, sp.zoo, sp.oo, -sp.oo):  # undefined somewhere, by SymPy's own account
        return None
    found = []
    for digits in (50, 60):
        with mpmath.workdps(digits):
            try:
                value = sp.lambdify([x], formula, "mpmath")(mpmath.mpf(at.p) / at.q)
            except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                return None
            if not mpmath.isfinite(value) or mpmath.im(value) != 0:
                return None
            found.append(mpmath.re(value))
    with mpmath.workdps(60):
        if abs(found[0] - found[1]) > mpmath.mpf(10) ** -30 * max(1, abs(found[1])):
            return None  # it moves with the precision: no value (a 0/0, say)
    return found[1]


def denominators(e: sp.Expr) -> list[sp.Expr]:
    return [p.base for p in e.atoms(sp.Pow) if p.exp.is_negative] + [
        g.args[0] for g in e.atoms(sp.log)]


CONCRETE_SETTINGS = settings(max_examples=40, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow])


@CONCRETE_SETTINGS
@given(with_x, st.sampled_from(range(len(ZERO_RATIOS))), with_x)
def test_a_0_0_of_concrete_functions_is_never_equal(e, which, other):
    a, b, r = ZERO_RATIOS[which]
    assert not symbp.equivalent(e + a / b, e + r), e
    assert not symbp.equivalent(a * other / (b * other), r), other


@CONCRETE_SETTINGS
@given(closed, shifted, closed, shifted)
def test_a_true_identity_of_concrete_values_is_proved(n1, d1, n2, d2):
    """n1/d1 + n2/d2 = (n1 d2 + n2 d1)/(d1 d2): proved where d1 and d2 are nonzero at 50 digits
    (as it was when the functions took free values), never while a denominator 0 is left."""
    lhs, rhs = n1 / d1 + n2 / d2, (n1 * d2 + n2 * d1) / (d1 * d2)
    assume(not (lhs.has(sp.nan, sp.zoo) or rhs.has(sp.nan, sp.zoo)))  # SymPy saw it itself
    defined = [high_precision(d) for d in {d1, d2, *denominators(n1), *denominators(n2)}]
    if all(v is not None and v != 0 for v in defined):
        assert symbp.equivalent(lhs, rhs), (lhs, rhs)
    if any(high_precision(d) == 0 for d in denominators(lhs) + denominators(rhs)):
        assert not symbp.equivalent(lhs, rhs), (lhs, rhs)  # a 0/0 that SymPy kept


ALGEBRAIC = {"together": sp.together, "cancel": sp.cancel}


@CONCRETE_SETTINGS
@given(fractions_in_x, st.sampled_from(["together", "cancel", "trap", "other"]),
       st.sampled_from(range(len(ZERO_RATIOS))), with_x)
def test_equal_agrees_with_fifty_digits(a, how, which, other):
    if how == "trap":  # equal to a for free values of the functions only
        zero, base, r = ZERO_RATIOS[which]
        b = a + zero / base - r
    else:
        b = other if how == "other" else ALGEBRAIC[how](a)
    if symbp.equivalent(a, b):
        assert how != "trap", a
        for at in (sp.Rational(3, 7), sp.Rational(-5, 3)):
            u, v = high_precision(a, at), high_precision(b, at)
            if u is not None and v is not None:
                assert abs(u - v) <= 1e-30 * max(1, abs(u)), (a, b, at)

"""The normal form of index sums with affine indices (proof/affine_sums): what it proves equal is
equal at every size it is written out at, and the convolution's identities are among them."""

import random

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symbp.core.layers.base import Inside
from symbp.proof.affine_sums import difference
from symbp.proof.general import written_out

N, K, Q = (sp.Symbol(n, integer=True, positive=True) for n in ("N", "K", "Q"))
u, s, t, r = (sp.Symbol(n, integer=True, positive=True) for n in "ustr")
x, w = sp.IndexedBase("x"), sp.IndexedBase("w")
RANGES = {u: (1, N)}


def value(name, index):
    """A fixed rational for every entry x[i], w[i], i any integer (inside a range or not)."""
    return sp.Rational(random.Random(f"{name}{index}").randint(-50, 50), 7)


def at(expr, sizes, point):
    """expr written out at concrete sizes and free index, every entry a number."""
    done = written_out(expr.xreplace(sizes)).xreplace(point)
    return done.replace(lambda e: isinstance(e, sp.Indexed),
                        lambda e: value(str(e.base), tuple(int(i) for i in e.indices)))


def agree(lhs, rhs, sizes_list):
    for sizes in sizes_list:
        for n in range(1, int(sizes.get(N, 3)) + 1):
            if at(lhs, sizes, {u: n}) != at(rhs, sizes, {u: n}):
                return False
    return True


SIZES = [{N: n, K: k, Q: q} for n in (1, 2, 3, 5) for k in (1, 2, 3) for q in (1, 2)]


def test_a_flipped_full_convolution_is_the_chain_rules_sum():
    """Σ_s w[K + 1 − s] x[u + s − K] [1 ≤ u + s − K ≤ N] = Σ_t x[t] w[u − t + 1] [...]."""
    backward = sp.Sum(w[K + 1 - s] * x[u + s - K] * Inside(u + s - K, 1, N), (s, 1, K))
    chain = sp.Sum(x[t] * sp.Sum(w[s] * sp.KroneckerDelta(t + s - 1, u), (s, 1, K)), (t, 1, N))
    assert difference(backward, chain, RANGES) == 0
    assert agree(backward, chain, SIZES)
    unflipped = sp.Sum(w[s] * x[u + s - K] * Inside(u + s - K, 1, N), (s, 1, K))
    assert difference(unflipped, chain, RANGES) != 0
    assert not agree(unflipped, chain, SIZES)


def test_a_pooling_window_is_the_floor():
    """Σ_t g[t] [Q(t − 1) < u ≤ Q t] = g[⌊(u − 1)/Q⌋ + 1] for u in 1..Q N."""
    chain = sp.Sum(x[t] * sp.Sum(sp.KroneckerDelta(Q * (t - 1) + r, u), (r, 1, Q)), (t, 1, N))
    spread = x[sp.floor((u - 1) / Q) + 1]
    ranges = {u: (1, Q * N)}
    assert difference(spread, chain, ranges) == 0
    assert difference(x[sp.floor(u / Q) + 1], chain, ranges) != 0
    for sizes in SIZES:
        for n in range(1, sizes[Q] * sizes[N] + 1):
            assert at(spread, sizes, {u: n}) == at(chain, sizes, {u: n})


def test_a_window_is_not_taken_where_the_pool_could_be_a_fraction():
    half = sp.Rational(1, 2)
    chain = sp.Sum(x[t] * Inside(u - half * t, 0, half - half), (t, 1, N))
    assert difference(x[2 * u], chain, RANGES) != 0


def test_a_delta_solved_to_a_fraction_is_kept():
    """[2 t = u] holds for no t at odd u: substituting t = u / 2 would be wrong."""
    lhs = sp.Sum(x[t] * sp.KroneckerDelta(2 * t, u), (t, 1, N))
    assert difference(lhs, x[u / 2], RANGES) != 0


# ---------------------------------------------------------------- random sums


shift = st.integers(-2, 2)


@st.composite
def conv_sums(draw):
    """Σ_s w[±s + a] x[u + b·s + c] [1 ≤ u + b·s + c ≤ N], s in 1..K + d: a convolution's
    shape with random shifts, signs and ranges."""
    a, c, d = draw(shift), draw(shift), draw(st.integers(-1, 1))
    sign, b = draw(st.sampled_from([1, -1])), draw(st.sampled_from([1, -1]))
    position = u + b * s + c
    inside = Inside(position, 1, N) if draw(st.booleans()) else 1
    return sp.Sum(w[sign * s + a + (K if sign < 0 else 0)] * x[position] * inside,
                  (s, 1, K + d))


@st.composite
def chain_sums(draw):
    """Σ_t x[t] Σ_s w[±s + a] [t + b·s + c = u]: the same sums as the chain rule writes them."""
    a, c, d = draw(shift), draw(shift), draw(st.integers(-1, 1))
    sign, b = draw(st.sampled_from([1, -1])), draw(st.sampled_from([1, -1]))
    inner = sp.Sum(w[sign * s + a + (K if sign < 0 else 0)]
                   * sp.KroneckerDelta(t + b * s + c, u), (s, 1, K + d))
    return sp.Sum(x[t] * inner, (t, 1, N))


@settings(max_examples=60, deadline=None)
@given(st.one_of(conv_sums(), chain_sums()), st.one_of(conv_sums(), chain_sums()))
def test_what_is_proved_equal_is_equal_at_every_size(lhs, rhs):
    if difference(lhs, rhs, RANGES) == 0:
        assert agree(lhs, rhs, SIZES)


@settings(max_examples=30, deadline=None)
@given(conv_sums())
def test_a_sum_is_equal_to_itself_reindexed(lhs):
    """The sum with its index reflected (s → K + 1 − s, range and all) is proved equal."""
    body, (index, first, last) = lhs.function, lhs.limits[0]
    reflected = sp.Sum(body.xreplace({index: first + last - index}), (index, first, last))
    assert difference(lhs, reflected, RANGES) == 0


@pytest.mark.parametrize("sizes", SIZES[:4])
def test_the_evaluator_sees_a_difference(sizes):
    """The oracle itself: two sums that differ by one term differ at some point."""
    lhs = sp.Sum(x[s], (s, 1, K))
    assert at(lhs, sizes, {}) != at(sp.Sum(x[s], (s, 1, K + 1)), sizes, {})

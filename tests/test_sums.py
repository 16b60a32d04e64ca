"""The normal form of index expressions: what it proves, and what it must refuse."""

import pytest
import sympy as sp

from symbp.proof.general import Identity, check
from symbp.proof.sums import difference

n, m = sp.symbols("n m", integer=True, positive=True)
i, j, k, p = sp.symbols("i j k p", integer=True, positive=True)
f, g = sp.Function("f"), sp.Function("g")
w, v = sp.IndexedBase("w"), sp.IndexedBase("v")
IN_N = {j: (1, n), k: (1, n)}


def proved(lhs, rhs, ranges=IN_N):
    return difference(lhs, rhs, ranges) == 0


@pytest.mark.parametrize(("lhs", "rhs"), [
    (sp.Sum(sp.KroneckerDelta(i, k) * f(i), (i, 1, n)), f(k)),  # summing out a delta
    (sp.Sum(f(i), (i, 1, n)), sp.Sum(f(p), (p, 1, n))),  # the name of the index
    (sp.Sum(2 * f(i) + g(k) * f(i), (i, 1, n)), (2 + g(k)) * sp.Sum(f(i), (i, 1, n))),
    (sp.Sum(v[i] * sp.Sum(w[i, p] * f(p), (p, 1, m)), (i, 1, n)),  # the order of two sums
     sp.Sum(f(p) * sp.Sum(w[i, p] * v[i], (i, 1, n)), (p, 1, m))),
    (sp.KroneckerDelta(j, k) * f(j), sp.KroneckerDelta(j, k) * f(k)),  # a delta of two free
    (sp.Sum(g(k), (i, 1, n)), n * g(k)),
    (sp.Piecewise((f(k), (k >= 1) & (k <= n)), (0, True)), f(k)),  # k is in its own range
])
def test_equal_index_expressions_are_proved_equal(lhs, rhs):
    assert proved(lhs, rhs)


@pytest.mark.parametrize(("lhs", "rhs", "ranges"), [
    (sp.Sum(f(i), (i, 1, n)), sp.Sum(g(i), (i, 1, n)), IN_N),
    (f(j), f(k), IN_N),
    (sp.Sum(f(i), (i, 1, n)), sp.Sum(f(i), (i, 1, m)), IN_N),
    (sp.Sum(w[i, k] * v[i], (i, 1, n)), sp.Sum(w[k, i] * v[i], (i, 1, n)), IN_N),
    # k lies in 1..m, not 1..n: the delta must not be summed out as if it did
    (sp.Sum(sp.KroneckerDelta(i, k) * f(i), (i, 1, n)), f(k), {k: (1, m)}),
    (sp.KroneckerDelta(j, k) * f(j), f(j), IN_N),
])
def test_different_index_expressions_are_not_proved_equal(lhs, rhs, ranges):
    assert not proved(lhs, rhs, ranges)


def test_check_refutes_with_an_entry_at_a_concrete_width():
    outcome = check(Identity(sp.Sum(w[i, k] * v[i], (i, 1, n)), sp.Sum(w[k, i] * v[i], (i, 1, n)),
                             {k: (1, n)}, [n]))
    assert outcome.status == "failed"
    assert "refuted at widths n = 2" in outcome.how and outcome.entry == (1, 1)


def test_an_identity_the_rules_cannot_close_is_screened_not_proved():
    # reversing the order of summation is true, but no rule of the normal form does it
    reversed_sum = Identity(sp.Sum(f(i), (i, 1, n)), sp.Sum(f(n + 1 - i), (i, 1, n)), {}, [n])
    outcome = check(reversed_sum)
    assert outcome.status == "screened"
    assert "evidence, not a proof" in outcome.how

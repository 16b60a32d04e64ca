"""``core.built``: rebuilding an expression from new arguments without SymPy's assumption
queries, against SymPy's own constructors (the oracle), and a mistake planted in it refuted
by the general theorem's instances, naming the entry."""

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symbp.core import built
from symbp.proof import general
from symbp.proof.theorem import prove_theorem

x, w = sp.IndexedBase("x"), sp.IndexedBase("w")
k = sp.Symbol("k", integer=True, positive=True)
j = sp.Symbol("j")
indices = st.one_of(st.integers(-2, 4), st.builds(sp.Integer, st.integers(-2, 4)),
                    st.sampled_from([k, j, k + 1, 2 * j]))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([x, w]), st.lists(indices, min_size=1, max_size=3))
def test_an_entry_is_sympys_indexed_and_one_object(base_, ix):
    got = built.entry(base_, ix)
    want = sp.Indexed(base_, *ix)
    assert got == want and sp.srepr(got) == sp.srepr(want)
    assert got.assumptions0 == want.assumptions0
    assert built.entry(base_, ix) is got


@settings(max_examples=200, deadline=None)
@given(indices, indices)
def test_a_rebuilt_delta_is_sympys_kronecker_delta(i, jj):
    template = sp.KroneckerDelta(k, j)
    got = built.rebuilt(template, [i, jj])
    want = sp.KroneckerDelta(i, jj)
    assert got == want and sp.srepr(got) == sp.srepr(want)


def test_an_entry_keeps_its_own_base_where_sympy_sees_equal_ones():
    shifted = sp.IndexedBase("x", offset=3)
    assert shifted == x  # SymPy's equality does not see the offset; the code printers do
    plain = built.entry(x, (7,))
    assert built.entry(shifted, (7,)).base.offset == 3
    assert built.entry(x, (7,)) is plain and plain.base.offset == 0


def test_anything_else_is_sympys_constructor():
    a, b = sp.symbols("a b")
    assert built.rebuilt(a * b, [sp.Integer(0), sp.oo]) is sp.nan  # SymPy asks is_finite
    assert built.rebuilt(a + b, [x[1], x[1]]) == 2 * x[1]
    assert built.rebuilt(sp.KroneckerDelta(a, b, (1, 3)), [sp.Integer(1), sp.Integer(5),
                                                           sp.Tuple(1, 3)]) == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), st.integers(1, 3)), min_size=1, max_size=4),
       st.integers(1, 3))
def test_replaced_through_entries_and_deltas_is_xreplace(pairs, value):
    expr = sp.Add(*[sp.KroneckerDelta(a, k) * w[a, k] * x[b] + x[k] * sp.KroneckerDelta(k, b)
                    for a, b in pairs])
    got = built.replaced(expr, {k: sp.Integer(value)})
    want = expr.xreplace({k: sp.Integer(value)})
    assert got == want and sp.srepr(got) == sp.srepr(want)


def test_a_wrong_delta_value_is_refuted_by_the_general_instances(monkeypatch):
    """Planted: every delta of two integers taken as 1. The instances of the lemmas at
    concrete widths differ from the truth; the claims fail and name the entry."""
    right = built.rebuilt

    def wrong(expr, args):
        if expr.func is sp.KroneckerDelta and all(built._integer(a) for a in args):
            return sp.S.One
        return right(expr, args)

    monkeypatch.setattr(general, "rebuilt", wrong)
    monkeypatch.setattr(built, "rebuilt", wrong)  # what replaced (written out) rebuilds with
    proof = prove_theorem("generic", "mse", depths=2)
    assert proof.status == "failed", proof.summary()
    failed = [c for c in proof.claims if c.status == "failed"
              and c.name not in ("theorem", "cross-check")]
    assert {c.name for c in failed} >= {"step"}
    assert all(c.entry is not None and "refuted at widths" in c.how for c in failed)


@pytest.mark.parametrize("kind", ["generic", "tanh"])
def test_the_general_theorem_still_holds_through_it(kind):
    assert prove_theorem(kind, "mse", depths=2).holds

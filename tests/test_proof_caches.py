"""The general theorem's shortcuts compute what the plain computation does: every remembered
result equals the one computed afresh, and every cache is bounded."""

import functools
import itertools

import sympy as sp

from symbp.core.layers.base import Inside
from symbp.core.layers.written import written_out
from symbp.proof import expanded, general, index_entries, row_softmax, sums
from symbp.proof.row_softmax import ROW, RowSoftmax

i, j, k, r, t = sp.symbols("i j k r t", integer=True, positive=True)
n, T = sp.symbols("n T", integer=True, positive=True)
x, w = sp.IndexedBase("x"), sp.IndexedBase("w")


def test_remembered_sreprs_are_sreprs_and_the_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(sums, "srepr", functools.lru_cache(maxsize=3)(sums.srepr.__wrapped__))
    exprs = [x[i] + n * m for m in range(5)] + [x[i]]
    assert [sums.srepr(e) for e in exprs * 2] == [sp.srepr(e) for e in exprs * 2]
    assert sums.srepr.cache_info().currsize <= 3


def test_a_written_out_weight_is_the_quotient_written_out_every_time(monkeypatch):
    row_softmax._written.cache_clear()
    weight = RowSoftmax(x[ROW, j] * w[j], Inside(ROW, 1, t), k, 1, 3)
    expr = (weight * x[k, 1] + weight ** 2).xreplace({j: 2})
    plain = expr.replace(lambda e: isinstance(e, RowSoftmax), lambda e: written_out(e.explicit()))
    assert row_softmax.written_softmax(expr) == plain
    assert row_softmax.written_softmax(expr) == plain  # remembered
    assert row_softmax._written.cache_info().currsize == 1
    symbolic = RowSoftmax(x[ROW, j], sp.Integer(1), k, 1, T)  # a row of T entries: as before
    assert row_softmax.written_softmax(symbolic).has(sp.Sum)


def test_canonical_names_are_remembered_and_stay_as_they_are(monkeypatch):
    row_softmax._canonical.cache_clear()
    f = sp.Sum(x[ROW, i] * sp.Sum(w[i, r], (r, 1, n)), (i, 1, n))
    named = row_softmax._canonical(f)
    assert named == row_softmax._named_by_depth(f) != f
    assert row_softmax._canonical(named) == named == row_softmax._named_by_depth(named)


def _one_at_a_time(expr):
    """fresh_bound as it was: each sum renamed where it stands as written, outer ones first."""
    found = sorted(expr.atoms(sp.Sum), key=lambda s: -len(list(sp.preorder_traversal(s))))
    for s in found:
        expr = expr.xreplace({s: s.xreplace({a: index_entries.fresh() for a, _, _ in s.limits})})
    return expr


def _shape(expr, before):
    """``expr`` with every index made since ``before`` named D: which sums were renamed."""
    return expr.xreplace({d: sp.Symbol("D") for d in expr.atoms(sp.Dummy) - before})


def test_nested_sums_are_renamed_as_one_at_a_time_outer_first():
    inner = sp.Sum(x[r], (r, 1, n))
    expr = (sp.Sum((x[i] - inner) * sp.Sum(w[i, k] * inner, (k, 1, n)), (i, 1, n))
            * sp.Sum(w[j, k] * inner, (k, 1, n)) + inner)
    renamed = index_entries.fresh_bound(expr)
    assert _shape(renamed, set()) == _shape(_one_at_a_time(expr), set())
    assert not renamed.has(i, r)  # the sums that read no outer index: renamed apart
    side_by_side = sp.Sum(x[i], (i, 1, n)) * sp.Sum(w[i, k], (k, 1, n))
    assert _shape(index_entries.fresh_bound(side_by_side), set()) == _shape(
        _one_at_a_time(side_by_side), set())


def test_an_instance_at_its_points_is_xreplace_at_each_point():
    expr = written_out((sp.Sum(sp.KroneckerDelta(i, j) * x[i] * w[k], (i, 1, n))
                        + x[j] * Inside(k, 1, j)).xreplace({n: 3}))
    at = general._AtPoints([j, k])
    points = list(itertools.product(range(1, 4), range(1, 3)))
    assert [at(expr, p) for p in points] == [expr.xreplace({j: a, k: b}) for a, b in points]


def test_written_out_with_parts_shared_between_calls_is_written_out():
    done: dict = {}
    exprs = [sp.Sum(x[i] * sp.Sum(w[i, k], (k, 1, m)), (i, 1, 2)) for m in (1, 2, 3)]
    assert [written_out(e, done) for e in exprs] == [written_out(e) for e in exprs]


def test_the_expansion_that_remembers_its_parts_is_sympys_expand():
    """Term for term as SymPy writes it (srepr), on the shapes the lemmas take: sums over
    products, a root and a power of a sum repeated, logs, exponentials, Kronecker deltas."""
    f = sp.Function("f")
    inner = sp.Sum(x[i] * (w[i, k] + 1), (i, 1, n))
    root = sp.sqrt(sp.Sum((x[k] - inner / n) ** 2, (k, 1, n)) / n + sp.Rational(1, 10))
    exprs = [
        (x[i] + w[i, j]) ** 3 * (inner - x[j]) + inner ** 2,
        (x[j] - inner / n) / root * (1 - (x[j] - inner / n) ** 2 / root ** 2) - inner / root,
        sp.log(x[i] * w[i, j] * (1 + x[j])) + sp.exp(2 * x[i] + w[i, j]) * (x[i] - 1) ** 2,
        sp.Sum(sp.KroneckerDelta(i, j) * (x[i] + f(x[j] * (w[i, j] + 1))) ** 2, (i, 1, n)),
        sp.Sum(sp.Sum(x[i] * (w[i, k] - x[k]) * (x[i] + 1), (k, 1, n)), (i, 1, n)) * root,
        sp.Integer(3), x[i], sp.Piecewise((x[i] * (x[j] + 1), x[i] > 0), (0, True)),
    ]
    for e in exprs:
        expanded.expand.cache_clear()
        assert sp.srepr(expanded.expand(e)) == sp.srepr(sp.expand(e)), e
        assert expanded.expand(e) is expanded.expand(e)  # remembered


def test_a_fresh_copy_is_equal_and_made_of_new_objects_that_have_answered_nothing():
    # general.check decides a difference left over once more on such a copy: SymPy keeps on
    # each object what it derived of it, and conv1d max pooling's H step at order 2 was
    # decided in some processes and not in others by what earlier lemmas had asked
    i, n = sp.Symbol("i", integer=True), sp.Symbol("n", integer=True, positive=True)
    f = sp.IndexedBase("f")
    e = sp.Sum(f[i] * (i - 1) * (n + 1), (i, 1, n)) + sp.Piecewise((i, i >= 1), (0, True))
    assert (e * n).is_integer is None and "integer" in e._assumptions  # kept on the object
    (copy,) = general.afresh(e)
    assert copy == e and copy is not e and copy.args[0] is not e.args[0]
    assert "integer" not in copy._assumptions
    assert general.afresh(i, 3) == [i, 3]  # atoms and plain values as they are

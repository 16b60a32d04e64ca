"""The general theorem's steps grouped into lemmas (proof.trace_groups): a step written as another
up to the names of its summation indices joins that one's lemma without a normal form; one
that differs (a planted mistake at one place) is a lemma of its own, and refuted; equal normal
forms still join; and a map relabelled once per case (kind_lemmas, remember) gives each entry
its own summation indices, the formula the relabelling without memory gives."""

from __future__ import annotations

import pytest
import sympy as sp

from symbp.core.generic import LAYER, WIDTH, GenericRecorder, Template, record_generic
from symbp.core.layers import Layer
from symbp.core.recursion import backprop_deltas
from symbp.proof import general, kind_lemmas, trace_groups
from symbp.proof.index_entries import DELTA, K, W, fresh
from symbp.proof.sums import normal

N, M = WIDTH[LAYER], WIDTH[LAYER + 1]
RANGES = {K: (1, N)}


def _chain(scale: int = 1) -> sp.Expr:
    """Σ_i w[l+1, i, k] δ[l+1, i], over a summation index of its own (times ``scale``)."""
    i = fresh()
    return scale * sp.Sum(W[LAYER + 1, i, K] * DELTA[LAYER + 1, i], (i, 1, M))


def _add(groups, lhs, rhs, where):
    trace_groups.add_identity(groups, "step", LAYER, (lhs, ""), rhs, dict(RANGES), where)


@pytest.fixture
def counted(monkeypatch):
    """How many normal forms grouping computes."""
    calls = []
    real = trace_groups.normal

    def count(expr, ranges):
        calls.append(expr)
        return real(expr, ranges)

    monkeypatch.setattr(trace_groups, "normal", count)
    return calls


def test_a_step_written_alike_but_for_its_indices_joins_its_lemma_without_a_normal_form(counted):
    groups: trace_groups.Groups = {}
    _add(groups, _chain(), _chain(), "L ≥ 3")
    _add(groups, _chain(), _chain(), "L = 2")  # other Dummy indices, the same formula
    (group,) = groups["step"].values()
    assert group.places == ["layer l (L ≥ 3)", "layer l (L = 2)"] and counted == []
    assert general.check(group.identity).status == "proved"


def test_a_step_planted_wrong_at_one_place_is_a_lemma_of_its_own_and_refuted(counted):
    groups: trace_groups.Groups = {}
    _add(groups, _chain(), _chain(), "L ≥ 3")
    _add(groups, _chain(2), _chain(), "L = 2")  # the recursion doubles δ at this place only
    right, wrong = groups["step"].values()
    assert right.places == ["layer l (L ≥ 3)"] and wrong.places == ["layer l (L = 2)"]
    assert len(counted) == 2  # the left sides' normal forms differ: the right ones not needed
    outcome = general.check(wrong.identity)
    assert outcome.status == "failed" and outcome.entry == (1, 1)
    assert outcome.how.startswith("refuted at widths")


def test_a_step_written_otherwise_with_the_same_normal_form_joins_its_lemma(counted):
    groups: trace_groups.Groups = {}
    i, j = fresh(), fresh()
    split = (sp.Sum(W[LAYER + 1, i, K] * DELTA[LAYER + 1, i], (i, 1, M))
             + sp.Sum(W[LAYER + 1, j, K] * DELTA[LAYER + 1, j], (j, 1, M)))
    _add(groups, 2 * _chain(), _chain(), "L ≥ 3")
    _add(groups, split, _chain(), "L = 2")  # two sums, one normal form: 2 Σ_i ...
    (group,) = groups["step"].values()
    assert len(group.places) == 2 and len(counted) == 4


def test_equal_left_sides_with_other_truths_are_two_lemmas():
    groups: trace_groups.Groups = {}
    _add(groups, _chain(), _chain(), "L ≥ 3")
    _add(groups, _chain(), _chain(3), "L = 2")
    assert [g.places for g in groups["step"].values()] == [["layer l (L ≥ 3)"],
                                                           ["layer l (L = 2)"]]


# ---------------------------------------------------------------- a map relabelled once


class _Layers(kind_lemmas.Layers):
    """The maps of causal attention under a dense output layer, remembering or not."""

    def __init__(self, remember: bool):
        template = Template.of(Layer("attention", {"causal": True, "activation": "identity"}))
        dense = Template.of(Layer("dense", {"activation": "sigmoid"}))
        case = record_generic(backprop_deltas, (template, dense), None).cases[0]
        recorder = GenericRecorder(case.explorer, "", (template, dense), None)
        super().__init__(recorder._at, recorder.shape_at, remember)


def test_a_remembered_map_gives_each_entry_its_own_indices_and_the_same_formula():
    remembering, plain = _Layers(True), _Layers(False)
    pre = remembering.maps(LAYER).pre
    index = (fresh(), fresh())
    first = kind_lemmas._map_at(pre, remembering, LAYER, index)
    again = kind_lemmas._map_at(pre, remembering, LAYER, index)
    bound = [e.atoms(sp.Dummy) - set(index) for e in (first, again)]
    assert bound[0] and not bound[0] & bound[1]  # apart: no sum index shared
    assert len(remembering.relabelled) == 1  # relabelled once
    fresh_one = kind_lemmas._map_at(plain.maps(LAYER).pre, plain, LAYER, index)
    assert normal(first, {}) == normal(fresh_one, {}) == normal(again, {})

"""Attention's printed hvp program read exactly (proof/code_maxima.py, proof/kinds_code.py):
its scale √d/d printed as np.sqrt and read as √d, its softmax stabilizer (a row maximum m, its
tangent at the argmax) read as free symbols, the clamp exp(min(0, t − m)) decided only for
entries of m's row; the claims proved for a small network in both flavours, and mistakes
planted in the module's text (a term of the softmax's tangent dropped, the wrong scale, the
stabilizer subtracted in one place only) refuted, never proved. One derivation, d = 2
channels of 2 tokens; a planted NumPy mistake runs the NumPy flavour alone (about 2 CPU-s)."""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest
import sympy as sp

import symbp
from symbp import Layer
from symbp.numeric.kinds_curvature_codegen import kinds_second_order_source
from symbp.proof.code_exact import Run, exact_function
from symbp.proof.code_maxima import Maxima
from symbp.proof.kinds_code import code_claims, not_read


@functools.cache
def derived():
    return symbp.derive(symbp.Network(layers=[Layer("attention", causal=True),
                                              Layer("dense", units=1, activation="sigmoid")],
                                      inputs=[2, 2]), order=2)


@functools.cache
def source(flavor: str = "numpy") -> str:
    """The module of ``derived()`` in ``flavor``, printed once (most of each test's time): the
    printer is deterministic, and each test edits its own copy of the text."""
    return kinds_second_order_source(derived(), flavor)


def printer(d, flavor: str) -> str:
    """``kinds_second_order_source`` for ``derived()``, as code_claims calls it."""
    assert d is derived()
    return source(flavor)


def claims(edit, flavors=("numpy",)) -> dict:
    """The code claims on the module edited by ``edit``; a flavour not in ``flavors`` is
    refused (its claims fail by that error, so only the others are read)."""
    def printed(d, flavor):
        if flavor not in flavors:
            raise ValueError("not this flavour")
        text = printer(d, flavor)
        edited = edit(text)
        assert edited != text, "the edit did not apply"
        return edited
    return {c.name: c for c in code_claims(derived(), printed, [])
            if any(f"{title} " in c.name for title in (
                *(["Hv code"] if "numpy" in flavors else []),
                *(["Hv numba"] if "numba" in flavors else [])))}


def test_the_printed_hvp_of_attention_is_compared_in_both_flavors():
    assert not_read(derived()) == ""
    found = {c.name: c for c in code_claims(derived(), printer, [])}
    names = [f"{t} {p}" for t in ("Hv code", "Hv numba")
             for p in ("W1", "b1", "WQ1", "WK1", "W2", "b2")]
    assert sorted(found) == sorted(names)
    for c in found.values():  # every check held: the claim waits only on its "Hv" claim
        assert c.status == "not compared" and c.culprit.startswith("Hv ") and not c.residual
    assert "row maxima read as free symbols" in found["Hv code W1"].how
    text = source()
    assert "np.sqrt(2)" in text and "1.4142135623730951" not in text
    assert "0.7071067811865476" not in text


def test_a_softmax_tangent_without_its_row_sum_term_is_refuted_by_statement():
    def dropped(text):  # (Ṗ numerator − P ṡ) / s  becomes  Ṗ numerator / s
        return re.sub(r"\((R__k\d+) - _k\d+ / _k\d+ \* R__k\d+\) / (_k\d+)", r"\1 / \2",
                      text, count=1)
    found = claims(dropped, ("numpy", "numba"))
    assert all(c.status == "failed" and c.entry for c in found.values())
    assert all("the tangent differs from D_v" in c.residual for c in found.values())
    assert found["Hv numba WQ1"].residual.startswith(
        "the statement z1_s9[b_, p0_, p1_] = _k23 / _k24:")


def test_the_wrong_scale_is_refuted_against_the_delta_program():
    found = claims(lambda text: text.replace("np.sqrt(2) / 2 * ", "np.sqrt(3) / 3 * "))
    for name in ("Hv code WQ1", "Hv code WK1"):
        assert found[name].status == "failed" and found[name].entry == (1, 1)
        assert "the printed gradient against the delta program's" in found[name].residual
    assert found["Hv code W2"].status == "not compared"  # its entries read no scale


def test_a_stabilizer_subtracted_in_one_place_only_is_never_proved():
    # the row sum's exponentials without m, the numerator's with it: softmax(s - m) only
    # where m cancels, so the gradient depends on m, which is free
    def once(text):
        assert "_k8 = _k6 - _k7\n" in text
        return text.replace("R__k8 = R__k6 - R__k7\n", "R__k8 = R__k6\n").replace(
            "_k8 = _k6 - _k7\n", "_k8 = _k6\n")
    found = claims(once)
    assert found and all(c.status == "failed" and c.entry for c in found.values())
    assert all("the printed gradient against the delta program's" in c.residual
               for c in found.values())


# ---------------------------------------------------------------- the reading itself


t, u, m = sp.symbols("t u m", real=True)


def test_the_clamp_is_decided_only_for_an_entry_of_the_maximums_row():
    d1, d2 = sp.Symbol("d1", real=True), sp.Symbol("d2", real=True)
    maxima = Maxima({d1: t - m, d2: u - m})
    maxima._below[m] = frozenset({t})  # m is the maximum of a row holding t, not u
    assert maxima.decide(sp.S.Zero, "<", d1) is sp.false  # 0 < t - m: false
    assert maxima.decide(d1, ">", sp.S.Zero) is sp.false
    assert maxima.decide(sp.S.Zero, "<=", d1) is None  # a tie: not decided
    assert maxima.decide(sp.S.Zero, "<", d2) is None  # u is not in m's row
    assert maxima.decided == 2


def test_a_running_max_is_at_least_each_value_it_chose_between():
    a, b, c = sp.symbols("a b c", real=True)
    first, second = sp.symbols("first second", real=True)
    maxima = Maxima({first: sp.Piecewise((a, a > b), (b, True)),
                     second: sp.Piecewise((first, first > c), (c, True))})
    assert maxima.below(second) == {first, a, b, c}
    assert maxima.below(sp.Piecewise((a, a > b), (0, True))) == frozenset()


SOURCE = """import numpy as np

def tangent_at_max(s, R_s):
    return np.take_along_axis(np.broadcast_to(R_s, np.shape(s)),
                              np.expand_dims(np.argmax(s, axis=-1), -1), axis=-1).squeeze(-1)

def row_max(s):
    return np.max(s, axis=-1)

def indexed(s, R_s):
    return R_s[np.argmax(s, axis=-1)]
"""


def test_a_row_max_and_its_argmax_tangent_are_free_symbols_and_argmax_is_read_no_other_way():
    run = Run()
    s = np.array([[t, u, -sp.oo]], dtype=object)
    R_s = np.array([[sp.Symbol("r1"), sp.Symbol("r2"), sp.Symbol("r3")]], dtype=object)
    top = exact_function(SOURCE, "row_max", run)(s)
    rate = exact_function(SOURCE, "tangent_at_max", run)(s, R_s)
    assert top[0].is_Symbol and rate[0].is_Symbol and top[0] != rate[0]
    assert run.maxima.below(top[0]) == {t, u}  # -inf (a masked entry) is no entry
    assert exact_function(SOURCE, "row_max", run)(np.array([[1, 3]], dtype=object))[0] == 3
    with pytest.raises((TypeError, IndexError, ValueError)):
        exact_function(SOURCE, "indexed", run)(s, R_s)

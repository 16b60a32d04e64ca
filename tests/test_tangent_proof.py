"""The printed hvp program of a network of layer kinds proved (proof/kinds_code.py): its
_tangent run exactly on symbols (proof/code_exact.py) against the proved H v, in the
coordinates of proof/code_coordinates.py; mistakes planted in a tangent rule and in the
module's text are refuted by name; the module says proved only of the _tangent proved."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import sympy as sp

import symbp
from symbp import Layer
from symbp.numeric import tangent_rules
from symbp.numeric.kinds_curvature_codegen import kinds_second_order_source
from symbp.proof.code_coordinates import Coordinates
from symbp.proof.code_exact import Run, code_fingerprint, exact_function, literal
from symbp.proof.curvature import prove_second_order
from symbp.proof.kinds_code import code_claims, code_proved, note
from symbp.render.formats import second_sentence


@functools.cache
def derived(activation: str = "tanh"):
    return symbp.derive(symbp.Network(layers=[Layer("residual", activation=activation),
                                              Layer("dense", units=1, activation="sigmoid")],
                                      inputs=2), order=2)


@functools.cache
def proved():
    return prove_second_order(derived(), printed=kinds_second_order_source)


def code(proof, title: str) -> dict:
    return {c.name: c for c in proof.claims if c.name.startswith(title + " ")}


@pytest.mark.parametrize(("flavor", "title", "function"), [
    ("numpy", "Hv code", "_tangent"), ("numba", "Hv numba", "_tangent_kernel")])
def test_the_printed_hvp_is_proved_for_every_parameter_and_named_by_its_fingerprint(
        flavor, title, function):
    proof = proved()
    claims = code(proof, title)
    assert sorted(claims) == [f"{title} {p}" for p in ("W1", "W2", "b1", "b2")]
    assert proof.holds and all(c.proved for c in claims.values())
    source = kinds_second_order_source(derived(), flavor)
    fingerprint = code_fingerprint(source, function)
    assert all(f"code {fingerprint})" in c.statement for c in claims.values())
    assert code_proved(proof, source, flavor) == fingerprint
    sentence = second_sentence(derived(), proof, flavor)
    assert f"this module's {function} (code {fingerprint}) run exactly is that H v" in sentence


def test_a_module_whose_tangent_differs_is_not_said_to_be_proved():
    edited = kinds_second_order_source(derived()).replace("R_delta2 = ", "R_delta2 = 1.0 * ")
    assert code_proved(proved(), edited) == ""


def test_without_the_module_text_no_claim_is_made_and_the_note_says_so():
    assert code_claims(derived(), None, []) == []
    assert "not given to the prover" in note(derived(), None)
    assert note(derived(), kinds_second_order_source) == ""


def test_max_pooling_is_not_compared_and_the_note_says_why():
    # a window's maximum is a Python comparison of its entries, undecidable on symbols: the
    # exact run would fail a correct program, so no claim is made (the proof still holds)
    pooled = symbp.derive(symbp.Network(layers=[
        Layer("conv1d", channels=1, kernel=2, activation="tanh", pool="max", pool_size=2),
        Layer("dense", units=1, activation="sigmoid")], inputs=[1, 5]), order=2)
    assert code_claims(pooled, kinds_second_order_source, []) == []
    assert "(max pooling: each window's maximum is chosen by comparing its entries" in \
        note(pooled, kinds_second_order_source)
    assert prove_second_order(pooled, printed=kinds_second_order_source).holds


FLAVOR_TITLES = {"numpy": "Hv code", "numba": "Hv numba"}


def _refuted(printed, d=None) -> dict:
    claims = {c.name: c for c in code_claims(d or derived(), printed, [])}
    return {name: c for name, c in claims.items() if c.status == "failed" and c.entry}


def test_a_wrong_tangent_rule_is_refuted_naming_the_entry(monkeypatch):
    monkeypatch.setitem(tangent_rules.RULES, "np.tanh", "(1.0 - np.tanh({u}))")
    refuted = _refuted(kinds_second_order_source)
    assert "Hv code W1" in refuted
    assert refuted["Hv code W1"].entry == (1, 1)
    assert refuted["Hv code W1"].residual


def test_an_edited_module_text_is_refuted_naming_the_entry_in_each_flavor():
    def printed(d, flavor):
        text = kinds_second_order_source(d, flavor)
        return text.replace("(1.0 - np.tanh(", "(1.0 + np.tanh(").replace(
            "(1.0 - _tanh(", "(1.0 + _tanh(")
    refuted = _refuted(printed)
    assert {"Hv code b1", "Hv numba b1"} <= set(refuted)
    assert refuted["Hv numba b1"].residual


def test_a_tangent_that_takes_the_first_branch_on_a_tie_is_refuted_at_zero():
    d = derived("relu")  # ReLU'(0) = 0: the tangent of max(z, 0) takes 0 on a tie
    assert not _refuted(kinds_second_order_source, d)

    def printed(d, flavor):
        text = kinds_second_order_source(d, flavor)
        assert "> 0.0, R_" in text
        return text.replace("> 0.0, R_", ">= 0.0, R_")
    assert "Hv code W1" in _refuted(printed, d)


def test_float_literals_are_the_rationals_they_print():
    assert literal(0.5) == sp.Rational(1, 2)
    assert literal(1e-05) == sp.Rational(1, 100000)
    assert literal(1 / 3) == sp.Rational(1, 3)
    assert literal(0.1) == sp.Rational(1, 10)
    with pytest.raises(ValueError, match="not a finite number"):
        literal(float("nan"))


def test_the_exp_cap_is_read_as_not_binding_and_counted_and_a_branch_on_a_symbol_refused():
    source = ("import numpy as np\n\ndef f(u):\n    return np.exp(np.minimum(u, 709.0))\n\n"
              "def g(u):\n    if u > 0.0:\n        return u\n    return 0.0\n")
    run = Run()
    u = sp.Symbol("u")
    assert exact_function(source, "f", run)(np.array([u], dtype=object))[0] == sp.exp(u)
    assert run.capped == 1
    with pytest.raises(TypeError):
        exact_function(source, "g", run)(u)


def test_the_coordinates_make_sigmoid_a_symbol_and_a_choice_an_indicator():
    z = sp.Symbol("z")
    c = Coordinates()
    s = c(1 / (1 + sp.exp(-z)))
    assert sp.cancel(s).is_Symbol and sp.cancel(s).is_positive
    h = c(sp.Piecewise((z, z > 0), (0, True)))
    assert h == z * c(sp.Piecewise((1, z > 0), (0, True)))
    with pytest.raises(ValueError, match="last branch"):
        c(sp.Piecewise((z, z > 0)))


def test_softplus_is_proved_in_both_flavors():
    # NumPy prints softplus as np.logaddexp(0, u), read as log(e^0 + e^u); the kernel calls
    # its own _softplus, read as log(1 + e^u) (its body is that, below), so no kink is left
    # (printed inline, max(u, 0) + log1p(e^-|u|) left an indicator the coordinates could not
    # relate to |u|: "not decided")
    claims = {c.name: c for c in code_claims(derived("softplus"), kinds_second_order_source,
                                              [])}
    assert sorted(claims) == sorted(f"Hv {flavor} {p}" for flavor in ("code", "numba")
                                    for p in ("W1", "W2", "b1", "b2"))
    assert all(c.residual == "" and c.status != "failed" for c in claims.values())


def test_the_kernels_softplus_body_is_log_one_plus_exp_for_every_real_u():
    # what code_exact reads _softplus as, proved by cases on the sign of u (the body's text is
    # the kernel's own, checked below), e^t read as exp as everywhere in the kernel
    from symbp.numeric.numba_kernel import PRELUDE

    assert "return max(u, 0.0) + math.log1p(_exp(-abs(u)))" in PRELUDE
    for sign in (1, -1):
        u = sign * sp.Symbol("t", positive=True)
        body = sp.Max(u, 0) + sp.log(1 + sp.exp(-sp.Abs(u)))
        assert sp.simplify(sp.expand_log(body - sp.log(1 + sp.exp(u)), force=True)) == 0
    assert (sp.Max(0, 0) + sp.log(1 + sp.exp(-sp.Abs(0)))) == sp.log(1 + sp.exp(0))


def test_a_wrong_primal_statement_with_a_consistent_tangent_is_refuted_by_the_gradient():
    # delta2 doubled and its tangent too: every statement is D_v of its own, the gradient is
    # not the delta program's (a difference in sigmoid's new coordinate: said undecided)
    def printed(d, flavor):
        text = kinds_second_order_source(d, flavor)
        if flavor == "numba":
            return text
        return text.replace("R_delta2 = R__k12 * _k13 + _k12 * R__k13",
                            "R_delta2 = 2.0 * (R__k12 * _k13 + _k12 * R__k13)").replace(
            "delta2 = _k12 * _k13", "delta2 = 2.0 * (_k12 * _k13)")
    claims = {c.name: c for c in code_claims(derived(), printed, [])}
    for name in ("Hv code W1", "Hv code b1", "Hv code W2", "Hv code b2"):
        assert claims[name].status == "failed" and claims[name].entry == (1, 1)
        assert claims[name].residual.startswith("not decided: the printed gradient against "
                                                "the delta program's: a difference in")
    assert claims["Hv numba W1"].residual == ""


def test_the_trace_checks_one_statement_and_refuses_a_value_read_before_it_is_written():
    from symbp.proof.code_trace import Trace

    w, v = sp.symbols("w v")
    trace = Trace({w: v})
    t = trace.let(sp.tanh(w) * w)  # a statement t = tanh(w) w
    assert t != sp.tanh(w) * w and trace.defs[t] == sp.tanh(w) * w
    right = trace.let((1 - sp.tanh(w) ** 2) * w * v + sp.tanh(w) * v)
    assert trace.check(t, right) == ""
    assert trace.check(t, trace.let(sp.tanh(w) * v)).startswith("the tangent differs from D_v")
    assert "not a value written before" in trace.check(t, sp.nan)


@functools.cache
def batch_normed():
    return symbp.derive(symbp.Network(layers=[Layer("batchnorm"),
                                              Layer("dense_per_sample", units=1)],
                                      inputs=(2, 2)), order=2)


def test_a_batch_norm_s_printed_hvp_is_proved_and_a_wrong_tangent_in_it_refuted():
    d = batch_normed()
    assert note(d, kinds_second_order_source) == ""
    proof = prove_second_order(d, printed=kinds_second_order_source)
    claims = {c.name: c for c in proof.claims if c.name.startswith(("Hv code ", "Hv numba "))}
    assert len(claims) == 8 and all(c.proved for c in claims.values())

    def printed(d, flavor):  # the tangent of (z - mean) / sqrt(var + eps) halved
        text = kinds_second_order_source(d, flavor)
        assert "R__k3 = R__k2 / np.sqrt(" in text or flavor == "numba"
        return text.replace("R__k3 = R__k2 / np.sqrt(", "R__k3 = R__k2 / 2.0 / np.sqrt(")
    refuted = _refuted(printed, d)
    assert "Hv code W1" in refuted
    assert refuted["Hv code W1"].residual.startswith("the statement _k3 = _k2 / np.sqrt(")

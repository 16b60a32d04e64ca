"""Exact equality decides only what it can: concrete functions keep their values, declarations
on symbols are honoured, infinities are found where they hide, and a refusal stays a refusal.

Every "was" below is what the checker answered before issue 17: "equal".
"""

import dataclasses

import pytest
import sympy as sp

import symbp
from symbp.core import registry
from symbp.proof.exact import Exact, first_difference

x, y = sp.symbols("x y")
f = sp.Function("f")
half = sp.Rational(1, 2)
sigmoid, sigmoid_prime = symbp.ACTIVATIONS["sigmoid"].function, symbp.ACTIVATIONS["sigmoid"].prime
tanh, relu = symbp.ACTIVATIONS["tanh"].function, symbp.ACTIVATIONS["relu"].function
softmax = symbp.ACTIVATIONS["softmax"]


def over_itself(zero: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """(z x + z² x)/(z + z²) = x: an identity wherever z(1 + z) ≠ 0, a 0/0 where z = 0 (written
    so that SymPy does not cancel it on construction)."""
    return (zero * x + zero**2 * x) / (zero + zero**2), x


def refused(a, b) -> str:
    assert not symbp.equivalent(a, b)
    _, reason = first_difference(a, b)
    assert isinstance(reason, str) and reason.startswith("not decided: "), reason
    assert "\n" not in reason
    return reason


# ---------------------------------------------------------------- concrete functions


def _at_origin_gradient() -> sp.Expr:
    """dC/db_1 of a 1-1 sigmoid network, as grad returns it, at w = x = b = 0 and y = 1/2:
    (σ(0) − 1/2) σ'(0), which is exactly 0."""
    d = symbp.derive(symbp.Network([1, 1], activation="sigmoid"))
    entry = d.grad(1, "recursion", "b")[0, 0]
    return entry.xreplace({**{s: 0 for s in entry.free_symbols}, d.y[0]: half})


ZEROS = {  # each is exactly 0; a free value would make it anything
    "sigmoid(0) - 1/2": sigmoid(0) - half,
    "2 sigmoid(0) - 1": 2 * sigmoid(0) - 1,
    "sigmoid'(0) - 1/4": sigmoid_prime(0) - sp.Rational(1, 4),
    "tanh(0)": tanh(0),
    "relu(-1)": relu(-1),
    "softmax summing to one": sum(softmax.apply([x, y])) - 1,
    "SymPy tanh(log 6 - log 2 - log 3)": sp.tanh(sp.log(6) - sp.log(2) - sp.log(3)),
    "a gradient entry at the origin": _at_origin_gradient(),
}


@pytest.mark.parametrize("name", list(ZEROS))
def test_a_concrete_function_is_its_value_not_a_free_one(name):
    reason = refused(*over_itself(ZEROS[name]))  # was: equal
    assert "is not shown to be nonzero (0/0?)" in reason


def test_the_0_0_of_the_issue_is_refused():
    a = (sigmoid(0) - half) / (2 * sigmoid(0) - 1)
    assert "denominator -1 + 2*sigmoid(0)" in refused(a, half)  # was: equal


def test_the_generic_sigma_and_undefined_functions_take_free_values():
    generic = symbp.ACTIVATIONS["generic"]
    for g in (generic.function, generic.prime, f):  # for every σ: some σ has σ(0) ≠ 1/2
        assert symbp.equivalent((g(0) - half) / (2 * g(0) - 1), half)
    assert symbp.equivalent(*over_itself(sp.Derivative(f(x), x).subs(x, 0)))


def test_a_tiny_denominator_is_certified_nonzero():
    for t in (50, 500):  # 1 − tanh(50) = 7.4e-44, 1 − tanh(500) = 1.4e-434
        assert symbp.equivalent((x - x * tanh(t)) / (1 - tanh(t)), x)
        assert symbp.equivalent((x - x * sp.tanh(t)) / (1 - sp.tanh(t)), x)
    assert symbp.equivalent(*over_itself(sigmoid(x) - half))  # zero only at x = 0


def test_a_product_that_vanishes_everywhere_is_refused():
    refused(*over_itself(relu(x) * relu(-x)))  # each factor is nonzero somewhere; was: equal


# ---------------------------------------------------------------- declared symbols


def test_declarations_are_honoured():
    plain, positive = sp.Symbol("k"), sp.Symbol("k", positive=True)
    count = sp.Symbol("k", integer=True, positive=True)
    # relu(1 − k) vanishes for every k ≥ 1 and for no k < 1
    assert symbp.equivalent(*over_itself(relu(1 - plain)))
    assert symbp.equivalent(*over_itself(relu(1 - positive)))  # 1/2 is positive
    refused(*over_itself(relu(1 - count)))  # was: equal
    refused(*over_itself(relu(-positive)))  # was: equal
    zero = sp.Symbol("z", zero=True)
    refused((x * zero + zero) / (zero * (x + 1)), 1)  # was: equal


def test_the_random_screen_honours_declarations_too():
    import random

    from symbp.proof.exact import evaluate_at_random

    count, negative = sp.Symbol("n", integer=True, positive=True), sp.Symbol("m", negative=True)
    zero, r = sp.Symbol("z", zero=True), sp.Symbol("r", irrational=True)
    rng = random.Random(0)
    for _ in range(20):
        n, m, z = evaluate_at_random([count, negative, zero], rng)
        assert n.denominator == 1 and n > 0 and m < 0 and z == 0
    assert evaluate_at_random([r], rng) == [None]


def test_a_declaration_no_rational_meets_is_refused_with_its_reason():
    r = sp.Symbol("r", irrational=True)
    reason = refused(r + 1, 1 + r)
    assert reason.startswith("not decided: r is declared") and "irrational=True" in reason


# ---------------------------------------------------------------- infinities


ZERO_AFTER_EXPANDING = x * (y + 1) - x * y - x
MINUS_ONE = y**2 - y * (y + 1) + y - 1
HIDDEN = {  # both sides hold the same infinity in an atom; was: equal, each of them
    "0**-1 in a function's argument": (f(ZERO_AFTER_EXPANDING**MINUS_ONE),
                                       f((2 * ZERO_AFTER_EXPANDING) ** MINUS_ONE)),
    "0**-1 in an exponential": (sp.exp(ZERO_AFTER_EXPANDING**MINUS_ONE),
                                sp.exp((2 * ZERO_AFTER_EXPANDING) ** MINUS_ONE)),
    "log of 0": (sp.log(ZERO_AFTER_EXPANDING), sp.log(2 * ZERO_AFTER_EXPANDING)),
    "log of 0 in a Piecewise branch": (
        sp.Piecewise((sp.log(ZERO_AFTER_EXPANDING), x > 0), (0, True)),
        sp.Piecewise((sp.log(2 * ZERO_AFTER_EXPANDING), x > 0), (0, True))),
    "a Float in a Piecewise condition": (sp.Piecewise((1, x > sp.Float(0.1)), (0, True)),
                                         sp.Piecewise((1, x > sp.Float(0.1)), (0, True))),
}


@pytest.mark.parametrize("name", list(HIDDEN))
def test_an_infinity_is_found_where_it_hides(name):
    reason = refused(*HIDDEN[name])
    assert any(word in reason for word in ("not a finite value", "log of", "Float"))


def test_an_infinity_made_by_expanding_is_not_an_atom():
    assert "f(zoo) is not a finite value" in refused(*HIDDEN["0**-1 in a function's argument"])


# ---------------------------------------------------------------- a refusal stays a refusal


def test_a_refusal_is_not_remembered_as_success():
    rounded = sp.Float(1e20) * x + x  # SymPy has already rounded it to 1.0e+20*x
    session = Exact()
    for a, b in [(rounded, sp.Float(1e20) * x)] * 2 + [(x * y, rounded * y)] * 2:
        found = session.first_difference(a, b)  # the second time was: equal
        assert found is not None and "Float" in found[1]


def test_a_refusal_is_not_remembered_as_success_by_the_prover(monkeypatch):
    mse = registry.COSTS["mse"]
    monkeypatch.setitem(registry.COSTS, "mse", dataclasses.replace(
        mse, gradient=lambda a, y: [sp.Float(1.0) * (aj - yj) for aj, yj in zip(a, y)]))
    d = symbp.derive(symbp.Network([2, 2], activation="sigmoid"))
    for _ in range(2):  # the derivation reused: the same answer
        proof = symbp.prove(d, "expand")
        assert not proof.holds
        assert {c.status for c in proof.claims if c.kind != "function"} == {"failed"}
        assert all("Float" in c.residual for c in proof.claims if c.status == "failed")


# ---------------------------------------------------------------- planted through public objects


FAKE_ONE = (sigmoid(0) - half) / (2 * sigmoid(0) - 1) * 2  # 1 for free values; 0/0 in fact
assert FAKE_ONE != 1  # SymPy did not cancel it


def _planted(monkeypatch, table, name, **changes):
    monkeypatch.setitem(table, name, dataclasses.replace(table[name], **changes))


@pytest.mark.parametrize("method", ["local", "expand", "auto"])
def test_a_registered_derivative_carrying_a_0_0_is_not_proved(monkeypatch, method):
    right = registry.ACTIVATIONS["sigmoid"].derivative
    _planted(monkeypatch, registry.ACTIVATIONS, "sigmoid",
             derivative=lambda z: right(z) * FAKE_ONE)
    proof = symbp.prove(symbp.derive(symbp.Network([2, 3, 2])), method)  # was: proved
    assert not proof.holds  # σ' and σ' in a (the code's form) both carry the 0/0
    assert {f.parameter for f in proof.failures} == {"sigmoid'", "sigmoid' in a"}
    assert "denominator -1 + 2*sigmoid(0) is not shown to be nonzero" in proof.failures[0].residual


def test_the_theorem_refuses_a_registered_derivative_carrying_a_0_0(monkeypatch):
    right = registry.ACTIVATIONS["sigmoid"].derivative
    _planted(monkeypatch, registry.ACTIVATIONS, "sigmoid",
             derivative=lambda z: right(z) * FAKE_ONE)
    proof = symbp.theorem("sigmoid", "mse")  # was: proved
    assert not proof.holds
    claim = next(c for c in proof.claims if c.name == "sigmoid'")
    assert claim.status == "failed" and "2*sigmoid(0)" in claim.residual


def test_a_registered_cost_gradient_carrying_a_0_0_is_not_proved(monkeypatch):
    mse = registry.COSTS["mse"]
    _planted(monkeypatch, registry.COSTS, "mse",
             gradient=lambda a, y: [g * FAKE_ONE for g in mse.gradient(a, y)])
    for method in ("local", "expand"):
        proof = symbp.prove(symbp.derive(symbp.Network([2, 3, 2], activation="tanh")), method)
        assert not proof.holds  # was: proved
        assert "mse gradient" in [f.parameter for f in proof.failures]
        assert all("2*sigmoid(0)" in f.residual for f in proof.failures)
    theorem = symbp.theorem("generic", "mse")
    assert not theorem.holds
    assert next(c for c in theorem.claims if c.name == "mse gradient").status == "failed"


def test_a_recursion_carrying_a_0_0_is_not_proved():
    def recursion(ops):  # backpropagation, with δ_L scaled by the fake 1
        L = ops.L
        delta = ops.bind_delta(L, FAKE_ONE * ops.activation_vjp(L, ops.cost_gradient()))
        for l in range(L, 0, -1):
            ops.gradient(l, weight=ops.outer(delta, ops.activation(l - 1)), bias=delta)
            if l > 1:
                delta = ops.bind_delta(l - 1, ops.activation_vjp(l - 1,
                                                                 ops.transpose_times(l, delta)))

    d = symbp.derive(symbp.Network([2, 3, 2]), recursion=recursion)
    for method in ("local", "expand"):
        proof = symbp.prove(d, method)  # was: proved
        assert not proof.holds
        assert (proof.failures[0].layer, proof.failures[0].parameter) == (2, "dC/dW_2")

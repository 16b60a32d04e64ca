"""Symbolic results are ordinary SymPy: they evaluate, lambdify and differentiate as such,
while the functions inside stay opaque to the prover."""

import numpy as np
import pytest
import sympy as sp
from oracles import central_differences, random_point

import symbp

NUMERIC = ["sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity"]


def _values(d, x, y, weights, biases):
    values = dict(zip([*d.x, *d.y], [*x, *y]))
    for l in range(1, d.L + 1):
        values.update(zip(d.weights(l), weights[l - 1].ravel()))
        values.update(zip(d.biases(l), biases[l - 1]))
    return values


@pytest.mark.parametrize("activation", [*NUMERIC, "softmax"])
def test_evalf_and_sympy_lambdify_give_the_numbers_of_symbp_lambdify(activation, rng):
    cost = "softmax_ce" if activation == "softmax" else "mse"
    net = symbp.Network([2, 3, 2], activation=activation, cost=cost)
    d = symbp.derive(net)
    x, y, weights, biases = random_point(net, rng)
    want = symbp.lambdify(d)(x, y, weights, biases)
    values = _values(d, x, y, weights, biases)
    for l in (1, 2):
        got = np.array(d.grad(l).subs(values).evalf(), dtype=float)
        np.testing.assert_allclose(got, want["W"][l - 1], rtol=1e-10, atol=1e-12)
        symbols = sorted(values, key=str)
        f = sp.lambdify(symbols, d.grad(l, "direct", "b"))
        got = np.asarray(f(*[values[s] for s in symbols]), dtype=float).ravel()
        np.testing.assert_allclose(got, want["b"][l - 1], rtol=1e-10, atol=1e-12)


def test_sympy_diff_of_a_gradient_is_the_second_derivative(rng):
    """d/dw of ∂C/∂b (through σ'') against central differences of the numeric gradient."""
    net = symbp.Network([2, 2, 1], activation="tanh")
    d = symbp.derive(net)
    x, y, weights, biases = random_point(net, rng)
    w = d.weights(1)[0, 0]
    second = sp.diff(d.grad(1, wrt="b")[0], w).subs(_values(d, x, y, weights, biases)).evalf()
    f, h = symbp.lambdify(d), 1e-6
    weights[0][0, 0] += h
    up = f(x, y, weights, biases)["b"][0][0]
    weights[0][0, 0] -= 2 * h
    down = f(x, y, weights, biases)["b"][0][0]
    assert float(second) == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-9)


def test_opaque_functions_stay_opaque_symbolically():
    d = symbp.derive(symbp.Network([1, 1], activation="sigmoid"))
    g = d.grad(1)[0]
    assert g.evalf() == g.evalf()  # no error, and no rewriting into exp
    assert not g.has(sp.exp) and not g.evalf().has(sp.exp)
    assert symbp.explicit(g).has(sp.exp)


def test_explicit_turns_every_opaque_function_into_its_formula(rng):
    net = symbp.Network([2, 2, 2], activation="softplus")
    d = symbp.derive(net)
    x, y, weights, biases = random_point(net, rng)
    formula = symbp.explicit(d.grad(1))
    assert formula.atoms(sp.Function) <= formula.atoms(sp.exp, sp.log)
    got = np.array(formula.subs(_values(d, x, y, weights, biases)).evalf(), dtype=float)
    np.testing.assert_allclose(got, central_differences(net, x, y, weights, biases)["W"][0],
                               rtol=1e-6, atol=1e-8)
    assert symbp.explicit(sp.Integer(3)) == 3
    generic = symbp.derive(symbp.Network([1, 1], activation="generic")).grad(1)
    assert symbp.explicit(generic) == generic  # no formula: stays opaque


@pytest.mark.parametrize("wrong", ["derivation", "x + 1", None, [1, 2], True])
def test_explicit_names_what_it_got_and_what_it_takes_in_one_line(wrong):
    d = symbp.derive(symbp.Network([2, 2]))
    given = d if wrong == "derivation" else wrong
    with pytest.raises(ValueError, match=r"^explicit\(\) takes a SymPy expression") as caught:
        symbp.explicit(given)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("explicit() takes a SymPy expression or matrix")
    assert f"got {type(given).__name__}" in message
    assert ("explicit(d.grad(l))" in message) == (wrong == "derivation")


def test_explicit_reaches_a_function_of_a_function_at_a_number():
    leaky = symbp.ACTIVATIONS["leaky_relu"].function
    assert symbp.explicit(leaky(leaky(3))) == 3  # was leaky_relu(3): an opaque function left
    assert symbp.explicit(leaky(leaky(-3))) == sp.Rational(-3, 10000)


def test_explicit_of_a_matrix_is_sympys_replace_of_each_entry():
    # each shared part is made explicit once across the entries: the result must be, node for
    # node, what SymPy's own replace gives entry by entry (softmax and σ' of σ' among them)
    net = symbp.Network([2, 2, 3], activation=["tanh", "softmax"], cost="softmax_ce")
    H = symbp.derive(net, order=2).hessian()
    opaque = (symbp.core.functions.Opaque, symbp.core.functions.Softmax)
    want = H.applyfunc(lambda e: e.replace(lambda x: isinstance(x, opaque),
                                           lambda x: x.explicit(), simultaneous=False))
    got = symbp.explicit(H)
    assert [sp.srepr(e) for e in got] == [sp.srepr(e) for e in want]
    assert not got.atoms(*opaque)

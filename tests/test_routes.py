"""The three routes agree, and agree with oracles that share no code with symbp."""

import random

import numpy as np
import pytest
import sympy as sp
from oracles import (
    assert_close,
    central_differences,
    random_point,
    symbolic_values,
    torch_gradients,
)

import symbp

ELEMENTWISE = ["generic", "sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity"]


def pairs():
    """Every activation with every cost where the pair makes sense."""
    for act in ELEMENTWISE:
        yield act, "mse"
        yield [act, "sigmoid"], "bce"  # bce needs outputs in (0, 1)
        yield act, "softmax_ce"
    yield ["tanh", "softmax"], "mse"


@pytest.mark.parametrize(("activation", "cost"), list(pairs()))
@pytest.mark.parametrize("widths", [[2, 3, 2], [3, 2, 2, 3], [2, 2]])
def test_routes_proved_equal(widths, activation, cost):
    if isinstance(activation, list):
        activation = activation[:1] * (len(widths) - 2) + activation[-1:]
    net = symbp.Network(widths, activation=activation, cost=cost)
    proof = symbp.prove(symbp.derive(net), method="expand")
    assert proof.holds, proof.summary()
    assert {(r.layer, r.parameter) for r in proof.rows} == {
        (l, p) for l in range(1, net.L + 1) for p in "Wb"
    }


def test_grad_shapes_and_api():
    d = symbp.derive(symbp.Network([2, 3, 3, 2]))
    assert d.L == 3
    for l in range(1, 4):
        assert d.grad(l).shape == d.weights(l).shape
        assert d.grad(l, wrt="b").shape == d.biases(l).shape
        assert d.delta(l).shape == (d.net.widths[l], 1)
    assert d.x.shape == (2, 1)
    assert d.y.shape == (2, 1)
    assert str(d.weights(2)[0, 2]) == "w2_1_3"
    assert d.latex_names[d.weights(2)[0, 2]] == "w^{(2)}_{13}"
    assert d.grad(3, "recursion", "b") == d.delta(3)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda d: d.grad(0), "from 1 to 3; got 0"),
        (lambda d: d.grad(4), "got 4"),
        (lambda d: d.grad(1, route="backprop"), "expansion, recursion, direct"),
        (lambda d: d.grad(1, wrt="c"), "W, b"),
        (lambda d: d.weights("1"), "got '1'"),
    ],
)
def test_bad_arguments(call, message):
    d = symbp.derive(symbp.Network())
    with pytest.raises(ValueError, match=message):
        call(d)


def test_derive_is_lazy():
    d = symbp.derive(symbp.Network([16] * 6, activation="generic"))
    assert d._grads == {}
    d.grad(5)  # the output layer alone is cheap
    assert set(d._grads) == {(5, "recursion", "W")}


# ---------------------------------------------------------------- symbolic oracle

TEXTBOOK = {  # written from scratch here, not taken from symbp's registry
    "sigmoid": lambda z: 1 / (1 + sp.exp(-z)),
    "tanh": sp.tanh,
    "softplus": lambda z: sp.log(1 + sp.exp(z)),
    "identity": lambda z: z,
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n == "tanh" else n
                                  for n in TEXTBOOK])
def test_against_sympy_diff_of_the_explicit_composed_cost(name):
    """Every route, made explicit, equals sympy.diff of a cost composed here from scratch."""
    net = symbp.Network([2, 2, 1], activation=name)
    d = symbp.derive(net)
    a = d.x
    for l in (1, 2):
        a = (d.weights(l) * a + d.biases(l)).applyfunc(TEXTBOOK[name])
    cost = sum((aj - yj) ** 2 for aj, yj in zip(a, d.y)) / 2
    params = [p for l in (1, 2) for p in (*d.weights(l), *d.biases(l))]
    rng = random.Random(7)
    point = {s: sp.Rational(rng.randint(-9, 9), rng.randint(1, 5)) for s in [*params, *d.x, *d.y]}
    for route in symbp.ROUTES:
        for l in (1, 2):
            for wrt, ps in (("W", d.weights(l)), ("b", d.biases(l))):
                got = symbp.explicit(d.grad(l, route, wrt))
                for expr, p in zip(got, ps):
                    want = sp.diff(cost, p)
                    gap = (expr - want).xreplace(point).evalf(40)
                    assert abs(gap) < sp.Float("1e-30"), (route, l, wrt, p)


def test_exactly_equal_to_sympy_diff_for_sigmoid():
    """Exact, not numeric: the recursion made explicit cancels against sympy.diff."""
    d = symbp.derive(symbp.Network([1, 1, 1]))
    w1, w2 = d.weights(1)[0], d.weights(2)[0]
    sig = TEXTBOOK["sigmoid"]
    a2 = sig(w2 * sig(w1 * d.x[0] + d.biases(1)[0]) + d.biases(2)[0])
    cost = (a2 - d.y[0]) ** 2 / 2
    got = symbp.explicit(d.grad(1)[0])
    assert sp.simplify(got - sp.diff(cost, w1)) == 0


# ---------------------------------------------------------------- numeric oracles

SLOW = pytest.mark.slow  # the explicit formulas of these swell: seconds each
NUMERIC = [
    ([2, 3, 2], "sigmoid", "mse"),
    pytest.param([3, 4, 3], "tanh", "mse", marks=SLOW),
    pytest.param([2, 3, 3, 2], "softplus", "mse", marks=SLOW),
    ([2, 4, 3], ["relu", "sigmoid"], "bce"),
    pytest.param([3, 3, 3], ["leaky_relu", "softmax"], "softmax_ce", marks=SLOW),
    ([2, 3, 2], ["identity", "softmax"], "mse"),
]


@pytest.mark.parametrize(("widths", "activation", "cost"), NUMERIC)
def test_recursion_matches_central_differences(widths, activation, cost, rng):
    net = symbp.Network(widths, activation=activation, cost=cost)
    point = random_point(net, rng)
    got = symbolic_values(symbp.derive(net), "recursion", *point)
    assert_close(got, central_differences(net, *point), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(("widths", "activation", "cost"), NUMERIC)
def test_recursion_matches_pytorch_autograd(widths, activation, cost, rng):
    pytest.importorskip("torch")
    net = symbp.Network(widths, activation=activation, cost=cost)
    point = random_point(net, rng)  # here through the opaque functions' own numeric forms
    got = symbolic_values(symbp.derive(net), "recursion", *point, formulas=False)
    assert_close(got, torch_gradients(net, *point), rtol=1e-9)


def test_oracles_agree_with_each_other(rng):
    """The two oracles themselves: central differences against PyTorch."""
    pytest.importorskip("torch")
    net = symbp.Network([2, 3, 2], activation="tanh")
    point = random_point(net, rng)
    assert_close(central_differences(net, *point), torch_gradients(net, *point), rtol=1e-6)
    assert np.isfinite(point[0]).all()

"""Planted mistakes, through public objects, against every method: none may come out proved.

A mutant is caught when every claim it falsifies is either failed, naming the
entry where it fails, or not made at all (``local`` makes no route claims). The
random screen must refute it too: "screened" for a wrong route is a miss.
"""

import dataclasses

import pytest
import sympy as sp

import symbp
from symbp.core import registry, routes
from symbp.proof.prove import choose_method

METHODS = ["auto", "expand", "local", "random"]
SMALL = symbp.Network([2, 2, 2, 2], activation="sigmoid")  # three layers: chains of two factors
MID = symbp.Network([4, 4, 4, 4], activation="generic")  # auto compares the routes here too
SIZES = [pytest.param(SMALL, id="small"), pytest.param(MID, id="mid", marks=pytest.mark.slow)]
# every method at the small size; at the mid size auto is expand (test_auto_at_mid_size_is_expand),
# so running it again there would repeat expand's work exactly
CASES = [pytest.param(m, SMALL, id=f"{m}-small") for m in METHODS] + [
    pytest.param(m, MID, id=f"{m}-mid", marks=pytest.mark.slow) for m in METHODS if m != "auto"]


# ---------------------------------------------------------------- planted in Derivation.grad


class Planted(symbp.Derivation):
    """A Derivation whose ``grad`` returns one route wrong for one layer and parameter."""

    def __init__(self, net, route, wrt, change):
        super().__init__(net)
        self.target, self.change = (1, route, wrt), change

    def grad(self, l, route="recursion", wrt="W"):
        g = super().grad(l, route, wrt)
        return self.change(g) if (l, route, wrt) == self.target else g


def doubled(g):
    g = g.copy()
    g[g.rows - 1, g.cols - 1] *= 2
    return g


GRAD_CHANGES = {"entry doubled": doubled, "negated": lambda g: -g,
                "transposed": lambda g: g.T}


@pytest.mark.parametrize(("method", "net"), CASES)
@pytest.mark.parametrize("route", ["expansion", "direct"])
@pytest.mark.parametrize("change", list(GRAD_CHANGES))
def test_a_wrong_route_from_grad_is_never_proved(net, method, route, change):
    proof = symbp.prove(Planted(net, route, "W", GRAD_CHANGES[change]), method)
    assert_caught(proof, {(route, 1, "W")})


# ---------------------------------------------------------------- planted in route construction


def chain(s, l, factor=None, *, reverse=False, transpose=False, drop_link=False, first=1,
          bias_identity=False):
    """routes.expand_chain_rule with one mistake in how the chain is assembled."""
    row = first * routes.cost_row(s)
    jacobians = [(m, routes.local_jacobian(s, m, s.a_symbols(m - 1))) for m in range(s.L, l, -1)]
    factors = [j.T if transpose else j for _, j in jacobians]
    if drop_link and factors:  # one link of the path of influence left out
        factors[0] = factors[0].copy()
        factors[0][0, 0] = 0
    for j in reversed(factors) if reverse else factors:
        row = row * j
    W, b = s.weights(l), s.biases(l)
    da_db = sp.eye(len(b)) if bias_identity else routes.local_jacobian(s, l, b)
    weight = (row * routes.local_jacobian(s, l, sp.Matrix(list(W)))).reshape(*W.shape)
    return routes.ChainRule(l, row, jacobians, weight, (row * da_db).T)


CHAIN_MISTAKES = {  # mistake -> (keywords, the (layer, parameter) pairs it breaks; L = 3)
    "factors reversed": ({"reverse": True}, {(1, "W"), (1, "b")}),
    "each factor transposed": ({"transpose": True}, {(1, "W"), (2, "W"), (2, "b")}),
    "a path dropped": ({"drop_link": True}, {(1, "W"), (2, "W"), (2, "b")}),
    "first factor doubled": ({"first": 2}, {(1, "W"), (3, "W"), (3, "b")}),
    "first factor negated": ({"first": -1}, {(1, "W"), (3, "W"), (3, "b")}),
    "da/db replaced by I": ({"bias_identity": True}, {(1, "b"), (2, "b"), (3, "b")}),
}


@pytest.mark.parametrize(("method", "net"), CASES)
@pytest.mark.parametrize("mistake", list(CHAIN_MISTAKES))
def test_a_wrong_chain_assembly_is_never_proved(monkeypatch, net, method, mistake):
    keywords, broken = CHAIN_MISTAKES[mistake]
    monkeypatch.setattr(routes, "expand_chain_rule",
                        lambda s, l, factor=None: chain(s, l, **keywords))
    proof = symbp.prove(symbp.derive(net), method)
    assert_caught(proof, {("expansion", l, wrt) for l, wrt in broken})


def by_next_weights(s, l, wrt):
    """differentiate_cost by W_{l+1} instead of W_l (square layers: the shapes agree)."""
    params = s.weights(min(l + 1, s.L)) if wrt == "W" else s.biases(l)
    cost = s.composed_cost()
    return params.applyfunc(lambda p: routes.differentiate(cost, p))


def with_doubled_bias(s, l, wrt):
    """differentiate_cost of a cost composed with a forward pass z_l = W_l a_{l-1} + 2 b_l."""
    a = s.x
    for m in s.layers:
        a = sp.Matrix(s.net.activation(m).apply(list(s.weights(m) * a + 2 * s.biases(m))))
    cost = s.net.cost_entry.formula(list(a), list(s.y))
    params = s.weights(l) if wrt == "W" else s.biases(l)
    return params.applyfunc(lambda p: routes.differentiate(cost, p))


@pytest.mark.parametrize(("method", "net"), CASES)
@pytest.mark.parametrize(("mistake", "broken"), [
    (by_next_weights, {(1, "W"), (2, "W")}),
    (with_doubled_bias, {(1, "W"), (1, "b"), (3, "b")})])
def test_a_wrong_direct_route_is_never_proved(monkeypatch, net, method, mistake, broken):
    monkeypatch.setattr(routes, "differentiate_cost", mistake)
    proof = symbp.prove(symbp.derive(net), method)
    assert_caught(proof, {("direct", l, wrt) for l, wrt in broken})


# ---------------------------------------------------------------- planted in the registry


def _patched(monkeypatch, table, name, **changes):
    monkeypatch.setitem(table, name, dataclasses.replace(table[name], **changes))


REGISTRY_MISTAKES = {  # activation -> a wrong registered derivative
    "relu": lambda z: sp.Piecewise((1, z > 0)),  # no value for z <= 0
    "leaky_relu": lambda z: sp.Piecewise((1, z > 0), (sp.Rational(1, 100), z <= -1)),
    "sigmoid": lambda z: 1 / (1 + sp.exp(-z)) * (1 + 1 / (1 + sp.exp(-z))),
    "tanh": lambda z: 1 + ((sp.exp(z) - sp.exp(-z)) / (sp.exp(z) + sp.exp(-z))) ** 2,
}


@pytest.mark.parametrize("method", ["auto", "expand", "local"])
@pytest.mark.parametrize("name", list(REGISTRY_MISTAKES))
def test_a_wrong_registered_derivative_fails_its_lemma(monkeypatch, method, name):
    _patched(monkeypatch, registry.ACTIVATIONS, name, derivative=REGISTRY_MISTAKES[name])
    proof = symbp.prove(symbp.derive(symbp.Network([2, 2, 2], activation=name)), method)
    assert not proof.holds and proof.status == "failed"
    failed = [f.parameter for f in proof.failures]  # σ' and, where the code uses it, σ' in a
    assert failed[0] == f"{name}'" and set(failed) <= {f"{name}'", f"{name}' in a"}
    assert "not proved" in proof.summary().lower()


@pytest.mark.parametrize("method", METHODS)
def test_a_wrong_registered_cost_gradient_is_never_proved(monkeypatch, method):
    _patched(monkeypatch, registry.COSTS, "mse",
             gradient=lambda a, y: [2 * (aj - yj) for aj, yj in zip(a, y)])
    proof = symbp.prove(symbp.derive(SMALL), method)
    assert proof.status == "failed"
    assert proof.failures[0].entry is not None, str(proof.failures[0])


# ---------------------------------------------------------------- the check itself


def assert_caught(proof, broken):
    """Every (kind, layer, parameter) in ``broken`` is failed with an entry, or not claimed."""
    claims = {(c.kind, c.layer, c.parameter): c for c in proof.claims}
    made = [claims[key] for key in broken if key in claims]
    for claim in made:
        assert claim.status == "failed", (claim.statement, claim.status, proof.summary())
        assert claim.entry is not None, (claim.statement, claim.residual)
    if made:
        assert not proof.holds and proof.status == "failed"
        assert "NOT proved" in proof.summary()
    else:  # not claimed: the summary must say so, and claim nothing about the route
        kinds = {kind for kind, _, _ in broken}
        assert all(c.kind not in kinds for c in proof.claims)
        assert "not compared" in proof.summary()


def test_auto_at_mid_size_is_expand():
    assert choose_method(symbp.derive(MID), "auto") == "expand"


@pytest.mark.parametrize("net", SIZES)
def test_every_route_planted_alike_is_still_caught_by_expand(net):
    """grad wrong the same way for all three routes: they agree, but not with the steps."""

    class AllWrong(symbp.Derivation):
        def grad(self, l, route="recursion", wrt="W"):
            g = super().grad(l, route, wrt)
            return doubled(g) if (l, wrt) == (1, "W") else g

    proof = symbp.prove(AllWrong(net), "expand")
    assert_caught(proof, {("recursion", 1, "W")})
    assert "not the composition of the proved steps" in proof.failures[0].culprit

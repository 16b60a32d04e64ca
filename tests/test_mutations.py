"""Planted mistakes, through public objects, against every method: none may come out proved.

A mutant is caught when every claim it falsifies is either failed, naming the
entry where it fails, or not made at all (``local`` makes no route claims). The
random screen must refute it too: "screened" for a wrong route is a miss. Route
mistakes are planted in the routes' data (a ``ChainRule``'s factors, a
``DirectRoute``'s cost or parameters, a derivation's composed forward pass), which
``expand`` sees through the values ``grad`` derives from it and ``construction``
checks directly; and in ``Derivation.grad`` itself.
"""

import dataclasses
import operator
from functools import cached_property

import pytest
import sympy as sp

import symbp
from symbp.core import registry, routes
from symbp.proof.prove import choose_method

METHODS = ["auto", "expand", "construction", "local", "random"]
SMALL = symbp.Network([2, 2, 2, 2], activation="sigmoid")  # three layers: chains of two factors
MID = symbp.Network([4, 4, 4, 4], activation="generic")  # auto compares the routes here too
LARGE = symbp.Network([6, 6, 6, 6, 6], activation="generic")  # auto checks the construction
SIZES = [pytest.param(SMALL, id="small"), pytest.param(MID, id="mid", marks=pytest.mark.slow),
         pytest.param(LARGE, id="large")]
# every method at the small size; at the mid size auto is expand (test_auto_chooses), so
# running it again there would repeat expand's work exactly; at the large size auto is
# construction, the only method that claims the routes there (expand and random are the
# brute force auto avoids; local claims no route anywhere)
CASES = [pytest.param(m, SMALL, id=f"{m}-small") for m in METHODS] + [
    pytest.param(m, MID, id=f"{m}-mid", marks=pytest.mark.slow) for m in METHODS if m != "auto"
] + [pytest.param("auto", LARGE, id="auto-large")]


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
    """The construction proves the routes' data; a grad of one's own is compared exactly with
    it where the routes are small (failed), and is not compared where they are not."""
    proof = symbp.prove(Planted(net, route, "W", GRAD_CHANGES[change]), method)
    assert_caught(proof, {(route, 1, "W")})
    if proof.method == "construction" and net is LARGE:
        assert "Planted.grad is not symbp's" in " ".join(proof.summary().split())


# ---------------------------------------------------------------- planted in route construction


EXPAND_CHAIN_RULE = routes.expand_chain_rule
DIRECT_ROUTE = routes.direct_route


def chain(s, l, factors=None, first=None, *, reverse=False, transpose=False, drop_link=False,
          leave_out=False, scale=1, bias_identity=False):
    """routes.expand_chain_rule with one mistake in the chain's data."""
    right = EXPAND_CHAIN_RULE(s, l, factors, first)
    jacobians = [(m, J.T if transpose else J) for m, J in right.jacobians]
    if drop_link and jacobians:  # one link of the path of influence left out
        m, J = jacobians[0]
        J = J.as_mutable()
        J[0, 0] = 0
        jacobians[0] = (m, J.as_immutable())
    if reverse:
        jacobians.reverse()
    if leave_out:  # the factor of the output layer left out
        jacobians = jacobians[1:]
    bias = sp.ImmutableMatrix(sp.eye(s.net.widths[l])) if bias_identity else right.bias_factor
    return dataclasses.replace(right, cost_gradient=scale * right.cost_gradient,
                               jacobians=tuple(jacobians), bias_factor=bias)


def below(L, top, wrts="Wb"):
    return {(l, wrt) for l in range(1, L + 1 - top) for wrt in wrts}


CHAIN_MISTAKES = {  # mistake -> (keywords, the (layer, parameter) pairs it breaks at depth L)
    "factors reversed": ({"reverse": True}, lambda L: below(L, 2)),
    "each factor transposed": ({"transpose": True},
                               lambda L: below(L, 1, "W") | {(L - 1, "b")}),
    "a path dropped": ({"drop_link": True}, lambda L: below(L, 1, "W") | {(L - 1, "b")}),
    "first factor doubled": ({"scale": 2}, lambda L: {(1, "W"), (L, "W"), (L, "b")}),
    "first factor negated": ({"scale": -1}, lambda L: {(1, "W"), (L, "W"), (L, "b")}),
    "da/db replaced by I": ({"bias_identity": True}, lambda L: below(L, 0, "b")),
}


@pytest.mark.parametrize(("method", "net"), CASES)
@pytest.mark.parametrize("mistake", list(CHAIN_MISTAKES))
def test_a_wrong_chain_is_never_proved(monkeypatch, net, method, mistake):
    keywords, broken = CHAIN_MISTAKES[mistake]
    monkeypatch.setattr(routes, "expand_chain_rule",
                        lambda s, l, factors=None, first=None: chain(s, l, factors, first,
                                                                     **keywords))
    proof = symbp.prove(symbp.derive(net), method)
    assert_caught(proof, {("expansion", l, wrt) for l, wrt in broken(net.L)})


CONSTRUCTION = [pytest.param("construction", SMALL, id="construction-small"),
                pytest.param("construction", MID, id="construction-mid",
                             marks=pytest.mark.slow),
                pytest.param("auto", LARGE, id="auto-large")]


@pytest.mark.parametrize(("method", "net"), CONSTRUCTION)
def test_a_chain_a_factor_short_is_never_proved(monkeypatch, net, method):
    """The output layer's factor left out: the chain of layer L - 1 ends early (no entry to
    name, so its count is), the longer ones have a factor where another belongs."""
    monkeypatch.setattr(routes, "expand_chain_rule",
                        lambda s, l, factors=None, first=None: chain(s, l, factors, first,
                                                                     leave_out=True))
    proof = symbp.prove(symbp.derive(net), method)
    L = net.L
    assert_caught(proof, {("expansion", l, wrt) for l, wrt in below(L, 1)},
                  structural=f"the chain has 0 Jacobian factors; layers {L}..{L} need 1")
    first = {(f.layer, f.parameter): f for f in proof.failures}[(1, "dC/dW_1")]
    assert first.culprit == f"the chain's factor da_{L}/da_{L - 1} = J_σ(z_{L}) W_{L}", str(first)


def by_next_weights(s, l):
    """The direct route differentiated by W_{l+1} instead of W_l (square layers: shapes agree)."""
    return dataclasses.replace(DIRECT_ROUTE(s, l),
                               weights=sp.ImmutableMatrix(s.weights(min(l + 1, s.L))))


def with_doubled_bias(s, l):
    """The direct route of a cost composed with a forward pass z_l = W_l a_{l-1} + 2 b_l."""
    a = s.x
    for m in s.layers:
        a = sp.Matrix(s.net.activation(m).apply(list(s.weights(m) * a + 2 * s.biases(m))))
    cost = s.net.cost_entry.formula(list(a), list(s.y))
    return dataclasses.replace(DIRECT_ROUTE(s, l), cost=cost)


@pytest.mark.parametrize(("method", "net"), CASES)
@pytest.mark.parametrize(("mistake", "broken"), [
    (by_next_weights, lambda L: below(L, 1, "W")),
    (with_doubled_bias, lambda L: {(1, "W"), (1, "b"), (L, "b")})])
def test_a_wrong_direct_route_is_never_proved(monkeypatch, net, method, mistake, broken):
    monkeypatch.setattr(routes, "direct_route", mistake)
    proof = symbp.prove(symbp.derive(net), method)
    assert_caught(proof, {("direct", l, wrt) for l, wrt in broken(net.L)})


class DoubledBias(symbp.Derivation):
    """A derivation whose composed forward pass (what compose substitutes, and what the direct
    route's cost is built from) has z_2 = W_2 a_1 + 2 b_2."""

    @cached_property
    def _wrong(self):
        z, a = {}, {0: self.x}
        for l in self.layers:
            z[l] = self.weights(l) * a[l - 1] + (2 if l == 2 else 1) * self.biases(l)
            a[l] = sp.Matrix(self.net.activation(l).apply(list(z[l])))
        return z, a

    def composed_z(self, l):
        return self._wrong[0][l]

    def composed_a(self, l):
        return self._wrong[1][l]


@pytest.mark.parametrize(("method", "net"), CONSTRUCTION)
def test_a_wrong_forward_pass_fails_the_construction(net, method):
    proof = symbp.prove(DoubledBias(net), method)
    assert_caught(proof, {(route, l, wrt) for route in ("expansion", "direct")
                          for l, wrt in [(1, "W"), (2, "b"), (net.L, "W")]})
    failure = next(f for f in proof.failures if f.check.startswith("expansion"))
    assert failure.culprit == "the composed forward pass z_2 = W_2 a_1 + b_2", str(failure)
    assert failure.entry == (1, 1)


def test_a_wrong_forward_pass_fails_expand():
    """expand compares grad's values: the routes composed alike agree with the recursion as
    grad composes it, but that is not the composition of the proved steps."""
    proof = symbp.prove(DoubledBias(SMALL), "expand")
    assert proof.status == "failed"
    assert "not the composition of the proved steps" in proof.failures[0].culprit


# ---------------------------------------------------------------- planted in the registry


def _patched(monkeypatch, table, name, **changes):
    monkeypatch.setitem(table, name, dataclasses.replace(table[name], **changes))


REGISTRY_MISTAKES = {  # activation -> a wrong registered derivative
    "relu": lambda z: sp.Piecewise((1, z > 0)),  # no value for z <= 0
    "leaky_relu": lambda z: sp.Piecewise((1, z > 0), (sp.Rational(1, 100), z <= -1)),
    "sigmoid": lambda z: 1 / (1 + sp.exp(-z)) * (1 + 1 / (1 + sp.exp(-z))),
    "tanh": lambda z: 1 + ((sp.exp(z) - sp.exp(-z)) / (sp.exp(z) + sp.exp(-z))) ** 2,
}


@pytest.mark.parametrize("method", ["auto", "expand", "construction", "local"])
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


def assert_caught(proof, broken, structural=""):
    """Every (kind, layer, parameter) in ``broken`` is failed with an entry (or, given
    ``structural``, a residual that says it), or not claimed."""
    claims = {(c.kind, c.layer, c.parameter): c for c in proof.claims}
    made = [claims[key] for key in broken if key in claims]
    for claim in made:
        assert claim.status == "failed", (claim.statement, claim.status, proof.summary())
        assert claim.entry is not None or (structural and structural in claim.residual), (
            claim.statement, claim.residual)
    if made:
        assert not proof.holds and proof.status == "failed"
        assert "NOT proved" in proof.summary()
    else:  # not claimed: the summary must say so, and claim nothing about the route
        kinds = {kind for kind, _, _ in broken}
        assert all(c.kind not in kinds for c in proof.claims)
        assert "not compared" in proof.summary()


def test_auto_chooses():
    assert [choose_method(symbp.derive(net), "auto") for net in (SMALL, MID, LARGE)] == [
        "expand", "expand", "construction"]


@pytest.mark.parametrize("net", SIZES[:2])
def test_every_route_planted_alike_is_still_caught_by_expand(net):
    """grad wrong the same way for all three routes: they agree, but not with the steps."""
    proof = symbp.prove(AllWrong(net), "expand")
    assert_caught(proof, {("recursion", 1, "W")})
    assert "not the composition of the proved steps" in proof.failures[0].culprit


@pytest.mark.parametrize("net", [SMALL, LARGE], ids=["small", "large"])
def test_every_route_planted_alike_is_caught_or_not_claimed_by_construction(net):
    """The construction's recursion claims are about the program (as local's are); grad's
    routes are compared with their construction where small, and not claimed where not."""
    proof = symbp.prove(AllWrong(net), "construction")
    assert_caught(proof, {("expansion", 1, "W"), ("direct", 1, "W")})
    recursion = [c for c in proof.claims if c.kind == "recursion"]
    assert {c.how for c in recursion} == {"by per-layer lemmas"}


class AllWrong(symbp.Derivation):
    def grad(self, l, route="recursion", wrt="W"):
        g = super().grad(l, route, wrt)
        return doubled(g) if (l, wrt) == (1, "W") else g


class ScaledWeight(symbp.Derivation):
    """A composition that also replaces a weight: compose would rescale w^(1)_11 everywhere."""

    @cached_property
    def composition(self):
        w = self.weights(1)[0, 0]
        return {**super().composition, w: 2 * w}


def test_a_composition_that_replaces_more_than_the_layers_is_never_proved():
    proof = symbp.prove(ScaledWeight(LARGE), "construction")
    assert proof.status == "failed"
    assert {c.kind for c in proof.claims if c.status == "failed"} == {"expansion", "direct"}
    assert "it also replaces w1_1_1" in proof.failures[0].residual


# ---------------------------------------------------------------- planted in a layer kind
# (issue #17's families on the kinds: each through a Kind re-registered in KINDS, then a
# network built after it, as a user adding a kind would)

KINDS_NETWORK = {"small": ([symbp.Layer("residual"), symbp.Layer("dense", units=2)], 2),
                 "mid": ([symbp.Layer("residual"), symbp.Layer("residual", units=3,
                                                               projection=True),
                          symbp.Layer("dense", units=3)], 3)}


def kinds_network(size: str = "small") -> symbp.Network:
    layer_list, inputs = KINDS_NETWORK[size]
    return symbp.Network(layers=layer_list, inputs=inputs)


def reregistered(monkeypatch, name: str, **changes) -> None:
    from symbp.core import layers

    monkeypatch.setitem(layers.KINDS, name, dataclasses.replace(layers.KINDS[name], **changes))


@pytest.mark.parametrize("size", ["small", "mid"])
def test_a_kind_whose_backward_binds_delta_twice_is_refused(monkeypatch, size):
    from symbp.core.layers import residual
    from symbp.core.program import ProgramError
    from symbp.numeric.codegen import module_source

    def twice(ops, l, g):  # a δ without σ' first, the right one after: the code uses the first
        ops.bind_delta(l, g)
        return residual.backward(ops, l, g)

    reregistered(monkeypatch, "residual", backward=twice)
    d = symbp.derive(kinds_network(size))
    proof = symbp.prove(d)
    assert proof.status == "failed" and "binds delta_" in proof.failures[0].residual
    with pytest.raises(ProgramError, match="twice"):
        module_source(d)


def test_a_kind_cannot_change_in_place_what_an_op_returned(monkeypatch):
    from symbp.core.layers import residual

    refused = []

    def in_place(ops, l, g):
        below = ops.activation(l - 1)
        for change in (lambda: operator.setitem(below, 0, 0), lambda: setattr(below, "name", "x")):
            with pytest.raises((TypeError, dataclasses.FrozenInstanceError)):
                change()
            refused.append(l)
        return residual.backward(ops, l, g)

    reregistered(monkeypatch, "residual", backward=in_place)
    assert symbp.prove(symbp.derive(kinds_network())).holds  # the network is still the one stated
    assert refused


@pytest.mark.parametrize("method", ["local", "expand", "auto"])
def test_a_kinds_derivation_whose_trace_is_not_its_program_is_not_proved(method):
    net = kinds_network()
    empty = symbp.derive(net, recursion=lambda ops: None)

    class Stale(symbp.Derivation):  # shows backprop's trace, runs an empty program
        @property
        def recursion(self):
            return symbp.derive(net).recursion

    assert not symbp.prove(Stale(net, recursion=empty.recursion_function), method).holds


def test_render_refuses_a_proof_of_another_kinds_network_or_of_a_kind_changed_since():
    from symbp.core.layers import residual

    d = symbp.derive(kinds_network())
    other = symbp.prove(symbp.derive(symbp.Network(layers=[symbp.Layer("residual"),
                                                           symbp.Layer("dense", units=1)],
                                                   inputs=2)))
    with pytest.raises(ValueError, match="the proof is of Network"):
        symbp.render(d, "md", proof=other)
    proved = symbp.prove(d)
    assert proved.holds

    def doubled_w(layer):  # the same network, its kind now with another gradient map
        maps = residual.maps(layer)
        wrong = dataclasses.replace(maps.param_vjps["W"], formula=2 * maps.param_vjps["W"].formula)
        return dataclasses.replace(maps, param_vjps={**maps.param_vjps, "W": wrong})

    from symbp.core import layers

    try:
        layers.KINDS["residual"] = dataclasses.replace(residual.KIND, maps=doubled_w)
        changed = symbp.derive(kinds_network())
        assert changed.program.fingerprint != d.program.fingerprint
        with pytest.raises(ValueError, match="not of this derivation's program"):
            symbp.render(changed, "md", proof=proved)
    finally:
        layers.KINDS["residual"] = residual.KIND


@pytest.mark.parametrize("method", METHODS)
def test_a_kind_with_a_wrong_vector_form_is_not_proved_by_any_method(monkeypatch, method):
    from symbp.core.layers import residual
    from symbp.core.layers import vector as v

    def without_skip(layer):  # the highway dropped from the form g_(l-1) = W_lᵀ δ_l + g_l
        found = residual.forms(layer)
        return v.Forms(tuple(dataclasses.replace(eq, rhs=eq.rhs.args[0]) if eq.name == "input"
                             else eq for eq in found.equations), found.sizes)

    reregistered(monkeypatch, "residual", forms=without_skip)
    proof = symbp.prove(symbp.derive(kinds_network()), method)
    assert not proof.holds
    failed = [c for c in proof.claims if c.name == "vector forms 1"]
    assert [c.status for c in failed] == ["failed"] and failed[0].culprit == "vector form input"

"""The prover: what it proves, how it reports, and the mutants it must reject."""

import dataclasses
import json

import pytest
import sympy as sp

import symbp
from symbp.core import registry
from symbp.proof.prove import EXPAND_LIMIT, expansion_size

METHODS = ["expand", "construction", "local", "random"]


def recursion(*, drop_prime=None, plain_w=None, shift=None, swap=None, cost_sign=1,
              scale=None):
    """backprop_deltas with one deliberate mistake switched on (None: the correct one)."""

    def run(ops):
        L = ops.L

        def vjp(l, v):
            return v if l == drop_prime else ops.activation_vjp(l, v)

        def back(l, v):  # W_lᵀ v, or a wrong matrix
            if l == plain_w:
                return ops.times(l, v)
            if l == shift:
                return ops.transpose_times(l + 1, v)
            return ops.transpose_times(l, v)

        delta = ops.bind_delta(L, vjp(L, cost_sign * ops.cost_gradient()))
        for l in range(L, 0, -1):
            weight = ops.outer(delta, ops.activation(l - 1))
            if scale and scale[0] == l:  # one entry doubled, through a constant mask
                mask = [[1] * 3 for _ in range(3)]
                mask[scale[1][0]][scale[1][1]] = 2
                weight = weight * mask
            target = swap.get(l, l) if swap else l
            ops.gradient(target, weight=weight, bias=delta)
            if l > 1:
                delta = ops.bind_delta(l - 1, vjp(l - 1, back(l, delta)))

    return run


SQUARE = symbp.Network([3, 3, 3, 3], activation="sigmoid")
MUTANTS = {
    # name: (mutant, first failing layer, parameter, entry), with the expand route's order
    "sigma' dropped in layer 2": (recursion(drop_prime=2), 2, "W", (1, 1)),
    "W^T replaced by W": (recursion(plain_w=3), 2, "W", (1, 1)),
    "W_{l+1} used for W_l": (recursion(shift=2), 1, "W", (1, 1)),
    "layers 2 and 3 swapped": (recursion(swap={2: 3, 3: 2}), 3, "W", (1, 1)),
    "wrong cost derivative": (recursion(cost_sign=-1), 3, "W", (1, 1)),
    "one entry scaled by 2": (recursion(scale=(2, (1, 2))), 2, "W", (2, 3)),
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_every_method_rejects_every_mutant(mutant, method):
    fn, layer, parameter, entry = MUTANTS[mutant]
    proof = symbp.prove(symbp.derive(SQUARE, recursion=fn), method=method)
    assert proof.status == "failed", proof.summary()
    first = proof.failures[0]
    assert first.layer is not None and first.entry is not None, str(first)
    if method in ("expand", "random"):  # local and construction name the lemma, tested below
        assert (first.layer, first.parameter, first.entry) == (layer, f"dC/d{parameter}_{layer}",
                                                               entry), str(first)
    assert "NOT proved" in proof.summary()


LOCAL_FIRST = {
    "sigma' dropped in layer 2": ("delta_2", (1, 1)),
    "W^T replaced by W": ("delta_2", (1, 1)),
    "W_{l+1} used for W_l": ("delta_1", (1, 1)),
    "layers 2 and 3 swapped": ("dC/dW_3", (1, 1)),
    "wrong cost derivative": ("delta_3", (1, 1)),
    "one entry scaled by 2": ("dC/dW_2", (2, 3)),
}


@pytest.mark.parametrize("method", ["local", "construction"])
@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_local_names_the_failing_lemma_and_entry(mutant, method):
    proof = symbp.prove(symbp.derive(SQUARE, recursion=MUTANTS[mutant][0]), method=method)
    name, entry = LOCAL_FIRST[mutant]
    first = proof.failures[0]
    assert first.culprit.startswith(f"lemma {name} ") and first.entry == entry, str(first)
    if method == "construction":  # a route claim rests on the recursion claim it compares with
        for route in ("expansion", "direct"):
            claim = next(c for c in proof.claims
                         if (c.kind, c.layer, c.parameter) == (route, first.layer, "W"))
            assert claim.status == "failed" and claim.culprit == first.culprit


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_equivalent_rejects_every_mutant(mutant):
    fn, layer, parameter, _ = MUTANTS[mutant]
    d = symbp.derive(SQUARE, recursion=fn)
    assert not symbp.equivalent(d.grad(layer, "recursion", parameter),
                                d.grad(layer, "direct", parameter))


def test_a_recursion_that_crashes_is_a_failure_not_an_exception():
    net = symbp.Network([2, 3, 2])  # W^T replaced by W cannot even multiply here
    for method in METHODS:
        proof = symbp.prove(symbp.derive(net, recursion=recursion(plain_w=2)), method=method)
        assert proof.status == "failed"
        assert "has shape (2, 1), the layer needs (3, 1)" in proof.failures[0].residual


def test_a_recursion_that_skips_a_layer_fails():
    def partial(ops):
        delta = ops.bind_delta(ops.L, ops.activation_vjp(ops.L, ops.cost_gradient()))
        ops.gradient(ops.L, weight=ops.outer(delta, ops.activation(ops.L - 1)), bias=delta)

    for method in METHODS:
        proof = symbp.prove(symbp.derive(symbp.Network(), recursion=partial), method=method)
        assert not proof.holds
        assert proof.failures[0].layer == 2


# ---------------------------------------------------------------- lemma mutants


def _patched(monkeypatch, table, name, **changes):
    monkeypatch.setitem(table, name, dataclasses.replace(table[name], **changes))


@pytest.mark.parametrize("method", ["expand", "local"])
def test_wrong_activation_derivative_fails_its_lemma(monkeypatch, method):
    # σ' = σ (1 + σ): the structural proof alone cannot see this; the lemma must
    sig = registry.ACTIVATIONS["sigmoid"].formula
    _patched(monkeypatch, registry.ACTIVATIONS, "sigmoid",
             derivative=lambda z: sig(z) * (1 + sig(z)))
    proof = symbp.prove(symbp.derive(symbp.Network([2, 2])), method=method)
    assert not proof.holds
    assert proof.failures[0].parameter == "sigmoid'"


@pytest.mark.parametrize("name", ["tanh", "relu", "leaky_relu", "softplus", "identity"])
def test_every_activation_lemma_can_fail(monkeypatch, name):
    right = registry.ACTIVATIONS[name].derivative
    _patched(monkeypatch, registry.ACTIVATIONS, name, derivative=lambda z: 2 * right(z))
    proof = symbp.prove(symbp.derive(symbp.Network([2, 2], activation=name)))
    failed = [f.parameter for f in proof.failures]  # and σ' in a, where the code uses it
    assert failed[0] == f"{name}'" and set(failed) <= {f"{name}'", f"{name}' in a"}


@pytest.mark.parametrize("method", ["expand", "local", "random"])
def test_wrong_registered_cost_gradient_fails(monkeypatch, method):
    _patched(monkeypatch, registry.COSTS, "mse",
             gradient=lambda a, y: [(aj - yj) / 2 for aj, yj in zip(a, y)])
    proof = symbp.prove(symbp.derive(symbp.Network([2, 3, 2])), method=method)
    assert not proof.holds
    names = [f.parameter for f in proof.failures]
    assert "mse gradient" in names or names[0] == "dC/dW_2"


def test_wrong_softmax_jacobian_fails_its_lemma(monkeypatch):
    # fdiff and the recursion would agree with each other; only the lemma can object
    monkeypatch.setattr(registry, "softmax_jacobian_entry", lambda aj, ak, same: aj * (1 - ak))
    net = symbp.Network([2, 3], activation="softmax")
    proof = symbp.prove(symbp.derive(net), method="expand")
    assert "softmax Jacobian (n=3)" in [f.parameter for f in proof.failures]


# ---------------------------------------------------------------- reports and methods


def test_proof_report():
    proof = symbp.prove(symbp.derive(symbp.Network()))
    assert proof.holds and proof.status == "proved"
    assert proof.method == "expand"  # auto on a small network
    assert proof.failures == []
    assert len(proof.rows) == 6
    assert all(set(r.checks.values()) == {"proved"} for r in proof.rows)
    assert [c.label for c in proof.claims if c.kind == "function"] == [
        "sigmoid'", "sigmoid' in a", "mse gradient"]
    assert {c.kind for c in proof.claims} == {"recursion", "expansion", "direct", "function"}
    data = json.loads(json.dumps(proof.to_dict()))
    assert data["holds"] is True and data["method"] == "expand"
    assert proof.seconds > 0


def test_auto_makes_the_full_claim_where_it_can():
    proof = symbp.prove(symbp.derive(symbp.Network([4, 4, 4, 4], activation="generic")))
    assert proof.method == "expand" and proof.holds
    assert {c.kind for c in proof.claims} == {"recursion", "expansion", "direct", "function"}


def test_auto_checks_the_construction_above_the_expand_limit():
    d = symbp.derive(symbp.Network([12, 12, 12, 12], activation="generic"))
    assert expansion_size(d) > EXPAND_LIMIT
    proof = symbp.prove(d)
    assert proof.method == "construction" and proof.holds, proof.summary()
    assert {c.kind for c in proof.claims} == {"recursion", "expansion", "direct", "function"}
    summary = " ".join(proof.summary().split())
    assert "expansion = recursion for every layer by construction: the chain's factors " \
           "proved equal to their lemmas" in summary
    assert "direct = recursion for every layer by construction: the composed cost" in summary
    assert "(auto: about 24,492 product terms, above the 6,000 it expands, so by " \
           "construction)" in summary
    assert all(set(r.checks.values()) == {"proved"} for r in proof.rows)
    expansion = next(c for c in proof.claims if (c.kind, c.layer, c.parameter) ==
                     ("expansion", 1, "W"))
    assert expansion.statement == ("expansion = recursion for dC/dW_1: the chain dC/da_3 · "
                                   "da_3/da_2 · da_2/da_1 · da_1/dW_1, factor by factor (not "
                                   "its expanded product)")
    assert d._grads == {}  # nothing was expanded or differentiated


def test_construction_proves_what_expand_proves():
    for net in (symbp.Network(), symbp.Network([3, 2, 2, 3], activation="tanh", cost="bce"),
                symbp.Network([2, 3, 3], activation=["relu", "softmax"], cost="mse"),
                symbp.Network([2, 2, 3], activation="leaky_relu", cost="softmax_ce")):
        d = symbp.derive(net)
        built, expanded = symbp.prove(d, "construction"), symbp.prove(d, "expand")
        assert built.holds and expanded.holds, built.summary()
        assert [(r.layer, r.parameter, r.checks) for r in built.rows] == [
            (r.layer, r.parameter, r.checks) for r in expanded.rows]


def test_a_long_chain_is_stated_with_its_middle_elided():
    proof = symbp.prove(symbp.derive(symbp.Network([2] * 8, activation="generic")),
                        "construction")
    statement = next(c.statement for c in proof.claims if c.kind == "expansion" and
                     c.layer == 1 and c.parameter == "b")
    assert "the chain dC/da_7 · da_7/da_6 · da_6/da_5 · ⋯ · da_2/da_1 · da_1/db_1," in statement


def test_construction_out_of_time_keeps_what_it_proved(monkeypatch):
    from symbp.core.deadline import TimedOut
    from symbp.proof import prove as prover

    def out_of_time(*args):
        raise TimedOut

    monkeypatch.setattr(prover, "_construct_routes", out_of_time)
    d = symbp.derive(symbp.Network([12, 12, 12, 12], activation="generic"))
    proof = symbp.prove(d, "auto", timeout=60)
    assert proof.holds and proof.method == "local"
    assert {c.kind for c in proof.claims} == {"recursion", "function"}
    asked = symbp.prove(d, "construction", timeout=60)
    assert asked.status == "timed out"


def test_local_claims_no_route_it_did_not_compare():
    proof = symbp.prove(symbp.derive(symbp.Network()), "local")
    assert proof.holds and {c.kind for c in proof.claims} == {"recursion", "function"}
    headline, *details = proof.summary().splitlines()
    assert headline.startswith("proved (local): recursion only (expansion, direct not compared)")
    assert " ".join(" ".join(details).split()) == (
        "recursion = ∂C/∂W_l and ∂C/∂b_l for every layer by per-layer lemmas; "
        "lemmas sigmoid', sigmoid' in a, mse gradient; expansion, direct: not compared")


def test_random_is_never_called_proved():
    proof = symbp.prove(symbp.derive(symbp.Network()), method="random")
    assert proof.status == "screened"
    assert {c.status for c in proof.claims} == {"screened"}
    assert "not a proof" in proof.summary()


def test_unknown_method():
    with pytest.raises(ValueError, match="auto, expand, construction, local, random"):
        symbp.prove(symbp.derive(symbp.Network()), method="guess")


def test_prove_needs_a_derivation():
    with pytest.raises(ValueError, match="Derivation"):
        symbp.prove(symbp.Network())


@pytest.mark.parametrize("method", ["expand", "construction"])
def test_timeout_is_not_a_proof(method):
    proof = symbp.prove(symbp.derive(symbp.Network([3, 3, 3, 3])), method, timeout=1e-3)
    assert proof.status == "timed out" and not proof.holds
    assert proof.failures == []  # a timeout is never a refutation
    assert "timed out" in {c.status for c in proof.claims}
    assert proof.summary().startswith(f"not proved: timed out ({method})")


class Logged(symbp.Derivation):
    """A grad of one's own, right: what it returns is not derived by symbp's code."""

    def grad(self, l, route="recursion", wrt="W"):
        return super().grad(l, route, wrt)


def test_a_grad_of_ones_own_is_compared_where_small_and_not_claimed_where_not():
    small = symbp.prove(Logged(symbp.Network()), "construction")
    assert small.holds
    assert all(c.how.endswith("; grad's value compared exactly") for c in small.claims
               if c.kind in ("expansion", "direct"))
    large = symbp.prove(Logged(symbp.Network([12, 12, 12, 12], activation="generic")))
    assert large.method == "construction" and large.holds
    assert {c.kind for c in large.claims} == {"recursion", "function"}
    assert ("expansion, direct: not compared (auto: about 24,492 product terms, above the "
            "6,000 it expands, so by construction; Logged.grad is not symbp's: what grad "
            "returns need not be the routes as constructed, and they are too large to compare "
            "exactly)") in " ".join(large.summary().split())


def test_auto_out_of_time_keeps_what_it_proved(monkeypatch):
    from symbp.core.deadline import TimedOut
    from symbp.proof import returned

    def out_of_time(*args):
        raise TimedOut

    monkeypatch.setattr(returned, "compare_routes", out_of_time)
    proof = symbp.prove(symbp.derive(symbp.Network()), "auto", timeout=60)
    assert proof.holds and proof.method == "local"
    assert "not compared (auto: the routes were not compared within the timeout)" in " ".join(
        proof.summary().split())
    asked = symbp.prove(symbp.derive(symbp.Network()), "expand", timeout=60)
    assert asked.status == "timed out"  # asked for expand: a timeout is a timeout


@pytest.mark.parametrize(("keyword", "value"), [
    ("points", 0), ("points", -1), ("points", 1.5), ("points", True), ("points", None),
    ("seed", "x"), ("seed", 1.0), ("limit", 0), ("limit", "big"), ("progress", 3),
    ("method", None), ("method", 3), ("method", "EXPAND")])
def test_nonsense_arguments_are_refused_by_name(keyword, value):
    with pytest.raises(ValueError, match=keyword):
        symbp.prove(symbp.derive(symbp.Network([2, 2])), **{keyword: value})


@pytest.mark.slow
def test_sixteen_wide_six_deep_proved_exactly():
    proof = symbp.prove(symbp.derive(symbp.Network([16] * 6, activation="generic")))
    assert proof.method == "construction" and proof.holds
    assert {c.kind for c in proof.claims} == {"recursion", "expansion", "direct", "function"}


@pytest.mark.slow
def test_sixty_four_wide_full_claim():
    proof = symbp.prove(symbp.derive(symbp.Network([64] * 4, activation="generic")))
    assert proof.method == "construction" and proof.holds, proof.summary()
    assert len(proof.rows) == 6 and all(set(r.checks.values()) == {"proved"}
                                        for r in proof.rows)


def test_expand_past_its_limit_points_to_construction():
    d = symbp.derive(symbp.Network([20] * 4, activation="generic"))
    with pytest.raises(ValueError, match="use method 'construction'"):
        symbp.prove(d, "expand")


# ---------------------------------------------------------------- equivalent


def test_equivalent_basics():
    x, y = sp.symbols("x y")
    f = sp.Function("f")
    assert symbp.equivalent((x + y) ** 2, x**2 + 2 * x * y + y**2)
    assert not symbp.equivalent((x + y) ** 2, x**2 + y**2)
    assert symbp.equivalent(f(x + 1) * 2, f(1 + x) + f(x + 1))
    assert not symbp.equivalent(f(x), f(y))
    assert symbp.equivalent(1 / (1 + sp.exp(-x)), sp.exp(x) / (sp.exp(x) + 1))
    assert symbp.equivalent(sp.Matrix([x, y]), sp.Matrix([x, y]))
    assert not symbp.equivalent(sp.Matrix([x, y]), sp.Matrix([[x, y]]))
    assert not symbp.equivalent(sp.Matrix([x, y]), sp.Matrix([x, 2 * y]))
    pw = sp.Piecewise((x, x > 0), (0, True))
    assert symbp.equivalent(sp.diff(pw, x), sp.Piecewise((1, x > 0), (0, True)))
    assert not symbp.equivalent(sp.diff(pw, x), sp.Piecewise((1, x > 0), (1, True)))


def test_first_difference_names_the_entry():
    from symbp.proof.exact import first_difference

    x = sp.Symbol("x")
    found = first_difference(sp.Matrix([[x, x], [x, x]]), sp.Matrix([[x, x], [x, 2 * x]]))
    assert found == ((2, 2), -x)


x, y = sp.symbols("x y")
A, B = sp.symbols("A B", commutative=False)
f = sp.Function("f")
REFUSED = {  # each pair is "equal" to a check that does not refuse it; none of them is
    "rounded Float": (sp.Float(1e20) * x + x, sp.Float(1e20) * x),
    "Piecewise without a catch-all": (sp.Piecewise((1, x > 0)),
                                      sp.Piecewise((1, x > 0), (2, True))),
    "0/0": (((x + 1) ** 2 - x**2 - 2 * x - 1) / (sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1), 0),
    "noncommutative exp": (sp.exp(A) * sp.exp(B), sp.exp(A + B)),
    "noncommutative f": (f(A) * f(B), f(B) * f(A)),
    "Piecewise undefined on (-1, 0]": (
        sp.Piecewise((1, x > 0), (sp.Rational(1, 100), x <= -1)),
        sp.Piecewise((1, x > 0), (sp.Rational(1, 100), True))),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_equivalent_refuses_what_it_cannot_decide(case):
    from symbp.proof.exact import first_difference

    a, b = REFUSED[case]
    assert not symbp.equivalent(a, b)
    entry, reason = first_difference(a, b)
    assert entry == (1, 1)
    assert isinstance(reason, str) and reason.startswith("not decided: "), reason
    assert "\n" not in reason


def test_equivalent_accepts_what_it_can_decide():
    assert symbp.equivalent(sp.Piecewise((1, x > 0), (0, x <= 0)),
                            sp.Piecewise((1, x > 0), (0, True)))  # conditions cover the reals
    assert symbp.equivalent((1 - f(x)) / (1 - f(x)), 1)
    assert symbp.equivalent(x / (x + 1) + 1 / (x + 1), 1)
    assert symbp.equivalent(sp.exp(2 * x) / sp.exp(x), sp.exp(x))


@pytest.mark.parametrize(("a", "b", "named"), [
    (None, None, "argument a"), (x, None, "argument b"), ("x", x, "argument a"),
    (x, [x], "argument b")])
def test_equivalent_names_a_bad_argument(a, b, named):
    with pytest.raises(ValueError, match=named):
        symbp.equivalent(a, b)


def test_direct_route_agrees_with_sympy_diff():
    from symbp.core.routes import differentiate
    from symbp.proof.exact import first_difference

    for net in (symbp.Network([2, 3, 2], activation=["tanh", "sigmoid"], cost="bce"),
                symbp.Network([2, 2, 3], activation="relu", cost="softmax_ce")):
        d = symbp.derive(net)
        cost = d.composed_cost()
        for p in [*d.weights(1), *d.biases(2)]:
            assert first_difference(differentiate(cost, p), sp.diff(cost, p)) is None, p


def test_a_denominator_through_a_saturating_activation_is_seen_nonzero():
    """1 − tanh(...) at random points is 1 − 1.0 to thirty digits (a network Hypothesis found);
    tanh keeps its meaning in the nonzero test, and interval arithmetic at rising precision
    certifies 1 − tanh(z) nonzero, so the proof goes through."""
    net = symbp.Network([3, 1, 2, 1], activation=["leaky_relu", "relu", "tanh"], cost="bce")
    proof = symbp.prove(symbp.derive(net), "expand")
    assert proof.holds, proof.summary()


# ---------------------------------------------------------------- the routes as data


def test_the_expansion_is_its_factors_until_its_product_is_asked_for():
    d = symbp.derive(symbp.Network([2, 3, 3, 2], activation="tanh"))
    chain = d.chain_rule(1)
    assert [m for m, _ in chain.jacobians] == [3, 2]
    assert chain.cost_gradient.shape == (1, 2) and chain.weight_factor.shape == (3, 6)
    assert "weight" not in vars(chain) and d._grads == {}  # nothing multiplied yet
    assert d.grad(1, "expansion") == d.compose(chain.weight)
    assert d.grad(1, "expansion", "b") == d.compose(chain.bias)


@pytest.mark.parametrize(("activation", "cost"), [
    ("sigmoid", "mse"), ("relu", "bce"), (["tanh", "softmax"], "mse"),
    (["leaky_relu", "softmax"], "softmax_ce")])
def test_the_local_jacobians_are_sympys(activation, cost):
    """One forward pass over each layer's map gives exactly what Matrix.jacobian gives."""
    from symbp.core import routes

    d = symbp.derive(symbp.Network([2, 3, 3], activation=activation, cost=cost))
    for l in d.layers:
        W, b = d.weights(l), d.biases(l)
        affine = W * d.a_symbols(l - 1) + b
        layer_map = sp.Matrix(d.net.activation(l).apply(list(affine)))
        layered = d.layered_map(l, affine)
        factors = d.layer_factors(l)
        for got, wrt in ((factors.inputs, d.a_symbols(l - 1)),
                         (factors.weights, sp.Matrix(list(W))), (factors.biases, b)):
            if got is None:
                continue
            want = layer_map.jacobian(wrt).xreplace(layered)
            assert symbp.equivalent(sp.Matrix(got), want), (l, wrt)
        assert routes.local_jacobian(d, l, b) == factors.biases


def test_the_direct_route_is_the_composed_cost_and_its_parameters():
    d = symbp.derive(symbp.Network([2, 2, 2], activation="sigmoid"))
    route = d.direct_route(1)
    assert route.cost is d.composed_cost() and route.weights == d.weights(1)
    assert symbp.equivalent(route.gradient("b"),
                            sp.Matrix([sp.diff(route.cost, p) for p in d.biases(1)]))

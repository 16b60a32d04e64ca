"""Second order for one network: the API, the three routes proved equal, the limits, bad input."""

import numpy as np
import pytest
import sympy as sp

import symbp
from symbp.core import curvature, limits
from symbp.core.second_order import SecondDerivation
from symbp.numeric.curvature_codegen import second_order_source
from symbp.proof.curvature import prove_second_order
from symbp.proof.gauss_newton import batch_gap_claim, cost_psd_claims, nonnegative

SMALL = symbp.Network([2, 2, 2], activation="sigmoid", cost="mse")


@pytest.fixture(scope="module")
def small():
    return symbp.derive(SMALL, order=2)


@pytest.fixture(scope="module")
def expanded(small):
    return prove_second_order(small, "expand")


def test_order_two_is_a_derivation_with_the_hessian_hvp_and_gauss_newton(small):
    assert isinstance(small, SecondDerivation)
    assert isinstance(small, symbp.Derivation)
    assert small.hessian(1, 2).shape == (6, 6)
    assert small.hessian().shape == (12, 12)
    assert small.gauss_newton(2, 2).shape == (6, 6)
    assert small.hessian(2, 1) == small.hessian(1, 2).T
    hv = small.hvp()
    assert [M.shape for M in hv["W"]] == [(2, 2), (2, 2)]
    assert [M.shape for M in hv["b"]] == [(2, 1), (2, 1)]
    assert small.parameters(1) == [*small.weights(1), *small.biases(1)]  # W row by row, then b


def test_the_first_order_api_is_untouched(small):
    first = symbp.derive(SMALL)
    assert type(first) is symbp.Derivation
    assert symbp.equivalent(small.grad(1), first.grad(1))
    assert small.program.fingerprint == first.program.fingerprint


def test_the_three_routes_are_proved_equal(expanded):
    assert expanded.holds, expanded.summary()
    names = {c.name for c in expanded.claims}
    for expected in ("H row 1", "H row 2", "G row 1", "Hv W1", "Hv b2", "direct H 1,2",
                     "direct G 2,2", "rop W1", "rop b2", "K-FAC 1", "H - G 1,2", "H_C PSD",
                     "G PSD", "K-FAC gap", "sigmoid''", "mse Hessian term"):
        assert expected in names
    assert expanded.fingerprint == symbp.derive(SMALL, order=2).fingerprint


def test_local_does_not_claim_the_routes(small):
    proof = prove_second_order(small, "local")
    assert proof.holds
    assert not any(c.name.startswith(("direct", "rop", "K-FAC 1", "H - G")) for c in proof.claims)
    assert "K-FAC gap" in {c.name for c in proof.claims}  # symbolic in the batch: every method


def test_the_direct_route_is_sympy_diff():
    d = symbp.derive(symbp.Network([1, 1, 1], activation="tanh", cost="mse"), order=2)
    params = d.parameters()
    explicit_cost = symbp.explicit(d.composed_cost())
    truth = sp.hessian(explicit_cost, params)
    assert symbp.equivalent(symbp.explicit(d.hessian(route="direct")), truth)


def test_hvp_at_a_given_direction_is_the_hessian_times_it(small):
    v = {"W": [sp.Matrix([[1, 2], [3, 4]]), sp.Matrix([[0, -1], [1, 0]])],
         "b": [sp.Matrix([1, 0]), sp.Matrix([0, 2])]}
    flat = sp.Matrix([e for l in (0, 1) for e in (*v["W"][l], *v["b"][l])])
    product = small.hessian() * flat
    hv = small.hvp(v)
    got = sp.Matrix([e for l in (0, 1) for e in (*hv["W"][l], *hv["b"][l])])
    assert symbp.equivalent(got, product)


def test_the_gauss_newton_matrix_is_symmetric(small):
    G = small.gauss_newton()
    assert symbp.equivalent(G, G.T)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: symbp.derive(SMALL, order=3), "unknown order 3; choose one of: 1, 2"),
    (lambda: symbp.derive(SMALL, order=True), "unknown order True"),
    (lambda: symbp.derive(SMALL, curvature=lambda ops: None), "curvature need order=2"),
    (lambda: symbp.derive(SMALL, order=2, hessian=None), "unknown program 'hessian'; choose"),
    (lambda: symbp.derive(SMALL, order=2).hessian(1), "give both layers l and m"),
    (lambda: symbp.derive(SMALL, order=2).hessian(1, 1, "expansion"),
     "unknown route 'expansion'; choose one of: direct, recursion"),
    (lambda: symbp.derive(SMALL, order=2).hessian(1, 3), "layer must be an integer from 1 to 2"),
    (lambda: symbp.derive(SMALL, order=2).hvp(route="x"), "unknown route 'x'; choose one of"),
    (lambda: symbp.derive(SMALL, order=2).hvp({"W": []}), 'v must be {"W"'),
    (lambda: symbp.derive(symbp.Network([2, 3, 2], activation="softmax"), order=2),
     "second order: activation 'softmax' in a hidden layer (layer 1) has no second derivative "
     "symbp writes; choose elementwise activations, and softmax only with cost 'softmax_ce'"),
    (lambda: symbp.derive(symbp.Network([2, 2], activation="softmax", cost="mse"), order=2),
     "second order: activation 'softmax' with cost 'mse' (layer 1)"),
    (lambda: prove_second_order(symbp.derive(SMALL, order=2), "random"),
     "unknown method 'random'; choose one of: auto, expand, local"),
    (lambda: prove_second_order(symbp.derive(SMALL), "local"),
     "prove_second_order() needs a derivation of order 2"),
    (lambda: symbp.prove(symbp.derive(SMALL), order=3), "unknown order 3; choose one of: 1, 2"),
])
def test_bad_input_is_one_valueerror_naming_the_value_and_the_choices(call, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")
                       .replace("{", r"\{")):
        call()


def test_a_symbolic_hessian_too_large_is_refused_before_any_work():
    d = symbp.derive(symbp.Network([64, 64, 64, 10]), order=2)  # cheap: nothing built yet
    message = (r"the network has 8,970 weights and biases: its symbolic Hessian would have "
               r"8,970² = 80,460,900 entries, past the limit of 10,000 \(limit "
               r"MAX_SYMBOLIC_HESSIAN_ENTRIES\)")
    with pytest.raises(ValueError, match=message):
        d.hessian(3, 3)
    with pytest.raises(ValueError, match=message):
        prove_second_order(d)


def test_the_generated_hessian_past_its_limit_refuses_and_hvp_works():
    d = symbp.derive(symbp.Network([64, 64, 64, 10]), order=2)
    namespace: dict = {}
    exec(second_order_source(d), namespace)
    rng = np.random.default_rng(0)
    n = d.net.widths
    weights = [rng.normal(size=(n[l], n[l - 1])) for l in d.layers]
    biases = [rng.normal(size=n[l]) for l in d.layers]
    x, y = rng.normal(size=(2, 64)), rng.normal(size=(2, 10))
    with pytest.raises(ValueError, match=r"past the limit of 4,000,000 \(limit "
                                         r"MAX_HESSIAN_ENTRIES\)"):
        namespace["gauss_newton"](x, y, weights, biases)
    v = {"W": [np.ones_like(W) for W in weights], "b": [np.ones_like(b) for b in biases]}
    assert namespace["hvp"](x, y, weights, biases, v)["W"][0].shape == (64, 64)
    assert limits.MAX_HESSIAN_ENTRIES == 4_000_000


def test_nonnegative_reads_a_formula():
    a, y = sp.symbols("a y")
    assert nonnegative(y / a**2 + (1 - y) / (1 - a) ** 2, (y, 1 - y)) == ""
    assert nonnegative(sp.exp(a) / (1 + sp.exp(a))) == ""
    assert nonnegative(-y / a**2, (y,)) != ""
    assert nonnegative(a - y) != ""


@pytest.mark.parametrize("cost", ["mse", "bce", "softmax_ce"])
def test_the_cost_hessian_is_proved_psd_for_every_width(cost):
    claims = cost_psd_claims(symbp.COSTS[cost])
    assert [c.status for c in claims] == ["proved"] * len(claims)
    assert claims[-1].name == "H_C PSD"


def test_a_cost_hessian_that_can_be_negative_is_not_psd(monkeypatch):
    monkeypatch.setattr(curvature, "cost_hessian_term",
                        lambda cost: lambda a, y: a - y)  # planted: not a Hessian, not >= 0
    claims = {c.name: c for c in cost_psd_claims(symbp.COSTS["mse"])}
    assert claims["mse Hessian"].status == "failed"
    assert claims["h nonnegative"].status == "failed"
    assert claims["H_C PSD"].status == "failed"


def test_the_kfac_gap_over_a_batch_is_proved_for_every_batch_size():
    claim = batch_gap_claim()
    assert claim.status == "proved"
    assert "symbolic identity for widths B, N, M" in claim.how


def test_the_programs_are_recorded_once_and_named_by_fingerprint(small):
    programs = small.programs
    assert set(programs) == {"hessian", "gauss_newton", "hvp"}
    again = symbp.derive(SMALL, order=2).programs
    assert {k: p.fingerprint for k, p in programs.items()} == \
           {k: p.fingerprint for k, p in again.items()}
    text = programs["hessian"].text()
    assert "omega2 = bind_curvature[2](" in text
    assert "curvature_residual[1](" in text
    assert "weight_cross[2](delta2)" in text
    assert "curvature_residual" not in programs["gauss_newton"].text()

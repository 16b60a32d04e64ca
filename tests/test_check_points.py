"""symbp check on formulas: the smallest counterexample, and claims for layer kinds."""

import json
from fractions import Fraction
from pathlib import Path
from unittest.mock import patch

import pytest
import sympy as sp

import symbp
from symbp.cli import config
from symbp.document.claimed_points import BUDGET, candidates, shrunk, smallest_point

ROOT = Path(__file__).resolve().parent.parent
RIGHT_DELTA_1 = ["(w2_1_1*delta2_1 + w2_2_1*delta2_2)*a1_1*(1 - a1_1)",
                 "(w2_1_2*delta2_1 + w2_2_2*delta2_2)*sigmoid_prime(z1_2)"]


@pytest.fixture(scope="module")
def net():
    return config.load(ROOT / "examples" / "worked-2-2-2.toml").net


def _refuted(report):
    return [v for v in report.verdicts if v.status == "refuted"]


def test_the_order_of_candidates():
    x, y = sp.symbols("x y")
    first = [tuple(sorted((str(s), str(v)) for s, v in p.items()))
             for p in list(candidates([x, y]))[:12]]
    assert first == [(), (("x", "1"),), (("x", "-1"),), (("y", "1"),), (("y", "-1"),),
                     (("x", "2"),), (("x", "-2"),), (("y", "2"),), (("y", "-2"),),
                     (("x", "1/2"),), (("x", "-1/2"),), (("y", "1/2"),)]


def test_smallest_point_and_shrinking_on_a_polynomial():
    x, y, z = sp.symbols("x y z")
    assert smallest_point(x * y - 2, [x, y, z]) == {}  # nonzero at 0 already
    assert smallest_point(x * y * (y - 1) * (y + 1), [x, y, z]) == {x: 1, y: 2}
    # 9 evaluations: the point 0, then each choice of symbols off which x y z vanishes
    assert smallest_point(x * y * z, [x, y, z], budget=9) is None
    assert smallest_point(x * y * z, [x, y, z], budget=10) == {x: 1, y: 1, z: 1}
    assert shrunk(x * y, [x, y, z], {x: Fraction(3, 7), y: Fraction(-5, 3), z: 4}) == \
        {x: 1, y: 1}


def test_a_term_wrong_in_one_weight_is_refuted_where_only_that_weight_is_nonzero(net):
    wrong = "(w2_1_1*delta2_1 + 2*w2_2_1*delta2_2)*a1_1*(1 - a1_1)"  # w2_2_1's term doubled
    report = symbp.check(net, {"formulas": {"delta_1": [wrong, RIGHT_DELTA_1[1]]}})
    [v] = _refuted(report)
    assert (v.name, v.point, v.search) == ("delta_1[1] (formula)", {"w2_2_1": "1"}, "smallest")
    assert v.zeros == "the other 15 symbols 0 (b1_1, b1_2, b2_1, ..., y_2)"
    # there the true δ is w σ'(0) δ_2,2 with δ_2,2 = σ(w/2) σ'(w/2): twice that is claimed
    assert (v.claimed_value, v.true_value) == ("≈ 0.07314012676", "≈ 0.03657006338")
    assert report.text().splitlines()[2] == (
        "    at w2_2_1 = 1, the other 15 symbols 0 (b1_1, b1_2, b2_1, ..., y_2) (the smallest "
        "point): claimed ≈ 0.07314012676, true ≈ 0.03657006338")
    again = _refuted(symbp.check(net, {"formulas": {"delta_1": [wrong, RIGHT_DELTA_1[1]]}}))
    assert again == [v]  # the same input, the same point


def test_a_rational_counterexample_is_exact(net):
    report = symbp.check(net, {"formulas": {"delta_2": ["(a2_1 - y_1)*a2_1*(1 - a2_1)",
                                                        "(a2_2 - y_2)*a2_2"]}})
    [v] = _refuted(report)
    assert (v.point, v.zeros, v.claimed_value, v.true_value) == (
        {}, "all 12 symbols 0 (b1_1, b1_2, b2_2, ..., y_2)", "1/4", "1/8")


def test_a_wrong_recursion_entry_gets_the_smallest_point(net):
    def no_prime(ops):
        delta = None
        for l in ops.layers():
            g = ops.cost_gradient() if l == ops.L else ops.transpose_times(l + 1, delta)
            delta = ops.bind_delta(l, g)
            ops.gradient(l, ops.outer(delta, ops.activation(l - 1)), delta)

    first = _refuted(symbp.check(net, no_prime))[0]
    assert (first.name, first.search) == ("dC/dW_2[1,1] (recursion)", "smallest")
    assert first.point == {}  # a_1 = 1/2 and a_2 = 1/2 at 0: the σ' dropped is 1/4 ≠ 1


# ---------------------------------------------------------------- layer kinds


def _check(example: str, formulas: dict):
    return symbp.check(config.load(ROOT / "examples" / example).net, {"formulas": formulas})


@pytest.mark.slow
def test_residual_projection_and_delta_formulas():
    g = ["w3_1_1*delta3_1 + w3_2_1*delta3_2", "w3_1_2*delta3_1 + w3_2_2*delta3_2"]
    right = {"dC/dP_2": [[f"({g[0]})*a1_1", f"({g[0]})*a1_2"], [None, None], [None, None]],
             "delta_2": [f"({g[0]})*tanh_prime(z2_1)", f"({g[1]})*(1 - tanh(z2_2)^2)", None]}
    report = _check("residual.toml", right)
    assert [v.status for v in report.verdicts] == ["proved"] * 4
    # planted: the skip forgotten, a_2 read as tanh(z_2) although a_2 = tanh(z_2) + P_2 a_1
    wrong = _check("residual.toml", {"delta_2": [None, f"({g[1]})*(1 - a2_2^2)", None]})
    [v] = _refuted(wrong)
    # a_1 = tanh(b_1) reaches a_2 only through the projection P_2, and δ_3 through W_3
    assert (v.name, v.search) == ("delta_2[2] (formula)", "smallest")
    assert v.point == {"b1_1": "1", "p2_2_1": "1", "w3_1_2": "1"}
    assert (v.claimed_value, v.true_value) == ("≈ 0.06212208276", "≈ 0.1479187574")


@pytest.mark.slow
def test_conv1d_kernel_formulas_in_the_documents_name():
    taps = [" + ".join(f"delta1_{t}*x_{t + s}" for t in range(1, 7)) for s in (0, 1)]
    report = _check("conv1d.toml", {"dC/dK_1": [[taps[0], taps[1], None], [None] * 3],
                                    "dC/db_1": [" + ".join(f"delta1_{t}" for t in range(1, 7)),
                                                None]})
    assert [(v.name, v.status) for v in report.verdicts] == [
        ("dC/dK_1[1,1] (formula)", "proved"), ("dC/dK_1[1,2] (formula)", "proved"),
        ("dC/db_1[1] (formula)", "proved")]
    wrong = _check("conv1d.toml", {"dC/dK_1": [[None, taps[0], None], [None] * 3]})  # tap off
    [v] = _refuted(wrong)
    # x_1 meets tap 1 only: the true gradient of tap 2 is 0 there, the claim is not
    assert (v.name, v.search, v.true_value) == ("dC/dK_1[1,2] (formula)", "smallest", "0")
    assert v.point == {"b1_1": "1", "w2_1_1": "1", "x_1": "1"}


@pytest.mark.slow
def test_past_the_budget_a_random_point_is_shrunk():
    net = config.load(ROOT / "examples" / "residual.toml").net
    claims = json.loads((ROOT / "examples" / "claims" / "formulas-residual.json").read_text())
    with patch("symbp.document.claimed_formulas.smallest_point", lambda *a: None):
        [v] = _refuted(symbp.check(net, claims))
    assert v.search.startswith(f"a minimal point: no smaller one found in {BUDGET} evaluations")
    assert len(v.point) == 3 and v.claimed_value != v.true_value


def test_a_kind_names_its_claimable_keys():
    with pytest.raises(ValueError, match=r"unknown key 'dC/dW_1'; valid keys: delta_1, "
                                         r"dC/dK_1, dC/db_1, delta_2, dC/dW_2, dC/db_2"):
        _check("conv1d.toml", {"dC/dW_1": [["1"] * 3] * 2})


def test_the_true_delta_of_a_convolution_is_its_recursions():
    d = symbp.Derivation(config.load(ROOT / "examples" / "conv1d.toml").net)
    from symbp.document.claimed_formulas import Truths
    assert symbp.equivalent(Truths(d)(1, "delta"), d.delta(1))


def test_null_entries_are_not_claimed(net):
    report = symbp.check(net, {"formulas": {"delta_1": [None, RIGHT_DELTA_1[1]]}})
    assert [v.name for v in report.verdicts] == ["delta_1[2] (formula)"]
    assert json.dumps(report.to_dict())  # plain data throughout

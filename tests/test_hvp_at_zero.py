"""The R-operator claim's second half: H v vanishes at v = 0. An H v off by a constant has
every derivative by v right, so only this half can refute it (dense and layer kinds)."""

import sympy as sp

import symbp
from symbp.core.kinds_second_order import KindsSecondDerivation
from symbp.core.second_order import SecondDerivation
from symbp.proof.curvature import prove_second_order


def offset(result: dict, name: str) -> dict:
    """``result`` with 1/7 added to the first entry of layer 1's ``name``: not 0 at v = 0."""
    planted = dict(result)
    planted[name] = list(result[name])
    M = sp.Matrix(planted[name][0])
    M[0] += sp.Rational(1, 7)
    planted[name][0] = M
    return planted


class DenseOffset(SecondDerivation):
    def hvp(self, v=None, route="rop"):
        result = super().hvp(v, route)
        return offset(result, "W") if (v, route) == (None, "rop") else result


class KindsOffset(KindsSecondDerivation):
    def hvp(self, v=None, route="program"):
        result = super().hvp(v, route)
        return offset(result, "W") if (v, route) == (None, "program") else result


def failed(proof) -> dict:
    return {c.name: c for c in proof.claims if c.status == "failed"}


def test_a_dense_hvp_off_by_a_constant_fails_at_v_zero_by_name():
    proof = prove_second_order(DenseOffset(symbp.Network([2, 2, 2], activation="tanh")), "expand")
    broken = failed(proof)
    assert not proof.holds and set(broken) == {"rop W1"}, sorted(broken)
    assert broken["rop W1"].residual == "at v = 0 it is 1/7, not 0"
    assert broken["rop W1"].entry == (1, 1)


def test_a_kinds_hvp_off_by_a_constant_fails_at_v_zero_by_name():
    net = symbp.Network(inputs=2, layers=[symbp.Layer("residual", activation="tanh"),
                                          symbp.Layer("dense", units=2)])
    proof = prove_second_order(KindsOffset(net), "expand")
    broken = failed(proof)
    assert not proof.holds and set(broken) == {"Hv W1"}, sorted(broken)
    assert broken["Hv W1"].residual == "at v = 0 it is 1/7, not 0"
    assert broken["Hv W1"].entry == (1, 1)

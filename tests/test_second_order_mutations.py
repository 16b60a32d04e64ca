"""Planted second-order mistakes, through public objects: none may come out proved.

Each mutant is a program (the curvature recursion, Gauss–Newton or the R-operator) with one
mistake, a wrong σ'' or cost Hessian planted in ``core.curvature``, or a route that returns
a block transposed. The claims it falsifies must fail, under every method that makes them.
"""

import dataclasses

import pytest

import symbp
from symbp.core import curvature, curvature_recursions
from symbp.core.second_order import SecondDerivation
from symbp.proof.curvature import prove_second_order

NET = symbp.Network([2, 2, 2], activation="sigmoid", cost="mse")
METHODS = ["local", pytest.param("expand", marks=pytest.mark.slow)]


def curvature_program(*, residual=True, cross=True, doubled=False):
    """backprop_curvature with one piece left out or wrong."""

    def program(ops):
        L = ops.L
        g = ops.cost_gradient()
        delta = ops.bind_delta(L, ops.activation_vjp(L, g))
        omega = ops.bind_curvature(L, ops.sandwich(L, ops.cost_hessian())
                                   + ops.curvature_residual(L, g))
        state = ops.bind_cross(L, ops.times_parameters(L, omega))
        for l in ops.layers():
            ops.hessian_row(l, ops.parameter_transpose(l, state))
            if l > 1:
                g = ops.transpose_times(l, delta)
                back = ops.transpose_times(l, state)
                if cross:
                    back = back + ops.weight_cross(l, delta)
                below = ops.activation_vjp(l - 1, back)
                delta = ops.bind_delta(l - 1, ops.activation_vjp(l - 1, g))
                carried = ops.sandwich(l - 1, ops.congruence(l, omega))
                if doubled:  # the curvature passed back counted twice
                    carried = carried + carried
                if residual:
                    carried = carried + ops.curvature_residual(l - 1, g)
                omega = ops.bind_curvature(l - 1, carried)
                state = ops.bind_cross(l - 1, ops.prepend(l - 1, ops.times_parameters(
                    l - 1, omega), below))

    return program


def hvp_without_residual(ops):
    """pearlmutter_hvp without the σ'' term of δ̇."""
    L = ops.L
    rz, ra = {}, {}
    for l in range(1, L + 1):
        value = ops.tangent_times(l, ops.activation(l - 1)) + ops.tangent_bias(l)
        if l > 1:
            value = value + ops.times(l, ra[l - 1])
        rz[l] = ops.bind_tangent(l, value)
        ra[l] = ops.activation_jvp(l, rz[l])
    g = ops.cost_gradient()
    delta = ops.bind_delta(L, ops.activation_vjp(L, g))
    rdelta = ops.bind_tangent_delta(L, ops.activation_vjp(L, ops.cost_hessian_times(ra[L])))
    for l in range(L, 0, -1):
        weight = ops.outer(rdelta, ops.activation(l - 1))
        if l > 1:
            weight = weight + ops.outer(delta, ra[l - 1])
        ops.gradient(l, weight=weight, bias=rdelta)
        if l > 1:
            g = ops.transpose_times(l, delta)
            rg = ops.tangent_transpose_times(l, delta) + ops.transpose_times(l, rdelta)
            delta = ops.bind_delta(l - 1, ops.activation_vjp(l - 1, g))
            rdelta = ops.bind_tangent_delta(l - 1, ops.activation_vjp(l - 1, rg))


def failed(proof) -> set[str]:
    return {c.name for c in proof.claims if c.status == "failed"}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("programs", "broken"), [
    pytest.param({"curvature": curvature_program(residual=False)}, {"H row 1"},
                 id="residual term dropped"),
    pytest.param({"curvature": curvature_program(cross=False)}, {"H row 1"},
                 id="cross term dropped"),
    pytest.param({"curvature": curvature_program(doubled=True)}, {"H row 1"},
                 id="curvature passed back twice"),
    pytest.param({"gauss_newton": curvature_recursions.backprop_curvature}, {"G row 1", "G row 2"},
                 id="Gauss-Newton with the residual"),
    pytest.param({"hvp": hvp_without_residual}, {"Hv W1", "Hv b1", "Hv W2", "Hv b2"},
                 id="R-operator without sigma''"),
])
def test_a_wrong_program_is_never_proved(method, programs, broken):
    proof = prove_second_order(symbp.derive(NET, order=2, **programs), method)
    assert not proof.holds
    assert broken <= failed(proof)


class Transposed(SecondDerivation):
    """A derivation whose recursion route returns the block (1, 2) transposed."""

    def hessian(self, l=None, m=None, route="recursion"):
        block = super().hessian(l, m, route)
        return block.T if (l, m, route) == (1, 2, "recursion") else block


@pytest.mark.slow
def test_a_transposed_block_is_never_proved():
    proof = prove_second_order(Transposed(NET), "expand")
    assert "direct H 1,2" in failed(proof)


@pytest.mark.parametrize("method", METHODS)
def test_a_wrong_second_derivative_is_never_proved(monkeypatch, method):
    right = curvature.second

    def wrong(act):  # σ'' with its sign flipped
        forms = right(act)
        if forms.formula is None:
            return forms
        flipped = forms.formula
        of_output = forms.of_output
        return dataclasses.replace(forms, formula=lambda z: -flipped(z),
                                   of_output=None if of_output is None
                                   else (lambda a: -of_output(a)))

    monkeypatch.setattr(curvature, "second", wrong)
    proof = prove_second_order(symbp.derive(NET, order=2), method)
    assert {"sigmoid''", "sigmoid'' in a"} <= failed(proof)


@pytest.mark.parametrize("method", METHODS)
def test_a_wrong_cost_hessian_is_never_proved(monkeypatch, method):
    right = curvature.cost_hessian_term
    monkeypatch.setattr(curvature, "cost_hessian_term",
                        lambda cost: lambda a, y: 2 * right(cost)(a, y))  # H_C doubled
    proof = prove_second_order(symbp.derive(NET, order=2), method)
    assert {"mse Hessian term", "H row 2", "H row 1", "G row 2", "G row 1"} <= failed(proof)


def test_the_failure_names_the_lemma_and_entry():
    proof = prove_second_order(symbp.derive(NET, order=2, curvature=curvature_program(
        residual=False)), "local")
    claim = next(c for c in proof.claims if c.name == "H row 1")
    assert claim.culprit.startswith("lemma Omega_1 (Omega_1 = (dz_2/dz_1)^T Omega_2")
    assert claim.entry == (1, 1)
    assert "sigmoid_second" in claim.residual  # the σ'' term the program left out

"""The registry's numeric forms: the numba templates compute what the NumPy ones do, the closed
forms of δ_L equal the product they replace exactly, and the sigmoid never overflows."""

import math
import warnings

import numpy as np
import pytest
import sympy as sp

from symbp.core import registry

NUMERIC = [a for a in registry.ACTIVATIONS.values() if a.numeric]
ELEMENTWISE = [a for a in NUMERIC if a.elementwise]


def test_every_numeric_form_has_a_numba_form():
    for act in NUMERIC:
        assert act.numba, act.name
        assert act.numba_derivative if act.elementwise else act.numba_vjp, act.name
    for cost in registry.COSTS.values():
        assert cost.numba_gradient, cost.name
        for form in cost.output_deltas:
            assert form.numpy and form.numba and form.activation in registry.ACTIVATIONS


def _numpy(template: str, **values):
    return eval(template.format(**{k: k for k in values}), {"np": np}, values)


def _element(template: str, **values):
    """A numba template evaluated for one element in plain Python, ``_exp`` as math.exp."""
    def exp(t):
        return math.exp(min(max(t, -708.0), 709.0))

    return eval(template.format(**{k: k for k in values}), {"math": math, "_exp": exp}, values)


Z = np.concatenate([np.linspace(-30, 30, 601), [-700.0, -40.0, 40.0, 700.0]])


@pytest.mark.parametrize("act", ELEMENTWISE, ids=lambda a: a.name)
def test_numba_element_forms_equal_the_numpy_forms(act):
    a = _numpy(act.numpy, z=Z)
    prime = _numpy(act.numpy_derivative, z=Z, a=a)
    for z, want_a, want_prime in zip(Z, a, prime):
        got_a = _element(act.numba, z=float(z))
        assert got_a == pytest.approx(want_a, rel=1e-14, abs=1e-300), (act.name, z)
        got_prime = _element(act.numba_derivative, z=float(z), a=got_a)
        # σ' from a (a (1 - a), 1 - a²) is only as accurate as a: 1e-16 absolute
        assert got_prime == pytest.approx(want_prime, rel=1e-13, abs=1e-15), (act.name, z)


@pytest.mark.parametrize("cost", registry.COSTS.values(), ids=lambda c: c.name)
def test_numba_cost_gradients_equal_the_numpy_ones(cost):
    a, y = np.linspace(0.05, 0.95, 19), np.linspace(0.9, 0.1, 19)
    want = _numpy(cost.numpy_gradient, a=a, y=y)
    got = [_element(cost.numba_gradient, a=float(p), y=float(q)) for p, q in zip(a, y)]
    np.testing.assert_allclose(got, want, rtol=1e-15)


CLOSED_FORMS = [(c, f, n) for c in registry.COSTS.values() for f in c.output_deltas
                for n in range(max(1, c.min_outputs), 5)]


@pytest.mark.parametrize(("cost", "form", "n"), CLOSED_FORMS,
                         ids=[f"{c.name}-{f.activation}-{n}" for c, f, n in CLOSED_FORMS])
def test_output_delta_is_the_product_it_replaces(cost, form, n):
    """J_σ(z)ᵀ ∂C/∂a, from the entries' own Jacobian and gradient, equals the closed form."""
    act = registry.ACTIVATIONS[form.activation]
    y = sp.symbols(f"y1:{n + 1}")
    if act.elementwise:  # a = σ(z), the Jacobian diag σ'(z), both from the entry's formulas
        z = sp.symbols(f"z1:{n + 1}", real=True)
        a = [act.formula(zj) for zj in z]
        jacobian = sp.diag(*[act.derivative(zj) for zj in z])
    else:  # softmax: the entry's Jacobian, in terms of a
        a = sp.symbols(f"a1:{n + 1}", positive=True)
        jacobian = act.jacobian(a, a)
    product = jacobian.T * sp.Matrix(cost.gradient(list(a), list(y)))
    closed = sp.Matrix(form.formula(list(a), list(y)))
    assert sp.simplify(product - closed) == sp.zeros(n, 1)
    if act.elementwise:
        return
    values = {s: 0.1 + 0.2 * i for i, s in enumerate((*a, *y))}
    arrays = {"a": np.array([[values[s] for s in a]]), "y": np.array([[values[s] for s in y]])}
    np.testing.assert_allclose(_numpy(form.numpy, **arrays)[0],
                               [float(e.subs(values)) for e in closed], rtol=1e-14)


def test_the_sigmoid_never_overflows():
    act = registry.ACTIVATIONS["sigmoid"]
    z = np.linspace(-700, 700, 20001)
    fast, stable = (_numpy(form, z=z) for form in (act.numpy_fast, act.numpy))
    np.testing.assert_allclose(fast, stable, rtol=1e-14, atol=0)
    far = np.array([-np.inf, -1e300, -800.0, -709.5, 709.5, 800.0, np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an exp overflow warns (and fails here)
        values = _numpy(act.numpy_fast, z=far)
        derivative = _numpy(registry.ACTIVATIONS["softplus"].numpy_derivative, z=far)
    assert np.all((values[:4] >= 0) & (values[:4] < 1.3e-308)) and np.all(values[4:] == 1.0)
    np.testing.assert_array_equal(derivative, values)
    assert np.isnan(_numpy(act.numpy_fast, z=np.array([np.nan])))[0]  # NaN stays NaN

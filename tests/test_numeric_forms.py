"""The registry's code is printed from its SymPy formulas: checked here against the formulas
themselves, evaluated by SymPy at 30 digits (an oracle that shares no code with the printers),
NumPy against numba, and a new activation that gets every form from its formula alone."""

import dataclasses
import math
import warnings

import numpy as np
import pytest
import sympy as sp

import symbp
from symbp.core import registry
from symbp.numeric import forms
from symbp.printing import forms as latex_forms

NUMERIC = [a for a in registry.ACTIVATIONS.values() if a.numeric]
ELEMENTWISE = [a for a in NUMERIC if a.elementwise]
Z = np.concatenate([np.linspace(-30, 30, 121), [-700.0, -40.0, 40.0, 700.0]])


def _numpy(template: str, **values):
    return eval(template.format(**{k: k for k in values}), {"np": np}, values)


def _element(template: str, **values):
    """A numba template evaluated for one element in plain Python, ``_exp`` as math.exp,
    ``_tanh`` as math.tanh (their accuracy: tests/test_kinds_numeric.py) and ``_softplus`` as
    its body (numba_kernel.PRELUDE)."""
    def exp(t):
        return math.exp(min(max(t, -708.0), 709.0))

    def softplus(u):
        return max(u, 0.0) + math.log1p(exp(-abs(u)))

    return eval(template.format(**{k: k for k in values}),
                {"math": math, "_exp": exp, "_tanh": math.tanh, "_softplus": softplus}, values)


def _exact(expr, **values) -> float:
    """``expr`` at the values, by SymPy at 30 digits: the oracle."""
    point = {sp.Symbol(k): sp.Float(repr(float(v)), 30) for k, v in values.items()}
    return float(sp.sympify(expr).xreplace(point).evalf(30))


def test_every_numeric_entry_has_numpy_and_numba_code():
    for act in NUMERIC:
        code = forms.activation(act)
        assert code.value.numpy and code.value.numba, act.name
        assert (code.derivative if act.elementwise else code.vjp) is not None, act.name
    for cost in registry.COSTS.values():
        assert forms.cost(cost).value and forms.cost(cost).gradient.numba, cost.name
        for form in cost.output_deltas:
            assert forms.output_delta(form).numpy and form.activation in registry.ACTIVATIONS


@pytest.mark.parametrize("act", ELEMENTWISE, ids=lambda a: a.name)
def test_printed_code_computes_the_formula(act):
    code = forms.activation(act)
    z_sym, a_sym = sp.Symbol("z"), sp.Symbol("a")
    inside = Z[np.abs(Z) <= 40]
    a = _numpy(code.value.numpy, z=inside)
    prime = _numpy(code.derivative.numpy, z=inside, a=a)
    for z, got_a, got_prime in zip(inside, a, prime):
        want = _exact(act.formula(z_sym), z=z)
        assert got_a == pytest.approx(want, rel=1e-13, abs=1e-300), (act.name, z)
        want_prime = _exact(act.derivative(z_sym), z=z)
        assert got_prime == pytest.approx(want_prime, rel=1e-12, abs=1e-15), (act.name, z)
        assert _element(code.value.numba, z=float(z)) == pytest.approx(got_a, rel=1e-14,
                                                                        abs=1e-300)
        assert _element(code.derivative.numba, z=float(z), a=float(got_a)) == pytest.approx(
            got_prime, rel=1e-13, abs=1e-15)
    assert a_sym or z_sym


@pytest.mark.parametrize("cost", registry.COSTS.values(), ids=lambda c: c.name)
def test_printed_cost_code_computes_the_formula(cost):
    a, y = np.linspace(0.05, 0.95, 19), np.linspace(0.9, 0.1, 19)
    code = forms.cost(cost)
    symbols_a, symbols_y = sp.symbols("a1:20"), sp.symbols("y1:20")
    values = {str(s): v for s, v in [*zip(symbols_a, a), *zip(symbols_y, y)]}
    assert _numpy(code.value, a=a, y=y) == pytest.approx(
        _exact(cost.formula(symbols_a, symbols_y), **values), rel=1e-13)
    want = [_exact(g, **values) for g in cost.gradient(symbols_a, symbols_y)]
    np.testing.assert_allclose(_numpy(code.gradient.numpy, a=a, y=y), want, rtol=1e-13,
                               atol=1e-15)  # a - y near 0 cancels in floating point
    got = [_element(code.gradient.numba, a=float(p), y=float(q)) for p, q in zip(a, y)]
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


def _numba_helper(code, **arrays):
    """A layer-wide numba helper run as plain Python (its row loops, `_exp` as math.exp)."""
    namespace = {"np": np, "math": math, "_jit": lambda f: f,
                 "_exp": lambda t: math.exp(min(max(t, -708.0), 709.0))}
    exec(code.numba_helper, namespace)
    out = np.empty_like(next(iter(arrays.values())))
    call = code.numba.format(**{k: k for k in arrays}, out="out")
    eval(call, namespace, {**arrays, "out": out})
    return out


def test_softmax_code_computes_the_formula_and_its_vjp():
    act = registry.ACTIVATIONS["softmax"]
    code = forms.activation(act)
    z = np.array([[0.3, -1.2, 2.0, 0.5], [700.0, 699.0, -700.0, 0.0]])
    zs = sp.symbols("z1:5")
    for row in z:
        values = {str(s): v for s, v in zip(zs, row)}
        want = [_exact(e, **values) for e in act.layer.on_lists(zs)]
        namespace = {"np": np}
        exec(code.value.numpy_helper, namespace)
        got = eval(code.value.numpy.format(z="z"), namespace, {"z": row[None]})[0]
        np.testing.assert_allclose(got, want, rtol=1e-13)
        np.testing.assert_allclose(_numba_helper(code.value, z=row[None])[0], want, rtol=1e-13,
                                   atol=3e-308)  # _exp stops at e^-708: 2.4e-308, not 0
    a = np.array([[0.1, 0.2, 0.3, 0.4]])
    v = np.array([[1.0, -2.0, 0.5, 3.0]])
    jacobian = np.diag(a[0]) - np.outer(a[0], a[0])
    np.testing.assert_allclose(_numpy(code.vjp.numpy, a=a, v=v)[0], jacobian.T @ v[0], rtol=1e-14)
    np.testing.assert_allclose(_numba_helper(code.vjp, a=a, v=v)[0], jacobian.T @ v[0], rtol=1e-14)


CLOSED_FORMS = [(c, f) for c in registry.COSTS.values() for f in c.output_deltas]


@pytest.mark.parametrize(("cost", "form"), CLOSED_FORMS, ids=[c.name for c, _ in CLOSED_FORMS])
def test_output_delta_code_computes_its_form_and_the_prover_proves_the_form(cost, form):
    a = np.array([[0.1, 0.2, 0.3, 0.4]])
    y = np.array([[0.0, 1.0, 0.0, 0.5]])
    code = forms.output_delta(form)
    a_s, y_s = sp.symbols("a1:5"), sp.symbols("y1:5")
    values = {**{str(s): v for s, v in zip(a_s, a[0])}, **{str(s): v for s, v in zip(y_s, y[0])}}
    want = [_exact(e, **values) for e in form.formula(a_s, y_s)]
    np.testing.assert_allclose(_numpy(code.numpy, a=a, y=y)[0], want, rtol=1e-14)
    np.testing.assert_allclose(_numba_helper(code, a=a, y=y)[0], want, rtol=1e-14)
    net = symbp.Network([2, 4], activation=form.activation, cost=cost.name)
    proof = symbp.prove(symbp.derive(net), "local")
    assert any(lem.name.startswith(f"{cost.name} output delta") and lem.holds
               for lem in proof.lemmas)


def test_a_wrong_stable_form_or_closed_form_is_not_proved(monkeypatch):
    act = registry.ACTIVATIONS["softmax"]
    z, s = act.stable.args[0], act.stable.reductions[1].name
    wrong = dataclasses.replace(act.stable, expr=sp.exp(z) / s)  # the shift left out above
    monkeypatch.setitem(registry.ACTIVATIONS, "softmax", dataclasses.replace(act, stable=wrong))
    proof = symbp.prove(symbp.derive(symbp.Network([2, 3], "softmax", "softmax_ce")), "local")
    assert proof.status == "failed" and "softmax shifted" in proof.failures[0].parameter
    assert not symbp.theorem("generic", "softmax_ce").holds
    monkeypatch.undo()
    sce = registry.COSTS["softmax_ce"]
    form = sce.output_deltas[0]
    bad = dataclasses.replace(form, form=dataclasses.replace(form.form, expr=form.form.expr * 2))
    monkeypatch.setitem(registry.COSTS, "softmax_ce",
                        dataclasses.replace(sce, output_deltas=(bad,)))
    proof = symbp.prove(symbp.derive(symbp.Network([2, 3], "softmax", "softmax_ce")), "local")
    assert proof.status == "failed" and "output delta" in proof.failures[0].parameter


def test_a_new_activation_gets_every_form_from_its_formula(monkeypatch, rng):
    cube = registry.Activation("cube", "z^3/3 + z", r"\kappa",
                               lambda z: z ** 3 / 3 + z, lambda z: z ** 2 + 1)
    monkeypatch.setitem(registry.ACTIVATIONS, "cube", cube)
    net = symbp.Network([2, 3, 2], activation="cube")
    d = symbp.derive(net)
    assert symbp.prove(d).holds and symbp.theorem("cube", "mse").holds
    assert latex_forms.activation_formula(cube) == r"z + \frac{z^{3}}{3}"
    for backend in ("numpy", "numba"):
        pytest.importorskip(backend)
        check = symbp.check_gradients(d, backend=backend)
        assert check.ok, str(check)


def test_the_sigmoid_never_overflows():
    code = forms.activation(registry.ACTIVATIONS["sigmoid"])
    z = np.linspace(-700, 700, 20001)
    stable = np.exp(-np.logaddexp(0.0, -z))  # an independent overflow-free form
    np.testing.assert_allclose(_numpy(code.value.numpy, z=z), stable, rtol=1e-14, atol=0)
    far = np.array([-np.inf, -1e300, -800.0, -709.5, 709.5, 800.0, np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an exp overflow warns (and fails here)
        values = _numpy(code.value.numpy, z=far)
        derivative = _numpy(forms.activation(registry.ACTIVATIONS["softplus"]).derivative.numpy,
                            z=far)
    assert np.all((values[:4] >= 0) & (values[:4] < 1.3e-308)) and np.all(values[4:] == 1.0)
    np.testing.assert_array_equal(derivative, values)
    assert np.isnan(_numpy(code.value.numpy, z=np.array([np.nan])))[0]  # NaN stays NaN

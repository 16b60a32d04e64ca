"""Generated numeric gradients: equal to PyTorch autograd and to central differences,
standalone, deterministic, and wrong exactly when the recursion they come from is wrong."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from oracles import (
    assert_close,
    central_differences,
    cost,
    near_a_kink,
    random_point,
    torch_gradients,
)
from seeds import other_seed_env
from test_prove import MUTANTS, SQUARE

import symbp
from symbp.core import registry
from symbp.numeric import forms
from symbp.numeric.codegen import module_source

ELEMENTWISE = [n for n, a in registry.ACTIVATIONS.items() if a.numeric and a.elementwise]


@st.composite
def networks(draw):
    """Widths 1-6, depth 1-4, any numeric activation; bce gets a sigmoid output and
    softmax_ce a softmax output with at least 2 units."""
    cost_name = draw(st.sampled_from(["mse", "bce", "softmax_ce"]))
    L = draw(st.integers(1, 4))
    widths = draw(st.lists(st.integers(1, 6), min_size=L + 1, max_size=L + 1))
    if cost_name == "softmax_ce":
        widths[-1] = max(widths[-1], 2)
    names = [draw(st.sampled_from(ELEMENTWISE + ["softmax"] * (widths[l] >= 2)))
             for l in range(1, L + 1)]
    names[-1] = {"bce": "sigmoid", "softmax_ce": "softmax"}.get(cost_name, names[-1])
    return symbp.Network(widths, activation=names, cost=cost_name)


@settings(max_examples=60, deadline=None)
@given(net=networks(), seed=st.integers(0, 2**32 - 1), batch=st.sampled_from([None, 1, 4]))
@example(net=symbp.Network([4, 5, 2, 4, 4], ["relu", "identity", "relu", "sigmoid"], "bce"),
         seed=3, batch=4)  # a sample's outputs all round to 1.0: torch's gradient is NaN
def test_gradients_equal_torch_and_central_differences(net, seed, batch):
    pytest.importorskip("torch")
    point = random_point(net, np.random.default_rng(seed), batch)
    assume(np.isfinite(cost(net, *point)))  # an output saturated to 0 or 1: no oracle there
    assume(not near_a_kink(net, point[0], point[2], point[3]))  # differences straddle a corner
    got = symbp.lambdify(symbp.derive(net))(*point)
    for wrt, params in (("W", point[2]), ("b", point[3])):
        assert [g.shape for g in got[wrt]] == [p.shape for p in params]
    want = torch_gradients(net, *point)
    # torch's BCE is the textbook -log(a), -log(1 - a): at an output rounded to 1.0 its gradient
    # is ∞ · 0 = NaN where symbp's a - y is exact; central differences judge there
    if all(np.isfinite(g).all() for wrt in "Wb" for g in want[wrt]):
        assert_close(got, want, rtol=1e-9)
    # differences of a large cost lose about 1e-16 |C| / h to rounding
    roundoff = 1e-7 * max(1.0, abs(cost(net, *point)))
    assert_close(got, central_differences(net, *point), rtol=1e-5, atol=roundoff)


@pytest.mark.parametrize("net", [symbp.Network(), symbp.Network([3, 4, 2], "relu", "softmax_ce"),
                                 symbp.Network([2, 1], "sigmoid", "bce")], ids=repr)
def test_single_samples_and_batches(net, rng):
    x, y, weights, biases = random_point(net, rng, batch=5)
    f = symbp.lambdify(symbp.derive(net))
    whole = f(x, y, weights, biases)
    singles = [f(x[i], y[i], weights, biases) for i in range(5)]
    for wrt in ("W", "b"):  # the cost is summed over the batch, so are its gradients
        for l in range(net.L):
            np.testing.assert_allclose(whole[wrt][l], sum(s[wrt][l] for s in singles),
                                       rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(f.cost(x, y, weights, biases), cost(net, x, y, weights, biases),
                               rtol=1e-12)
    assert f.forward(x[0], weights, biases).shape == (net.widths[-1],)
    assert f.forward(x, weights, biases).shape == (5, net.widths[-1])


def test_generated_lines_are_the_recursion():
    source = module_source(symbp.derive(symbp.Network()))
    for line in [
        "    a2 = 1.0 / (1.0 + np.exp(np.minimum(-(a1 @ W2.T + b2), 709.0)))\n",
        "    # δ_3 = ∂C/∂a_3 ⊙ sigmoid'(z_3)\n    delta3 = (a3 - y) * a3 * (1.0 - a3)\n",
        "    # δ_2 = (W_3ᵀ δ_3) ⊙ sigmoid'(z_2)\n"
        "    delta2 = (delta3 @ W3) * a2 * (1.0 - a2)\n",
        "    # ∂C/∂W_1 = δ_1 xᵀ\n    dW1 = np.dot(delta1.T, x)\n",
        "    # ∂C/∂b_1 = δ_1\n    db1 = np.dot(ones, delta1)\n",
        '    return {"W": [dW1, dW2, dW3], "b": [db1, db2, db3]}\n',
        "the δ recursion symbp proves (symbp.core.recursion.backprop_deltas)",
    ]:
        assert line in source
    assert "z2 =" not in source  # sigmoid' reuses a_2; z_2 is never kept
    relu = module_source(symbp.derive(symbp.Network([2, 2], "relu")))
    assert "z1 = x @ W1.T + b1\n" in relu and "np.where(z1 > 0.0, 1.0, 0.0)" in relu


def test_softmax_uses_its_vector_jacobian_product():
    source = module_source(symbp.derive(symbp.Network([2, 3], "softmax", "mse")))
    assert "    v1 = a1 - y\n" in source
    assert "delta1 = a1 * (v1 - np.sum(a1 * v1, axis=-1, keepdims=True))" in source
    assert "def _softmax(z):" in source


def test_softmax_ce_delta_has_no_division():
    """J_softmaxᵀ (-y/a) is written a Σy - y: an output that underflows to 0 gives no NaN."""
    source = module_source(symbp.derive(symbp.Network([2, 3], "softmax", "softmax_ce")))
    assert ("    # δ_1 = J_softmax(z_1)ᵀ ∂C/∂a_1\n"
            "    delta1 = a1 * np.sum(y, axis=-1, keepdims=True) - y\n") in source
    assert "/ a1" not in source
    bce = module_source(symbp.derive(symbp.Network([2, 1], "sigmoid", "bce")))
    assert "    # δ_1 = ∂C/∂a_1 ⊙ sigmoid'(z_1)\n    delta1 = a1 - y\n" in bce


def test_lambdify_runs_exactly_the_module_source():
    d = symbp.derive(symbp.Network([3, 2, 2], ["tanh", "softmax"], "softmax_ce"))
    assert symbp.lambdify(d).source == module_source(d)


def test_source_is_deterministic_across_processes():
    net = "symbp.Network([3, 4, 2], activation=['relu', 'softmax'], cost='softmax_ce')"
    code = f"import symbp; print(symbp.numeric.codegen.module_source(symbp.derive({net})), end='')"
    there = subprocess.run([sys.executable, "-c", f"import symbp.numeric.codegen; {code}"],
                           env=other_seed_env(), check=True, capture_output=True,
                           text=True).stdout  # under another hash seed than this process's
    assert there == module_source(symbp.derive(eval(net)))


BLOCK_SYMPY = """
import importlib.util, json, sys
import numpy as np

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("sympy", "symbp"):
            raise ImportError(f"{name} is blocked")

sys.meta_path.insert(0, Refuse())
try:
    import sympy
except ImportError as error:
    blocked = str(error)
else:
    sys.exit("sympy could be imported")
spec = importlib.util.spec_from_file_location("gradients", sys.argv[1])
gradients = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gradients)
data = np.load(sys.argv[2])
L = len(gradients.WIDTHS) - 1
weights = [data[f"W{l}"] for l in range(L)]
biases = [data[f"b{l}"] for l in range(L)]
g = gradients.grad(data["x"], data["y"], weights, biases)
print(json.dumps({"blocked": blocked, "modules": sorted(sys.modules),
                  "cost": float(gradients.cost(data["x"], data["y"], weights, biases)),
                  "W": [w.tolist() for w in g["W"]], "b": [b.tolist() for b in g["b"]]}))
"""


@pytest.mark.parametrize("net", [symbp.Network(), symbp.Network([3, 4, 2], "relu", "softmax_ce")],
                         ids=repr)
def test_generated_module_runs_without_sympy(net, tmp_path, rng):
    d = symbp.derive(net)
    (tmp_path / "gradients.py").write_text(module_source(d))
    x, y, weights, biases = random_point(net, rng, batch=3)
    np.savez(tmp_path / "point.npz", x=x, y=y, **{f"W{i}": W for i, W in enumerate(weights)},
             **{f"b{i}": b for i, b in enumerate(biases)})
    (tmp_path / "run.py").write_text(textwrap.dedent(BLOCK_SYMPY))
    done = subprocess.run([sys.executable, "-I", str(tmp_path / "run.py"),
                           str(tmp_path / "gradients.py"), str(tmp_path / "point.npz")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["blocked"] == "sympy is blocked"
    assert not [m for m in out["modules"] if m.split(".")[0] in ("sympy", "symbp")]
    f = symbp.lambdify(d)
    want = f(x, y, weights, biases)
    assert_close({k: [np.array(v) for v in out[k]] for k in "Wb"}, want, rtol=1e-12, atol=0)
    assert out["cost"] == pytest.approx(f.cost(x, y, weights, biases), rel=1e-12)


# ---------------------------------------------------------------- the recursion that runs

GENERATED = ["sigma' dropped in layer 2", "W_{l+1} used for W_l", "layers 2 and 3 swapped",
             "wrong cost derivative"]


@pytest.mark.parametrize("mutant", GENERATED)
def test_a_wrong_recursion_gives_wrong_code(mutant, rng):
    pytest.importorskip("torch")
    point = random_point(SQUARE, rng, batch=3)
    want = torch_gradients(SQUARE, *point)
    assert_close(symbp.lambdify(symbp.derive(SQUARE))(*point), want, rtol=1e-9)
    f = symbp.lambdify(symbp.derive(SQUARE, recursion=MUTANTS[mutant][0]))
    with pytest.raises(AssertionError):
        assert_close(f(*point), want, rtol=1e-3)
    assert "NOT symbp's own" in f.source
    assert not symbp.check_gradients(symbp.derive(SQUARE, recursion=MUTANTS[mutant][0])).ok


def test_a_recursion_the_printer_cannot_express_is_refused():
    with pytest.raises(ValueError, match=r"cannot generate code for a value times a constant"):
        module_source(symbp.derive(SQUARE, recursion=MUTANTS["one entry scaled by 2"][0]))


def test_w_for_w_transpose_is_printed_as_written():
    source = module_source(symbp.derive(SQUARE, recursion=MUTANTS["W^T replaced by W"][0]))
    assert "    # δ_2 = (W_3 δ_3) ⊙ sigmoid'(z_2)\n    delta2 = (delta3 @ W3.T) * a2" in source


def test_the_dropped_sigma_prime_is_visible_in_the_source():
    source = module_source(symbp.derive(SQUARE, recursion=MUTANTS["sigma' dropped in layer 2"][0]))
    assert "    # δ_2 = W_3ᵀ δ_3\n    delta2 = delta3 @ W3\n" in source


# ---------------------------------------------------------------- checks, backends, bad input


def test_check_gradients_report():
    net = symbp.Network([2, 3, 2], ["tanh", "sigmoid"], "bce")
    report = symbp.check_gradients(symbp.derive(net), points=2, seed=1)
    assert report.ok and report.worst < 1e-7
    assert report.points == 2
    assert str(report).startswith("numeric gradients of Network([2, 3, 2]")
    assert "match central differences" in str(report)


def test_sigmoid_numeric_form_is_the_stable_sigmoid():
    z = np.linspace(-700, 700, 20001)
    printed = forms.activation(registry.ACTIVATIONS["sigmoid"]).value.numpy
    stable = np.exp(-np.logaddexp(0.0, -z))
    np.testing.assert_allclose(eval(printed.format(z="z"), {"np": np, "z": z}), stable,
                               rtol=1e-14, atol=0)


BACKEND_NETWORKS = [symbp.Network([2, 3, 2], name) for name in ELEMENTWISE] + [
    symbp.Network([3, 3, 3], ["relu", "softmax"], "softmax_ce"),
    symbp.Network([2, 3, 1], ["tanh", "sigmoid"], "bce"),
]


@pytest.mark.parametrize("net", BACKEND_NETWORKS, ids=repr)
def test_torch_backend_equals_numpy(net, rng):
    torch = pytest.importorskip("torch")
    d = symbp.derive(net)
    x, y, weights, biases = random_point(net, rng, batch=4)
    f = symbp.lambdify(d, backend="torch")
    tensors = (torch.tensor(x), torch.tensor(y), [torch.tensor(W) for W in weights],
               [torch.tensor(b) for b in biases])
    got = f(*tensors)
    assert got["W"][0].dtype == torch.float64
    got = {k: [g.numpy() for g in v] for k, v in got.items()}
    assert_close(got, symbp.lambdify(d)(x, y, weights, biases), rtol=1e-12)
    assert float(f.cost(*tensors)) == pytest.approx(cost(net, x, y, weights, biases), rel=1e-12)


def test_jax_backend_or_its_absence_is_named(rng):
    d = symbp.derive(symbp.Network([3, 4, 2], ["tanh", "softmax"], "softmax_ce"))
    try:
        import jax  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="backend 'jax' needs the package 'jax'"):
            symbp.lambdify(d, backend="jax")
        return
    point = random_point(d.net, rng, batch=3)
    got = symbp.lambdify(d, backend="jax")(*point)
    got = {k: [np.asarray(g) for g in v] for k, v in got.items()}
    assert_close(got, symbp.lambdify(d)(*point), rtol=1e-5, atol=1e-6)  # float32 by default


@pytest.mark.parametrize(("make", "message"), [
    (lambda: symbp.lambdify(symbp.derive(symbp.Network()), backend="cupy"),
     "unknown backend 'cupy'; choose one of: numpy, numba, jax, torch"),
    (lambda: symbp.lambdify(symbp.derive(symbp.Network([2, 2], "generic"))),
     "activation 'generic' \\(layer 1\\) has no numeric form; choose one of: sigmoid, tanh"),
    (lambda: symbp.lambdify(symbp.Network()), "needs a symbp.Derivation, got Network"),
])
def test_bad_input(make, message):
    with pytest.raises(ValueError, match=message):
        make()

"""The generated second order of networks of layer kinds (numeric/kinds_curvature_codegen.py,
numeric/tangents.py): hvp, hessian and gauss_newton of every kind's example, in NumPy and in
numba, against PyTorch's autograd on the composed cost (its own oracle, lambdified here from
SymPy) and central differences of the first-order module's grad; the module's fingerprint,
determinism, refusals, and a planted wrong tangent rule caught by the oracle."""

from __future__ import annotations

import functools
import math
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import symbp
from symbp.cli.config import load
from symbp.numeric import tangent_rules, tangents
from symbp.numeric.curvature_codegen import second_order_source
from symbp.numeric.kinds_curvature_codegen import kinds_second_order_source
from tests.oracles import skip_dropped
from tests.seeds import other_seed_env

EXAMPLES = ("residual", "conv1d", "recurrent", "attention", "layernorm-mlp", "batchnorm")
BATCH = 3


@functools.cache
def derived(example: str):
    return symbp.derive(load(f"examples/{example}.toml").net, order=2)


@functools.cache
def printed(example: str) -> str:
    """The NumPy module of an example, printed once: the printer is deterministic (the test
    below prints it again in another process and compares), and tests exec their own copy."""
    return kinds_second_order_source(derived(example))


def module(d, text: str | None = None) -> dict:
    namespace: dict = {}
    exec(kinds_second_order_source(d) if text is None else text, namespace)
    return namespace


def as_params(d, theta: np.ndarray) -> list[dict]:
    """θ (in the order of ``d.parameters()``) as the module's params, each array row-major."""
    params, at = [], 0
    for l in d.layers:
        layer = {}
        for name, M in d.layer_parameters(l).items():
            shape = tuple(d.net.resolved[l - 1].parameters[name])
            layer[name] = theta[at:at + len(M)].reshape(shape)
            at += len(M)
        params.append(layer)
    return params


def flat(params: list[dict]) -> np.ndarray:
    return np.concatenate([a.ravel() for layer in params for a in layer.values()])


@functools.cache
def oracle(example: str):
    """A point, a direction, and PyTorch's H, H v and Jᵀ H_C J there (mse: H_C = I)."""
    torch = pytest.importorskip("torch")
    d = derived(example)
    theta_symbols = d.parameters()
    rng = np.random.default_rng(5)
    P = len(theta_symbols)
    theta, v = rng.uniform(-0.8, 0.8, P), rng.uniform(-1, 1, P)
    x = rng.uniform(-1, 1, (BATCH, len(d.x)))
    y = rng.uniform(0.1, 0.9, (BATCH, len(d.y)))
    modules = [{"sqrt": lambda t: torch.sqrt(torch.as_tensor(t, dtype=torch.float64))},
               "torch"]  # sqrt(2) of attention's scale is a number
    one = sp.lambdify([theta_symbols, list(d.x), list(d.y)], symbp.explicit(d.composed_cost()),
                      modules=modules)
    out = sp.lambdify([theta_symbols, list(d.x)], list(symbp.explicit(d.composed_a(d.L))),
                      modules=modules)
    xt, yt = torch.tensor(x), torch.tensor(y)

    def cost(p):
        return sum(one(list(p), list(xt[b]), list(yt[b])) for b in range(BATCH))

    point = torch.tensor(theta)
    # vectorize: autograd's P backward passes through the graph as one batched pass (vmap),
    # the same derivatives (equal to the last bit here) at a fifth of the CPU time
    H = torch.autograd.functional.hessian(cost, point, vectorize=True).numpy()
    _, hv = torch.autograd.functional.hvp(cost, point, torch.tensor(v))
    G = sum(J.T @ J for J in (torch.autograd.functional.jacobian(
        lambda p, b=b: torch.stack(out(list(p), list(xt[b]))), point, vectorize=True).numpy()
        for b in range(BATCH)))
    xs = x.reshape(BATCH, *d.net.input_shape)  # as the module takes it
    ys = y.reshape(BATCH, *d.net.resolved[-1].shape_out)
    return theta, v, xs, ys, H, hv.numpy(), G


def check(example: str, f) -> None:
    """``f`` (a module's namespace, or lambdify's functions) against the oracle: H, H v and G to
    1e-9, and H column by column against central differences of f's own grad."""
    d = derived(example)
    theta, v, x, y, H_torch, hv_torch, G_torch = oracle(example)
    params = as_params(d, theta)
    H = f["hessian"](x, y, params)
    assert H.shape == H_torch.shape
    assert np.abs(H - H_torch).max() < 1e-9, example
    hv = f["hvp"](x, y, params, as_params(d, v))
    assert [sorted(layer) for layer in hv] == [sorted(layer) for layer in params]
    assert np.abs(flat(hv) - hv_torch).max() < 1e-9, example
    assert np.abs(f["gauss_newton"](x, y, params) - G_torch).max() < 1e-9, example
    columns_are_central_differences(d, f, x, y, theta, H, example)


def columns_are_central_differences(d, f, x, y, theta, H, example: str, h: float = 1e-6) -> None:
    """Column j of H against central differences of f's own grad along θ_j, to 1e-7."""
    for j in range(len(theta)):
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        column = (flat(f["grad"](x, y, as_params(d, up))) -
                  flat(f["grad"](x, y, as_params(d, down)))) / (2 * h)
        assert np.abs(column - H[:, j]).max() < 1e-7, (example, j)


def test_every_kinds_numpy_module_matches_pytorch_and_central_differences():
    for example in EXAMPLES:
        check(example, module(derived(example), printed(example)))


def test_a_max_pool_matches_central_differences():
    # SymPy does not print max pooling's choice for PyTorch: grad's differences are the oracle
    d = derived("conv1d-maxpool")
    f = module(d)
    rng = np.random.default_rng(6)
    theta = rng.uniform(-0.8, 0.8, len(d.parameters()))
    x = rng.uniform(-1, 1, (BATCH, *d.net.input_shape))
    y = rng.uniform(0.1, 0.9, (BATCH, *d.net.resolved[-1].shape_out))
    H = f["hessian"](x, y, as_params(d, theta))
    columns_are_central_differences(d, f, x, y, theta, H, "conv1d-maxpool")


@pytest.mark.slow  # six numba kernels, each compiled once (then cached): about 60 CPU-s
def test_every_kinds_numba_module_matches_pytorch_and_central_differences():
    pytest.importorskip("numba")
    for example in EXAMPLES:
        f = symbp.lambdify(derived(example), backend="numba")
        check(example, {name: getattr(f, name) for name in
                        ("hessian", "hvp", "gauss_newton", "grad")})


def test_a_wrong_tangent_rule_is_caught_by_the_oracle(monkeypatch):
    # the rules are calculus, not proved: a wrong one (tanh' = 1 - tanh, not 1 - tanh²)
    # gives a wrong Hessian, which the oracle sees
    monkeypatch.setitem(tangent_rules.RULES, "np.tanh", "(1.0 - np.tanh({u}))")
    d = derived("residual")
    theta, _, x, y, H_torch, _, _ = oracle("residual")
    H = module(d)["hessian"](x, y, as_params(d, theta))
    assert np.abs(H - H_torch).max() > 1e-3


@pytest.mark.parametrize(("flavor", "softplus"), [
    ("numba", "t = max(u, 0.0) + math.log1p(_exp(-abs(u)))"),  # the kernel's own form
    ("numpy", "t = np.maximum(u, 0.0) + np.log1p(np.exp(-np.abs(u)))")])
def test_the_tangent_of_a_kinked_form_of_a_smooth_function_is_its_derivative(flavor, softplus):
    # softplus' = sigmoid, at the kink u = 0 too: max takes its second argument at a tie and
    # |u| = max(u, -u) does too, so the two kinks cancel (sign(0) = 0 gave 0 there, not 1/2)
    lines = tangents.tangent_lines([softplus], ["u"], flavor)
    for u in (0.0, 0.7, -0.7):
        space = {"math": math, "np": np, "_exp": math.exp,
                 "u": u if flavor == "numba" else np.array([u]),
                 "R_u": 1.0 if flavor == "numba" else np.array([1.0])}
        exec("\n".join(lines), space)
        assert float(np.squeeze(space["R_t"])) == pytest.approx(1 / (1 + math.exp(-u)), abs=1e-15)


def test_a_statement_without_a_rule_is_refused_by_name():
    with pytest.raises(ValueError, match=r"^cannot differentiate the call 'np.cosh\(W1\)': "
                                         r"np.cosh has no tangent rule$"):
        tangents.tangent_lines(["t = np.cosh(W1)"], ["W1"])
    with pytest.raises(ValueError, match=r"^unknown flavor 'jax'; choose one of: numpy, numba$"):
        tangents.tangent_lines(["t = W1"], ["W1"], "jax")
    # what reads no parameter keeps no tangent; a view filled with one makes its array active
    lines = tangents.tangent_lines(["u = x * 2", "a = np.empty(3)", "b = a.reshape(3)",
                                    "b[0] = W1 * u"], ["W1"])
    assert lines == ["u = x * 2", "R_a = np.empty(3)", "a = np.empty(3)",
                     "R_b = R_a.reshape(3)", "b = a.reshape(3)", "R_b[0] = R_W1 * u",
                     "b[0] = W1 * u"]


SOFTMAX = symbp.Network(layers=[symbp.Layer("residual", units=2, activation="tanh"),
                                symbp.Layer("dense", units=3, activation="softmax")],
                        inputs=2, cost="softmax_ce")


@pytest.mark.parametrize("backend", ["numpy", pytest.param("numba", marks=pytest.mark.slow)])
def test_a_softmax_output_and_a_single_sample(backend):
    torch = pytest.importorskip("torch")
    if backend == "numba":
        pytest.importorskip("numba")
    d = symbp.derive(SOFTMAX, order=2)
    lambdified = symbp.lambdify(d, backend=backend)  # numba: the row helpers' tangents
    f = {name: getattr(lambdified, name) for name in ("hessian", "gauss_newton")}
    rng = np.random.default_rng(2)
    theta = rng.uniform(-1, 1, len(d.parameters()))
    x, y = rng.uniform(-1, 1, 2), np.array([0.2, 0.5, 0.3])
    cost = sp.lambdify([d.parameters()], symbp.explicit(d.composed_cost()).xreplace(
        {**dict(zip(d.x, x)), **dict(zip(d.y, y))}), modules="torch")
    H_torch = torch.autograd.functional.hessian(lambda p: cost(list(p)),
                                                torch.tensor(theta)).numpy()
    H = f["hessian"](x, y, as_params(d, theta))
    assert np.abs(H - H_torch).max() < 1e-9
    # softmax with its cross-entropy: H = G on the output layer's block (zero residual term)
    G = f["gauss_newton"](x, y, as_params(d, theta))
    assert np.abs(G[6:, 6:] - H[6:, 6:]).max() < 1e-12
    assert np.linalg.eigvalsh(G).min() > -1e-12


def test_the_module_carries_the_first_order_fingerprint():
    d = derived("recurrent")
    text, hooked = printed("recurrent"), second_order_source(d)
    assert f"PROGRAM = {d.program.fingerprint!r}" in text
    assert text.count("PROGRAM = ") == 1
    assert "in array form" in text and "def _tangent(" in text
    assert text.startswith(hooked.split("\nSecond order")[0])
    assert text == hooked  # the hook: a network of kinds comes here


@pytest.mark.slow
def test_the_module_is_byte_identical_in_another_process():
    text = printed("recurrent")
    program = ("import symbp\nfrom symbp.cli.config import load\nfrom symbp.numeric."
               "kinds_curvature_codegen import kinds_second_order_source as s\nprint(s(symbp."
               "derive(load('examples/recurrent.toml').net, order=2)), end='')")
    again = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                           check=True, env=other_seed_env()).stdout
    assert again == text


def test_v_is_checked_like_the_parameters():
    d = derived("recurrent")
    f = module(d, printed("recurrent"))
    x, y = np.zeros((2, 1, 4)), np.zeros((2, 1))
    params = as_params(d, np.ones(len(d.parameters())))
    v = as_params(d, np.ones(len(d.parameters())))
    v[0]["U"] = np.ones((2, 2))
    with pytest.raises(ValueError, match=r"^v: .*U"):
        f["hvp"](x, y, params, v)


def test_lambdify_gives_second_order_in_numpy_and_numba_and_refuses_other_backends():
    d = derived("conv1d")
    f = symbp.lambdify(d)
    x, y = np.linspace(-1, 1, 8).reshape(1, 8), np.array([0.2, 0.8])
    params = as_params(d, np.linspace(-0.5, 0.5, len(d.parameters())))
    H = f.hessian(x, y, params)
    e = np.zeros(len(d.parameters()))
    e[3] = 1.0
    assert np.allclose(flat(f.hvp(x, y, params, as_params(d, e))), H[:, 3], atol=1e-14)
    with pytest.raises(ValueError, match=r"^backend 'jax' gives first-order gradients only; "
                                         r"for second order choose one of: numpy, numba$"):
        symbp.lambdify(d, backend="jax")
    with pytest.raises(ValueError, match=r"^unknown flavor 'jax'; choose one of: numpy, numba$"):
        kinds_second_order_source(d, "jax")
    text = second_order_source(d, "numba")  # the tangent kernel beside grad's, compiled
    assert "def _tangent_kernel(" in text and text.count("@numba.njit((") == 2


def test_a_wrong_program_prints_wrong_code():
    # the code is the program's statements: a δ program without the skip's highway gives a
    # Hessian wrong in the rows and columns of θ_1 (below the block), right elsewhere
    net = symbp.Network(layers=[symbp.Layer("dense", units=1, activation="tanh"),
                                symbp.Layer("residual", activation="tanh"),
                                symbp.Layer("dense", units=1)], inputs=1)
    right = symbp.derive(net, order=2)
    wrong = symbp.derive(net, order=2, recursion=skip_dropped)
    theta = as_params(right, np.linspace(-0.9, 0.8, len(right.parameters())))
    x, y = np.array([[0.7], [-0.4]]), np.array([[0.3], [0.1]])
    H, W = (module(d)["hessian"](x, y, theta) for d in (right, wrong))
    assert np.abs(H[2:, 2:] - W[2:, 2:]).max() < 1e-15
    assert np.abs(H[:2] - W[:2]).max() > 1e-3

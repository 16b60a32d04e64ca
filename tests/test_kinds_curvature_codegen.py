"""The generated second order of networks of layer kinds (numeric/kinds_curvature_codegen.py):
hvp, hessian and gauss_newton of the examples against PyTorch's autograd on the composed cost
(its own oracle, lambdified here from SymPy) and central differences of the first-order
module's grad; the module's fingerprint, determinism, limits and refusals."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import symbp
from symbp.cli.config import load
from symbp.core import limits
from symbp.numeric.curvature_codegen import second_order_source
from symbp.numeric.kinds_curvature_codegen import kinds_second_order_source, statement_count
from tests.oracles import skip_dropped
from tests.seeds import other_seed_env

EXAMPLES = ("residual", "conv1d", "recurrent")
WHY = ("are printed as one line per scalar statement for a network of layer kinds: this one has "
       "{count}, past the limit of {limit} (limit MAX_CURVATURE_STATEMENTS)")
BATCH = 3


def derived(example: str):
    return symbp.derive(load(f"examples/{example}.toml").net, order=2)


def module(d) -> dict:
    namespace: dict = {}
    exec(kinds_second_order_source(d), namespace)
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


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_examples_match_pytorch_and_central_differences(example):
    torch = pytest.importorskip("torch")
    d = derived(example)
    f = module(d)
    theta_symbols = d.parameters()
    rng = np.random.default_rng(5)
    P = len(theta_symbols)
    theta, v = rng.uniform(-0.8, 0.8, P), rng.uniform(-1, 1, P)
    x = rng.uniform(-1, 1, (BATCH, len(d.x)))
    y = rng.uniform(0.1, 0.9, (BATCH, len(d.y)))
    params = as_params(d, theta)
    xs = x.reshape(BATCH, *d.net.input_shape)  # as the module takes it
    # the oracle: PyTorch's autograd on the composed cost, lambdified here, summed over samples
    one = sp.lambdify([theta_symbols, list(d.x), list(d.y)], symbp.explicit(d.composed_cost()),
                      modules="torch")
    out = sp.lambdify([theta_symbols, list(d.x)], list(symbp.explicit(d.composed_a(d.L))),
                      modules="torch")
    xt, yt = torch.tensor(x), torch.tensor(y)

    def cost(p):
        return sum(one(list(p), list(xt[b]), list(yt[b])) for b in range(BATCH))

    point = torch.tensor(theta)
    H_torch = torch.autograd.functional.hessian(cost, point).numpy()
    _, hv_torch = torch.autograd.functional.hvp(cost, point, torch.tensor(v))
    H = f["hessian"](xs, y, params)
    assert H.shape == (P, P)
    assert np.abs(H - H_torch).max() < 1e-9
    hv = f["hvp"](xs, y, params, as_params(d, v))
    assert [sorted(layer) for layer in hv] == [sorted(layer) for layer in params]
    assert np.abs(flat(hv) - hv_torch.numpy()).max() < 1e-9
    # Gauss–Newton: Σ_b J_bᵀ J_b from PyTorch's Jacobian of a_L (mse: H_C = I)
    G_torch = sum(J.T @ J for J in (torch.autograd.functional.jacobian(
        lambda p, b=b: torch.stack(out(list(p), list(xt[b]))), point).numpy()
        for b in range(BATCH)))
    assert np.abs(f["gauss_newton"](xs, y, params) - G_torch).max() < 1e-9
    # central differences of the first-order module's grad, column by column
    h = 1e-6
    for j in range(P):
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        column = (flat(f["grad"](xs, y, as_params(d, up))) -
                  flat(f["grad"](xs, y, as_params(d, down)))) / (2 * h)
        assert np.abs(column - H[:, j]).max() < 1e-7, j


def test_a_softmax_output_and_a_single_sample():
    torch = pytest.importorskip("torch")
    net = symbp.Network(layers=[symbp.Layer("residual", units=2, activation="tanh"),
                                symbp.Layer("dense", units=3, activation="softmax")],
                        inputs=2, cost="softmax_ce")
    d = symbp.derive(net, order=2)
    f = module(d)
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
    text = kinds_second_order_source(d)
    assert f"PROGRAM = {d.program.fingerprint!r}" in text
    assert text.count("PROGRAM = ") == 1
    assert "scalar straight-line code" in text and "not in array form" in text
    assert text.startswith(second_order_source(d).split("\nSecond order")[0])
    assert text == second_order_source(d)  # the hook: a network of kinds comes here


@pytest.mark.slow
def test_the_module_is_byte_identical_in_another_process():
    text = kinds_second_order_source(derived("recurrent"))
    program = ("import symbp\nfrom symbp.cli.config import load\nfrom symbp.numeric."
               "kinds_curvature_codegen import kinds_second_order_source as s\nprint(s(symbp."
               "derive(load('examples/recurrent.toml').net, order=2)), end='')")
    again = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                           check=True, env=other_seed_env()).stdout
    assert again == text


def test_v_is_checked_like_the_parameters():
    d = derived("recurrent")
    f = module(d)
    x, y = np.zeros((2, 1, 4)), np.zeros((2, 1))
    params = as_params(d, np.ones(len(d.parameters())))
    v = as_params(d, np.ones(len(d.parameters())))
    v[0]["U"] = np.ones((2, 2))
    with pytest.raises(ValueError, match=r"^v: .*U"):
        f["hvp"](x, y, params, v)


def test_the_size_limit_is_checked_before_printing(monkeypatch):
    d = derived("recurrent")
    count = statement_count(d)
    assert count == 2 * 21  # z (8), a (2), z, a, δ of the output, δ of the 8 steps
    monkeypatch.setattr(limits, "MAX_CURVATURE_STATEMENTS", count - 1)
    why = WHY.format(count=count, limit=count - 1)
    with pytest.raises(ValueError, match=f"^hessian, hvp and gauss_newton {re.escape(why)}$"):
        kinds_second_order_source(d)
    with pytest.raises(ValueError, match="MAX_CURVATURE_STATEMENTS"):
        symbp.lambdify(d)


@pytest.mark.slow
def test_derive_keeps_the_first_order_module_past_the_size_limit(monkeypatch, tmp_path, capsys):
    from symbp.cli.main import main

    count = statement_count(derived("recurrent"))
    monkeypatch.setattr(limits, "MAX_CURVATURE_STATEMENTS", count - 1)
    assert main(["derive", "examples/recurrent.toml", "--order", "2", "--format", "py",
                 "--out", str(tmp_path)]) == 0
    assert "def grad(" in (tmp_path / "gradients.py").read_text()
    assert "def hvp(" not in (tmp_path / "gradients.py").read_text()
    assert (f"note: gradients.py has the first-order functions only: hessian, hvp and "
            f"gauss_newton {WHY.format(count=count, limit=count - 1)}\n") in \
        capsys.readouterr().err


def test_lambdify_gives_hvp_in_numpy_and_refuses_other_backends():
    d = derived("conv1d")
    f = symbp.lambdify(d)
    x, y = np.linspace(-1, 1, 8).reshape(1, 8), np.array([0.2, 0.8])
    params = as_params(d, np.linspace(-0.5, 0.5, len(d.parameters())))
    H = f.hessian(x, y, params)
    e = np.zeros(len(d.parameters()))
    e[3] = 1.0
    assert np.allclose(flat(f.hvp(x, y, params, as_params(d, e))), H[:, 3], atol=1e-14)
    with pytest.raises(ValueError, match=r"^backend 'numba' gives first-order gradients only "
                                         r"for a network of layer kinds; for second order "
                                         r"choose 'numpy'$"):
        symbp.lambdify(d, backend="numba")
    with pytest.raises(ValueError, match=r"^second order \(hessian, hvp, gauss_newton\) of a "
                                         r"network of layer kinds is generated in NumPy only"):
        second_order_source(d, "numba")


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

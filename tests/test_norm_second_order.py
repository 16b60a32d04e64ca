"""Second order through a layer norm and a batch norm (core/kinds_second_order.py,
proof/kinds_curvature.py): each route against sympy.diff twice of the composed cost, the
prover on small networks and on the examples, mistakes planted through public objects, and
the generated hessian, hvp and gauss_newton against PyTorch's autograd on nn.functional's
layer_norm and batch_norm (training mode) and central differences of the module's grad.

The exact comparison reads √(v + ε) as one atom r with r² = v + ε (proof/polynomials.py);
1/(v + ε) is r⁻², so the δ program's x̂² and SymPy's (v + ε)^(-1) meet over a power of r.
"""

from __future__ import annotations

import random
import re
from functools import cache

import mpmath
import numpy as np
import pytest
import sympy as sp

import symbp
from symbp import Layer
from symbp.cli.config import load
from symbp.core.kinds_curvature import push_curvature
from symbp.numeric.kinds_curvature_codegen import kinds_second_order_source
from tests.oracles import passed_back_wrong

NETS = {  # small enough to prove in a second or two, with a layer below the norm
    "layernorm": dict(layers=[Layer("dense", units=2, activation="tanh"), Layer("layernorm"),
                              Layer("dense", units=1)], inputs=1),
    "batchnorm": dict(layers=[Layer("batchnorm"), Layer("dense_per_sample", units=1)],
                      inputs=(2, 2)),
}


@cache
def derived(name: str):
    return symbp.derive(symbp.Network(**NETS[name]), order=2)


@cache
def proved(name: str):
    return symbp.prove(derived(name))


@cache
def example(name: str):
    return symbp.derive(load(f"examples/{name}.toml").net, order=2)


def values(d, exprs: list[sp.Expr], point: list[float]) -> list:
    """``exprs`` (in θ, x, y, v) at ``point``, in 40-digit mpmath, the activations explicit."""
    symbols = [*d.parameters(), *d.x, *d.y, *d.direction()]
    f = sp.lambdify([symbols], [symbp.explicit(e) for e in exprs], modules="mpmath", cse=True)
    with mpmath.workdps(40):
        return f([mpmath.mpf(p) for p in point])


@pytest.mark.parametrize("name", list(NETS))
def test_each_route_is_sympys_second_derivative(name):
    d = derived(name)
    cost, theta = d.composed_cost(), d.parameters()
    rng = random.Random(4)
    point = [rng.uniform(-0.9, 0.9) for _ in range(len(theta) + len(d.x) + len(d.y))]
    P, last = len(theta), len(theta) - 1
    pairs = [(0, 0), (0, last), (last - 1, 1), (1, 1)]
    # the test's own oracle: each pair holds theta_1 or theta_2, by which C is differentiated
    # once, then by the other
    first = {k: sp.diff(cost, theta[k]) for k in (0, 1)}
    truth = [sp.diff(first[i], theta[j]) if i in first else sp.diff(first[j], theta[i])
             for i, j in pairs]
    want = values(d, truth, point + [0] * P)
    for route in ("program", "direct", "recursion"):
        H = d.hessian(route=route)
        got = values(d, [H[i, j] for i, j in pairs], point + [0] * P)
        assert all(abs(a - b) < 1e-30 for a, b in zip(want, got)), route
    # H v along v = e_1 and e_P: the first two entries of ``want``
    hv = d.hvp()["W"][0][0]
    along = [values(d, [hv], point + [int(k == j) for k in range(P)])[0] for j in (0, last)]
    assert all(abs(a - b) < 1e-30 for a, b in zip(want, along))


@pytest.mark.parametrize("name", list(NETS))
def test_the_prover_proves_every_block_three_ways(name):
    d, proof = derived(name), proved(name)
    assert proof.holds, proof.failures
    names = [c.name for c in proof.claims]
    blocks = [f"{l},{m}" for l in d.layers for m in range(l, d.L + 1)]
    for title in ("program H", "recursion H", "G", "recursion G"):
        assert [n for n in names if re.fullmatch(rf"{title} \d,\d", n)] == [
            f"{title} {b}" for b in blocks]
    assert [n for n in names if n.startswith("Hv")] == [
        f"Hv {p}{l}" for l in d.layers for p in d.layer_parameters(l)]
    assert {"H_C PSD", "G PSD"} <= set(names)


# ---------------------------------------------------------------- planted mistakes


def _stray_mean_term(ops, l, g, above):
    """The layer norm's pass-back with a stray −δ/n: a mean term without γ and 1/s, the slip
    of a hand-derived backward pass."""
    if ops.kind(l + 1).name != "layernorm":
        return g
    return ops.add(g, ops.scale(sp.Rational(-1, 2), above.delta))


stray_mean_term = passed_back_wrong(_stray_mean_term)


def test_a_wrong_norm_pass_back_is_not_proved_and_named():
    proof = symbp.prove(symbp.derive(symbp.Network(**NETS["layernorm"]), order=2,
                                     recursion=stray_mean_term))
    assert not proof.holds
    failed = {c.name: c for c in proof.claims if c.status == "failed"}
    # the δ program is wrong below the norm: the rows of θ_1, and nothing the forward pass
    # alone decides (G, the curvature recursion)
    assert set(failed) == {"program H 1,1", "program H 1,2", "program H 1,3", "Hv W1", "Hv b1"}
    assert failed["program H 1,1"].entry is not None
    assert "program H 1,1" in str(proof.failures[0])
    proved_ = {c.name for c in proof.claims if c.proved}
    assert {"program H 2,2", "recursion H 1,1", "G 1,1", "recursion G 1,1"} <= proved_


def norm_residual_dropped(live, node, residual=True) -> None:
    """The curvature recursion's step, but the layer norm's node z_2 adds no Σ g ∂²f: the
    norm's own second derivatives (through μ and √(v + ε)) are lost."""
    push_curvature(live, node, residual and (node.layer, node.name) != (2, "z"))


def test_a_wrong_curvature_step_is_not_proved_and_named():
    d = symbp.derive(symbp.Network(**NETS["layernorm"]), order=2,
                     curvature=norm_residual_dropped)
    proof = symbp.prove(d)
    assert not proof.holds
    failed = {c.name: c for c in proof.claims if c.status == "failed"}
    # θ_1 reaches the norm's second derivatives, and γ_2 meets the layer below through them
    assert set(failed) == {"recursion H 1,1", "recursion H 1,2"}
    assert failed["recursion H 1,1"].entry == (1, 1)
    proved_ = {c.name for c in proof.claims if c.proved}
    assert {"program H 1,1", "recursion H 2,2", "recursion G 1,1", "Hv W1"} <= proved_


# ---------------------------------------------------------------- the examples


@pytest.mark.slow
@pytest.mark.parametrize("name", ["layernorm-mlp"])  # batchnorm.toml: ~4 CPU-min, see README
def test_the_cli_proves_the_example(name, capsys):
    from symbp.cli.main import main

    assert main(["prove", "--order", "2", f"examples/{name}.toml"]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "proved for this network only" in said
    assert "three routes compared: direct" in said


# ---------------------------------------------------------------- numbers: PyTorch, differences


def torch_output(d, torch):
    """a_L(θ, x) of ``d``'s network in PyTorch: nn.functional's layer_norm and batch_norm
    (training mode, the biased variance), the linear maps per sample."""
    F = torch.nn.functional
    acts = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "identity": lambda z: z}

    def output(theta, x):
        at, a = 0, x
        for l, r in zip(d.layers, d.net.resolved):
            p = {}
            for name, shape in r.parameters.items():
                size = int(np.prod(shape))
                p[name] = theta[at:at + size].reshape(shape)
                at += size
            eps = r.layer.get("eps", 1e-5)
            if r.kind.name == "dense":
                z = a @ p["W"].T + p["b"]
            elif r.kind.name == "dense_per_sample":  # a: features × samples
                z = p["W"] @ a + p["b"][:, None]
            elif r.kind.name == "layernorm":
                z = F.layer_norm(a, a.shape[-1:], p["W"], p["b"], eps=eps)
            else:  # batch norm over the samples of each feature: torch takes samples × features
                z = F.batch_norm(a.T, None, None, p["W"], p["b"], training=True, eps=eps).T
            a = acts[d.net.activation(l).name](z)
        return a

    return output


def as_params(d, flat: np.ndarray) -> list[dict]:
    """θ in the order of ``d.parameters()`` as the module's params, each array row-major."""
    out, at = [], 0
    for r in d.net.resolved:
        layer = {}
        for name, shape in r.parameters.items():
            size = int(np.prod(shape))
            layer[name] = flat[at:at + size].reshape(shape)
            at += size
        out.append(layer)
    return out


def flat(params: list[dict]) -> np.ndarray:
    return np.concatenate([a.ravel() for layer in params for a in layer.values()])


@pytest.mark.parametrize("name", ["layernorm-mlp", "batchnorm"])
def test_the_generated_module_matches_pytorch_and_central_differences(name):
    torch = pytest.importorskip("torch")
    d = example(name)
    f: dict = {}
    exec(kinds_second_order_source(d), f)
    rng = np.random.default_rng(7)
    P = len(d.parameters())
    theta, v = rng.uniform(-0.8, 0.8, P), rng.uniform(-1, 1, P)
    # a layer norm's batch of 3 samples; a batch norm's batch is its input's own axis
    x = rng.uniform(-1, 1, (3, 2) if name == "layernorm-mlp" else (3, 4))
    y = rng.uniform(0.1, 0.9, (3, 2) if name == "layernorm-mlp" else (2, 4))
    output = torch_output(d, torch)
    xt, yt = torch.tensor(x), torch.tensor(y)

    def cost(p):
        return 0.5 * ((output(p, xt) - yt) ** 2).sum()

    point = torch.tensor(theta)
    H_torch = torch.autograd.functional.hessian(cost, point).numpy()
    _, hv_torch = torch.autograd.functional.hvp(cost, point, torch.tensor(v))
    H = f["hessian"](x, y, as_params(d, theta))
    assert np.abs(H - H_torch).max() < 1e-9
    hv = f["hvp"](x, y, as_params(d, theta), as_params(d, v))
    assert np.abs(flat(hv) - hv_torch.numpy()).max() < 1e-9
    # Gauss–Newton: Jᵀ J from PyTorch's Jacobian of the output (mse: H_C = I)
    J = torch.autograd.functional.jacobian(lambda p: output(p, xt), point).numpy()
    J = J.reshape(-1, P)
    assert np.abs(f["gauss_newton"](x, y, as_params(d, theta)) - J.T @ J).max() < 1e-9
    h = 1e-6  # central differences of the module's own first-order grad
    for j in range(P):
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        column = (flat(f["grad"](x, y, as_params(d, up))) -
                  flat(f["grad"](x, y, as_params(d, down)))) / (2 * h)
        assert np.abs(column - H[:, j]).max() < 1e-7, j

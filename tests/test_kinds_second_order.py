"""Second order for layer kinds, per network (core/kinds_second_order.py,
proof/kinds_curvature.py): each route against sympy.diff twice of the composed cost, the
numbers against PyTorch's hessian and hvp and central differences of the gradient, and the
prover against planted mistakes.

Why the planted mistakes are first-order mistakes: the program route differentiates the
δ program statement by statement, so a program equal to ∇C as a function has H v as its
derivative. A term that first order never sees (one that vanishes on the forward pass)
has a vanishing derivative too; what second order can catch is a program that is wrong,
and it must then say where, on its own, without the first-order proof.
"""

from __future__ import annotations

import functools
import json
import random
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import symbp
from symbp import Layer
from symbp.core import layers as layer_kinds
from symbp.core.kinds_second_order import KindsSecondDerivation
from symbp.core.layers import residual
from symbp.core.layers.base import Kind
from symbp.core.recursion import backprop_deltas
from tests.oracles import lambdified, skip_dropped

NETS = {
    "residual": dict(layers=[Layer("residual", activation="tanh", units=2, projection=True),
                             Layer("residual", activation="tanh"), Layer("dense", units=1)],
                     inputs=1),
    "conv1d": dict(layers=[Layer("conv1d", channels=1, kernel=2), Layer("dense", units=1)],
                   inputs=(1, 4)),
    "recurrent": dict(layers=[Layer("recurrent", units=2, activation="tanh"),
                              Layer("dense", units=1)], inputs=(1, 2)),
}


def network(name: str, cost: str = "mse") -> symbp.Network:
    return symbp.Network(**NETS[name], cost=cost)


@functools.cache
def derived(name: str):
    """One derivation per network of NETS (its routes built once; no test changes it)."""
    return symbp.derive(network(name), order=2)


@functools.cache
def proved(name: str):
    return symbp.prove(derived(name))


def point(d, rng: random.Random, digits: int = 40) -> dict:
    symbols = [*d.parameters(), *d.x, *d.y, *d.direction()]
    return {s: sp.Float(rng.uniform(-0.9, 0.9), digits) for s in symbols}


@pytest.mark.parametrize("name", list(NETS))
def test_each_route_is_sympys_second_derivative(name):
    d = derived(name)
    assert isinstance(d, KindsSecondDerivation)
    cost, theta = d.composed_cost(), d.parameters()
    rng = random.Random(1)
    at = point(d, rng)
    H = {route: d.hessian(route=route) for route in ("program", "direct", "recursion")}
    hv = flat(d, d.hvp())
    v = sp.Matrix(d.direction())
    pairs = [(rng.randrange(len(theta)), rng.randrange(len(theta))) for _ in range(4)]
    by_first = sp.diff(cost, theta[0])  # differentiated once, then by each q
    for i, j in [(0, 0), (len(theta) - 1, 0), *pairs]:
        truth = (sp.diff(by_first, theta[i]) if j == 0 else  # the test's own oracle
                 sp.diff(cost, theta[i], theta[j])).xreplace(at)
        for route, M in H.items():
            assert abs(M[i, j].xreplace(at) - truth) < 1e-30, (route, i, j)
    truth_hv = sum((sp.diff(by_first, q).xreplace(at) * v[k].xreplace(at)
                    for k, q in enumerate(theta)), sp.S.Zero)
    assert abs(hv[0].xreplace(at) - truth_hv) < 1e-30
    # Gauss–Newton against Jᵀ H_C J built here from sympy.diff of a_L
    s = d.composed_a(d.L)
    J = sp.Matrix(len(s), 2, lambda r, c: sp.diff(s[int(r)], theta[int(c)]))
    G = (J.T * J).xreplace(at)  # mse: H_C = I
    for route in ("program", "direct", "recursion"):
        assert max(abs(e) for e in d.gauss_newton(route=route)[:2, :2].xreplace(at) - G) < 1e-30


def flat(d, hvp: dict) -> sp.Matrix:
    """H v in the order of ``d.parameters()``: layer by layer, each parameter row by row."""
    return sp.Matrix([e for l in d.layers for name in d.layer_parameters(l)
                      for e in hvp[name][l - 1]])


@pytest.mark.parametrize("name", list(NETS))
def test_the_prover_proves_every_block_for_each_kind(name):
    d, proof = derived(name), proved(name)
    assert proof.holds, proof.failures
    names = [c.name for c in proof.claims]
    L = d.L
    assert [n for n in names if n.startswith("program H")] == [
        f"program H {l},{m}" for l in range(1, L + 1) for m in range(l, L + 1)]
    assert [n for n in names if n[:2] == "G " and n[2].isdigit()] == [
        f"G {l},{m}" for l in range(1, L + 1) for m in range(l, L + 1)]
    for matrix in ("H", "G"):  # the third route, block by block
        assert [n for n in names if n.startswith(f"recursion {matrix}")] == [
            f"recursion {matrix} {l},{m}" for l in range(1, L + 1) for m in range(l, L + 1)]
    assert [n for n in names if n.startswith("Hv")] == [
        f"Hv {p}{l}" for l in range(1, L + 1) for p in d.layer_parameters(l)]
    assert {"H_C PSD", "G PSD"} <= set(names)
    summary = " ".join(proof.summary().split())
    assert "proved for this network only" in summary
    assert ("three routes compared: direct (SymPy's second derivatives of the composed cost), "
            "program (the R-operator on the delta program) and recursion (curvature "
            "backpropagated over the graph)") in summary


# ---------------------------------------------------------------- numbers: PyTorch, differences


def numeric(d, expr):
    """``expr`` (in θ, x, y, v) as a NumPy function of those, the activations explicit."""
    symbols = [d.parameters(), list(d.x), list(d.y), d.direction()]
    return lambdified(symbols, symbp.explicit(expr), "numpy", cse=True)


@pytest.mark.parametrize("name", ["conv1d", "recurrent",
                                  pytest.param("residual", marks=pytest.mark.slow)])
def test_the_numbers_match_pytorch_and_central_differences(name):
    torch = pytest.importorskip("torch")
    d = derived(name)
    theta = d.parameters()
    rng = np.random.default_rng(3)
    th, x, y, v = (rng.uniform(-0.8, 0.8, n) for n in (len(theta), len(d.x), len(d.y),
                                                         len(theta)))
    args = (list(th), list(x), list(y), list(v))
    cost = lambdified([theta, list(d.x), list(d.y)], symbp.explicit(d.composed_cost()), "torch")

    def C(p):
        return cost(list(p), list(torch.tensor(x)), list(torch.tensor(y)))

    point = torch.tensor(th)
    H_torch = torch.autograd.functional.hessian(C, point).numpy()
    _, hv_torch = torch.autograd.functional.hvp(C, point, torch.tensor(v))
    for route in ("program", "direct", "recursion"):
        H = np.array(numeric(d, d.hessian(route=route))(*args), dtype=float)
        assert np.abs(H - H_torch).max() < 1e-9
    hv = np.array(numeric(d, flat(d, d.hvp()))(*args), dtype=float).ravel()
    assert np.abs(hv - hv_torch.numpy()).max() < 1e-9
    # central differences of the first-order gradient (the recursion's), column by column
    grad = numeric(d, sp.Matrix([e for l in d.layers for name in d.layer_parameters(l)
                                 for e in d.grad(l, "recursion", name)]))
    h = 1e-6
    for j in range(len(theta)):
        up, down = th.copy(), th.copy()
        up[j] += h
        down[j] -= h
        column = (np.array(grad(list(up), *args[1:]), dtype=float) -
                  np.array(grad(list(down), *args[1:]), dtype=float)).ravel() / (2 * h)
        assert np.abs(column - H_torch[:, j]).max() < 1e-7
    # Gauss–Newton: Jᵀ H_C J from PyTorch's Jacobian of a_L (mse: H_C = I)
    out = lambdified([theta, list(d.x)], list(symbp.explicit(d.composed_a(d.L))), "torch")
    J = torch.autograd.functional.jacobian(
        lambda p: torch.stack(out(list(p), list(torch.tensor(x)))), point).numpy()
    for route in ("program", "recursion"):
        G = np.array(numeric(d, d.gauss_newton(route=route))(*args), dtype=float)
        assert np.abs(G - J.T @ J).max() < 1e-9


# ---------------------------------------------------------------- planted mistakes


def test_a_dropped_skip_is_not_proved_and_named():
    net = symbp.Network(layers=[Layer("dense", units=1, activation="tanh"),
                                Layer("residual", activation="tanh"), Layer("dense", units=1)],
                        inputs=1)
    proof = symbp.prove(symbp.derive(net, order=2, recursion=skip_dropped))
    assert not proof.holds
    failed = {c.name: c for c in proof.claims if c.status == "failed"}
    # the rows of θ_1, below the block whose skip was dropped, and nothing else
    assert set(failed) == {"program H 1,1", "program H 1,2", "program H 1,3", "Hv W1", "Hv b1"}
    assert failed["program H 1,1"].entry == (1, 1)
    assert "program H 1,1" in str(proof.failures[0])
    proved = {c.name for c in proof.claims if c.proved}
    # G and the curvature recursion read the forward pass only, never the δ program
    assert {"program H 2,2", "program H 3,3", "G 1,1", "G PSD", "recursion H 1,1",
            "recursion G 1,1"} <= proved


def test_a_kind_whose_projection_gradient_is_wrong_is_not_proved(monkeypatch):
    # a residual kind registered here: right but for ∂C/∂P = δ aᵀ (δ in place of g)
    def backward(ops, l, g):
        g = ops.bind_grad(l, g)
        delta = ops.bind_delta(l, ops.activation_vjp(l, g))
        a = ops.activation(l - 1)
        ops.gradient(l, weight=ops.outer(delta, a), bias=delta, P=ops.outer(delta, a))
        return residual.Bound(delta, g)

    wrong = Kind(**{**residual.KIND.__dict__, "name": "residual_wrong", "backward": backward})
    monkeypatch.setitem(layer_kinds.KINDS, "residual_wrong", wrong)
    monkeypatch.setattr("symbp.core.kinds_second_scope.KINDS_SECOND_ORDER",
                        ("dense", "residual_wrong"))
    net = symbp.Network(layers=[Layer("residual_wrong", activation="tanh", units=2,
                                      projection=True), Layer("dense", units=1)], inputs=1)
    proof = symbp.prove(symbp.derive(net, order=2))
    failed = [c.name for c in proof.claims if c.status == "failed"]
    assert failed == ["program H 1,1", "program H 1,2", "Hv P1"]
    entry = next(c.entry for c in proof.claims if c.name == "program H 1,1")
    assert entry[0] > 4  # a row of P_1 (θ_1 = W_1 (2), b_1 (2), P_1 (2))


def test_the_dense_lemmas_are_not_used_on_a_kind():
    d, proof = derived("residual"), proved("residual")  # the prover's test's
    assert not any(c.name.startswith(("H row", "G row")) for c in proof.claims)
    with pytest.raises(ValueError, match=r"^unknown method 'local'; choose one of: "
                                         r"auto, expand"):
        symbp.prove(d, "local")


# ---------------------------------------------------------------- limits and the CLI


def test_the_size_limit_applies_before_work():
    net = symbp.Network(layers=[Layer("residual", units=10)], inputs=10)  # 110 parameters
    with pytest.raises(ValueError, match=r"^the network has 110 weights and biases: its "
                                         r"symbolic Hessian would have 110² = 12,100 entries, "
                                         r"past the limit of 10,000 .*MAX_SYMBOLIC_HESSIAN_ENTR"
                                         r"IES\)$"):
        symbp.derive(net, order=2)
    done = subprocess.run([sys.executable, "-m", "symbp", "prove", "--order", "2", "--layers",
                           "residual:10", "--inputs", "10"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "MAX_SYMBOLIC_HESSIAN_ENTRIES" in done.stderr


def test_the_recursion_is_replaced_not_the_dense_programs():
    with pytest.raises(ValueError, match=r"^hvp: a network of layer kinds has no "
                                         r"curvature programs to replace; give recursion= "
                                         r"instead$"):
        symbp.derive(network("conv1d"), order=2, hvp=lambda ops: None)
    assert symbp.derive(network("conv1d"), order=2,
                        recursion=backprop_deltas).recursion_function is backprop_deltas


@pytest.mark.slow
@pytest.mark.parametrize("example", ["residual", "conv1d", "recurrent"])
def test_the_cli_proves_the_examples(example, capsys):
    from symbp.cli.main import main

    # in this process (a real one starts in the size limit's test above)
    code = main(["prove", "--order", "2", f"examples/{example}.toml"])
    out, err = capsys.readouterr()
    assert code == 0, err
    said = " ".join(out.split())
    assert "proved for this network only" in said
    assert "three routes compared: direct" in said and ", program (" in said
    assert "and recursion (curvature backpropagated over the graph)" in said


def test_derive_order_two_writes_hvp_in_numpy_and_numba(tmp_path, capsys):
    from symbp.cli.main import main

    out = tmp_path / "out"
    assert main(["derive", "--order", "2", "examples/conv1d.toml", "--format", "py,numba",
                 "--out", str(out)]) == 0
    namespace: dict = {}
    exec((out / "gradients.py").read_text(), namespace)
    assert {"forward", "cost", "grad", "hvp", "hessian", "gauss_newton"} <= set(namespace)
    numba_text = (out / "gradients_numba.py").read_text()
    assert "def hvp(" in numba_text and "def _tangent_kernel(" in numba_text
    assert "first-order functions only" not in capsys.readouterr().err


@pytest.mark.slow
def test_derive_order_two_writes_the_chapter_and_proof_of_a_network_of_kinds(tmp_path, capsys):
    from symbp.cli.main import main
    from symbp.render.latex import missing_compiler_note

    out = tmp_path / "out"
    assert main(["derive", "examples/conv1d.toml", "--format", "json,second_order",
                 "--out", str(out)]) == 0  # second_order asks for order 2
    pdf = [] if missing_compiler_note() else ["second_order.pdf"]
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted([
        "proof.json", "second_order.html", "second_order.json", "second_order.md",
        "second_order.tex", "worked.json", *pdf])
    report = json.loads((out / "second_order.json").read_text())
    assert report["holds"] and "proved for this network only" in report["note"]
    chapter = (out / "second_order.md").read_text()
    assert "The worked example in numbers" in chapter
    # an entry of a tensor with several axes by its channel and position, not its flat place;
    # the kernel by the kind's own letter, as the first-order derivation writes it
    assert (r"z^{(1)}_{1,1} &= b^{(1)}_{1} + K^{(1)}_{1,1,1} x_{1,1} + K^{(1)}_{1,1,2} x_{1,2}"
            in chapter)
    assert "w^{(1)}_{111}" not in chapter
    # the printed hvp program's own claims, not only the R-operator's
    assert "NumPy's `_tangent`: **proved**; numba's `_tangent_kernel`: **proved**." in chapter
    # what the theorem for every size proves, H v among it (every kind has its H v lemma)
    assert ("gives every block of $`H`$ and of $`G`$, and that the program route (the "
            "R-operator on the\n$`\\delta`$ program) gives $`H v`$ for every direction "
            "$`v`$") in chapter
    assert "no second-order chapter" not in capsys.readouterr().err

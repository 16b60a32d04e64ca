"""Attention at order 2 (core/kinds_second_order.py, proof/softmax_rows.py): the three routes
proved equal with and without the causal mask, the comparison in the softmax rows'
coordinates sound (a refusal stays one, a wrong identity is not proved), a planted mistake
in the curvature recursion found and named, and the generated NumPy hessian, hvp and
gauss_newton against PyTorch's autograd of its own attention and central differences."""

from __future__ import annotations

import random

import numpy as np
import pytest
import sympy as sp

import symbp
from symbp import Layer
from symbp.cli.main import main
from symbp.core.kinds_curvature import push_curvature
from symbp.core.kinds_second_order import KindsSecondDerivation
from symbp.numeric.kinds_curvature_codegen import kinds_second_order_source
from symbp.proof.softmax_rows import RowsExact, softmax_rows

_DERIVED: dict = {}


def derived(causal: bool, inputs=(1, 2), units: int = 1):
    """One derivation per network of this file (their routes are built once)."""
    key = (causal, inputs, units)
    if key not in _DERIVED:
        net = symbp.Network(layers=[Layer("attention", causal=causal),
                                    Layer("dense", units=units, activation="sigmoid")],
                            inputs=inputs)
        _DERIVED[key] = symbp.derive(net, order=2)
    return _DERIVED[key]


# ---------------------------------------------------------------- the rows' coordinates


a, b, c = sp.symbols("a b c")
ROW = sp.exp(a) + sp.exp(b) + sp.exp(c)


def weight(s: sp.Expr) -> sp.Expr:
    return sp.exp(s) / ROW


def test_a_softmax_identity_is_proved_in_the_rows_coordinates_and_a_wrong_one_is_not():
    session = RowsExact(weight(a))
    assert softmax_rows(weight(a)) == [(a, b, c)]
    assert session.residual(weight(a) + weight(b) + weight(c), 1) == 0  # the row sums to 1
    # the softmax's Jacobian and its second derivative, as SymPy writes them
    assert session.residual(sp.diff(weight(a), b), -weight(a) * weight(b)) == 0
    assert session.residual(sp.diff(weight(a), a, b),
                            -weight(a) * weight(b) * (1 - 2 * weight(a))) == 0
    assert session.residual(weight(a) + weight(b) + weight(c), 2) != 0
    assert session.residual(sp.diff(weight(a), b), weight(a) * weight(b)) != 0


def test_what_the_original_is_refused_for_stays_refused():
    session = RowsExact(weight(a))
    found = session.residual(weight(a) * sp.Float("0.5"), weight(a) / 2)
    assert found.startswith("not decided: Float 0.5")
    assert RowsExact(a + b).residual(sp.exp(a) * sp.exp(b), sp.exp(a + b)) == 0  # no rows:
    # the plain exact comparison


# ---------------------------------------------------------------- the routes, proved


@pytest.mark.parametrize("causal", [pytest.param(False, marks=pytest.mark.slow), True])
def test_the_three_routes_are_proved_with_and_without_the_mask(causal):
    d = derived(causal)
    proof = symbp.prove(d)
    assert proof.holds, proof.failures
    names = [claim.name for claim in proof.claims]
    for block in ("program H", "recursion H", "G", "recursion G"):
        assert [f"{block} {l},{m}" for l, m in ((1, 1), (1, 2), (2, 2))] == [
            n for n in names if n.rsplit(" ", 1)[0] == block and n[-1].isdigit()]
    assert [n for n in names if n.startswith("Hv")] == ["Hv W1", "Hv b1", "Hv WQ1", "Hv WK1",
                                                       "Hv W2", "Hv b2"]


@pytest.mark.parametrize("causal", [pytest.param(False, marks=pytest.mark.slow), True])
def test_each_route_is_sympys_second_derivative_at_a_point(causal):
    d = derived(causal)
    cost, theta = d.composed_cost(), d.parameters()
    rng = random.Random(2)
    at = {s: sp.Float(rng.uniform(-0.9, 0.9), 40) for s in [*theta, *d.x, *d.y]}
    pairs = [(2, 3), (0, 2), (len(theta) - 1, 3)]  # W_Q W_K, W_V W_Q, W_2 W_K
    # the test's own oracle, once for the three routes
    truth = {(i, j): sp.diff(cost, theta[i], theta[j]).xreplace(at) for i, j in pairs}
    for route in ("program", "direct", "recursion"):
        H = d.hessian(route=route)
        for i, j in pairs:
            assert abs(H[i, j].xreplace(at) - truth[i, j]) < 1e-30, (route, i, j)


def test_a_curvature_step_without_the_softmax_residual_term_is_not_proved():
    # the attention node's Σ g ∂²f dropped: the softmax's second derivative, among others
    def without_attention_residual(live, node, residual=True):
        push_curvature(live, node, residual and not (node.layer == 1 and node.name == "z"))

    net = derived(True).net
    proof = symbp.prove(KindsSecondDerivation(net, curvature=without_attention_residual))
    assert not proof.holds
    failed = [claim for claim in proof.claims if claim.status == "failed"]
    assert [claim.name for claim in failed] == ["recursion H 1,1"]
    assert failed[0].entry == (1, 3)  # W_V with W_Q: the map is linear in W_V and b_V alone
    assert "recursion H 1,1" in str(proof.failures[0])


# ---------------------------------------------------------------- numbers


def torch_model(causal: bool, x, y, shapes):
    """The cost of θ (flat, in hessian's order) by torch's own attention, and a_2."""
    torch = pytest.importorskip("torch")

    def unflat(theta):
        out, at = [], 0
        for shape in shapes:
            size = int(np.prod(shape))
            out.append(theta[at:at + size].reshape(shape))
            at += size
        return out

    def output(theta):
        W, b, WQ, WK, W2, b2 = unflat(theta)
        X = torch.tensor(x).transpose(1, 2)  # batch × tokens × channels
        A = torch.nn.functional.scaled_dot_product_attention(X @ WQ, X @ WK, X @ W + b,
                                                             is_causal=causal)
        return torch.sigmoid(A.transpose(1, 2).reshape(len(x), -1) @ W2.T + b2)

    def cost(theta):
        return 0.5 * ((output(theta) - torch.tensor(y)) ** 2).sum()

    return cost, output


@pytest.mark.slow  # torch's Hessian and 24 gradients by differences: about 3 s
@pytest.mark.parametrize("causal", [False, True])
def test_the_generated_numpy_matches_pytorch_and_central_differences(causal):
    torch = pytest.importorskip("torch")
    namespace: dict = {}
    exec(kinds_second_order_source(derived(causal, (1, 3), 2)), namespace)
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(2, 1, 3)), rng.uniform(size=(2, 2))
    names = ("W", "b", "WQ", "WK")
    params = [dict(zip(names, (rng.normal(size=(1, 1)), rng.normal(size=1),
                               rng.normal(size=(1, 1)), rng.normal(size=(1, 1))))),
              {"W": rng.normal(size=(2, 3)), "b": rng.normal(size=2)}]
    order = [(0, n) for n in names] + [(1, "W"), (1, "b")]
    shapes = [params[l][n].shape for l, n in order]
    theta = np.concatenate([params[l][n].ravel() for l, n in order])
    cost, output = torch_model(causal, x, y, shapes)
    H_torch = torch.autograd.functional.hessian(cost, torch.tensor(theta)).numpy()
    assert np.abs(namespace["hessian"](x, y, params) - H_torch).max() < 1e-9
    v = rng.normal(size=len(theta))
    _, hv_torch = torch.autograd.functional.hvp(cost, torch.tensor(theta), torch.tensor(v))
    split = np.split(v, np.cumsum([int(np.prod(s)) for s in shapes])[:-1])
    v_params = [{n: part.reshape(s) for (l, n), part, s in zip(order, split, shapes) if l == m}
                for m in (0, 1)]
    hv = namespace["hvp"](x, y, params, v_params)
    flat = np.concatenate([np.asarray(hv[l][n]).ravel() for l, n in order])
    assert np.abs(flat - hv_torch.numpy()).max() < 1e-9
    J = torch.autograd.functional.jacobian(output, torch.tensor(theta)).numpy()  # b × units × P
    G = np.einsum("bip,biq->pq", J, J)  # mse: H_C = I
    assert np.abs(namespace["gauss_newton"](x, y, params) - G).max() < 1e-9
    h = 1e-6  # central differences of the generated first-order gradient, column by column
    for j, (l, n) in enumerate(order):
        for k in range(params[l][n].size):
            column = []
            for step in (h, -h):
                moved = [{m: a.copy() for m, a in p.items()} for p in params]
                moved[l][n].ravel()[k] += step
                g = namespace["grad"](x, y, moved)
                column.append(np.concatenate([np.asarray(g[i][m]).ravel() for i, m in order]))
            index = sum(int(np.prod(s)) for s in shapes[:j]) + k
            assert np.abs((column[0] - column[1]) / (2 * h) - H_torch[:, index]).max() < 1e-7


# ---------------------------------------------------------------- the example


def test_the_cli_proves_attention_at_order_two(capsys):
    # examples/attention.toml itself takes about 50 CPU-s (42 claims), too long for the suite
    assert main(["prove", "--order", "2", "--layers", "attention:causal=true,dense:1",
                 "--inputs", "1x2"]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "proved for this network only" in said
    assert "three routes compared: direct" in said
    # the printed hvp compared in both flavours (proof/code_maxima.py reads its stabilizer)
    assert "proved Hv code WQ1" in said and "proved Hv numba WK1" in said
    assert "the printed hvp program is not compared" not in said


@pytest.mark.slow
def test_the_chapter_tells_the_softmaxs_second_derivative(tmp_path):
    out = tmp_path / "out"
    assert main(["derive", "--layers", "attention:causal=true,dense:1", "--inputs", "1x2",
                 "--order", "2", "--format", "second_order", "--out", str(out)]) == 0
    text = " ".join((out / "second_order.md").read_text().split())
    assert ("so the residual term holds the softmax's own second derivative, the entries of a "
            "row coupled through its sum") in text
    assert "the mask adds no term of its own" in text
    assert "Its kernel is shared" not in text

"""Max pooling after a 1-D convolution: proved where every window's maximum is unique (ρ, the
window's first maximum, is locally constant there), its code against PyTorch's max_pool1d
and central differences, the first-maximum subgradient at a tie, and planted mistakes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import sympy as sp
from differences import assert_central_differences

import symbp
from symbp.cli.main import main
from symbp.core.layers import KINDS, Layer, conv1d
from symbp.core.layers.argmax import Chosen, FirstMax, WindowArgmax
from symbp.core.layers.conv1d import POOL, O, U
from symbp.numeric.maps import terms
from symbp.numeric.maps_numba import numba_lines
from tests.test_conv1d_numeric import point

SCOPE = "proved where every window's maximum is unique"


def pooled(padding="valid", shape=(1, 6), kernel=3, q=2, activation="tanh", more=()):
    conv = Layer("conv1d", channels=2, kernel=kernel, padding=padding, pool="max",
                 pool_size=q, activation=activation)
    return symbp.Network(layers=[conv, *more, Layer("dense", units=2)], inputs=list(shape))


# ---------------------------------------------------------------- the selection itself


def test_the_first_maximum_is_numpys_argmax_and_has_no_derivative():
    x, y = sp.symbols("x y")
    assert FirstMax(sp.Integer(1), sp.Integer(3), sp.Integer(3)) == 2  # a tie: the first
    assert FirstMax(x) == 1 and FirstMax(x, y).diff(x) == 0
    assert Chosen(2, FirstMax(sp.Integer(1), sp.Integer(3))) == 1
    s, q = sp.IndexedBase("s"), sp.Symbol("q", integer=True, positive=True)
    rho = WindowArgmax(s, O, U, q)
    assert rho.xreplace({q: 2, O: 1, U: 2}) == FirstMax(s[1, 3], s[1, 4])
    assert WindowArgmax.window(s, O, U, 2) == FirstMax(s[O, 2 * U - 1], s[O, 2 * U])
    assert sp.latex(Chosen(1, rho)) == r"[1 = \rho_{o,u}]"


# ---------------------------------------------------------------- input


def test_max_pool_shapes_and_words():
    net = pooled(shape=(1, 8), q=3)
    r = net.resolved[0]
    assert r.shape_out == (2, 2) and r.layer.get("pool") == "max"
    assert r.kind.described(r.layer) == ("a 1-D convolution, 2 channels, kernel 3, valid "
                                         "padding, max pooling over 3")
    assert SCOPE in r.kind.holds_where(r.layer)
    assert "first maximum, one of its subgradients" in r.kind.explained(r.layer)


def test_cli_shorthand_proves_and_says_where(capsys):
    code = main(["prove", "--method", "local", "--layers",
                 "conv1d:channels=2;kernel=3;pool=max,dense:2", "--inputs", "1x6"])
    out = capsys.readouterr().out
    assert code == 0
    assert "proved (local)" in out
    assert "layer 1: max pooling, " + SCOPE in " ".join(out.split())
    assert "at a tie C has no derivative and the code passes g to the first maximum, one of " \
           "its subgradients" in " ".join(out.split())


def test_a_bad_pool_lists_the_three(capsys):
    code = main(["prove", "--layers", "conv1d:channels=2;kernel=3;pool=min,dense:2",
                 "--inputs", "1x6"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "key 'pool' must be \"none\", \"avg\" or \"max\", got 'min'" in err


# ---------------------------------------------------------------- the proof per network


@pytest.mark.parametrize("method", ["local", "expand", "auto"])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_every_method_proves_it(method, padding):
    proof = symbp.prove(symbp.derive(pooled(padding)), method=method)
    assert proof.holds, proof.summary()
    assert SCOPE in proof.note


def test_the_construction_says_it_does_not_compare_the_routes_and_why(capsys):
    # the pass back picks each window's entry by the values before pooling, which are not
    # symbols of the derivation: the construction proves the recursion and says what it left
    proof = symbp.prove(symbp.derive(pooled()), method="construction")
    assert proof.holds and SCOPE in proof.note
    assert ("layer 1 passes back through the maximum of each pooling window, which the "
            "construction does not take: the routes are not compared") in proof.note
    assert {c.kind for c in proof.claims} == {"recursion", "function"}  # no route claimed
    assert main(["prove", "examples/conv1d-maxpool.toml", "--method", "construction"]) == 0
    assert "internal error" not in capsys.readouterr().err


def test_two_pooled_layers_are_proved():
    second = Layer("conv1d", channels=2, kernel=2, pool="max", pool_size=2,
                   activation="sigmoid")
    proof = symbp.prove(symbp.derive(pooled(shape=(1, 7), kernel=2, more=[second])),
                        method="local")
    assert proof.holds
    assert proof.note.count(SCOPE) == 2


def test_the_recursion_is_sympy_diff_of_the_composed_cost():
    d = symbp.derive(pooled("same", shape=(1, 4), kernel=2))
    cost = d.composed_cost()
    for l in (1, 2):
        for name, M in d.layer_parameters(l).items():
            found = d.recursion.param_grads[(l, name)].xreplace(d._composed_deltas)
            for got, w in zip(found, M):
                assert sp.expand(got - cost.diff(w)) == 0, (l, name, w)


class _LastMax(WindowArgmax):
    """The last maximum of a window: the same where the maximum is unique, not as formulas."""

    @classmethod
    def eval(cls, s, o, t, q):
        if q.is_Integer:
            return q + 1 - FirstMax(*[s[o, q * (t - 1) + r] for r in range(int(q), 0, -1)])
        return None


_W = sp.floor((U - 1) / POOL) + 1


def plant_pool_vjp(monkeypatch, mistake):
    """conv1d's pooling pass-back (``delta_from_g``) replaced by ``mistake(tensors)``."""
    made = conv1d.maps

    def maps(layer):
        m = made(layer)
        wrong = mistake(conv1d.tensors(layer.get("padding")))
        return dataclasses.replace(m, delta_from_g=dataclasses.replace(m.delta_from_g,
                                                                       formula=wrong))

    monkeypatch.setitem(KINDS, "conv1d", dataclasses.replace(KINDS["conv1d"], maps=maps))


@pytest.mark.parametrize("mistake", [
    lambda t: t["g"][O, _W] * Chosen(U - POOL * (_W - 1), _LastMax(t["s"].base, O, _W, POOL)),
    lambda t: t["g"][O, _W] / POOL,  # spread over the window, as average pooling does
    lambda t: t["g"][O, _W] * Chosen(U - POOL * (_W - 1), 1),  # always the window's first
], ids=["last maximum", "spread", "first entry"])
@pytest.mark.parametrize("method", ["local", "expand"])
def test_a_planted_routing_is_not_proved(monkeypatch, mistake, method):
    plant_pool_vjp(monkeypatch, mistake)
    proof = symbp.prove(symbp.derive(pooled(shape=(1, 5), kernel=2)), method=method)
    assert not proof.holds
    first = proof.failures[0]
    assert "delta_1" in first.culprit and first.entry == (1, 1), str(first)


# ---------------------------------------------------------------- numbers


NETWORKS = {
    "valid, pool 2": ([Layer("conv1d", channels=2, kernel=3, pool="max", pool_size=2,
                             activation="tanh"), Layer("dense", units=2)], [1, 8]),
    "same, pool 3, then a pooled conv": (
        [Layer("conv1d", channels=3, kernel=3, padding="same", pool="max", pool_size=3,
               activation="sigmoid"),
         Layer("conv1d", channels=2, kernel=2, pool="max", pool_size=2, activation="tanh"),
         Layer("dense", units=2)], [2, 9]),
}
DERIVED: dict = {}


def derived(name):
    if name not in DERIVED:
        layers, inputs = NETWORKS[name]
        DERIVED[name] = symbp.derive(symbp.Network(layers=layers, inputs=inputs))
    return DERIVED[name]



def torch_gradients(net, x, y, params, pool=None):
    """Autograd through F.conv1d, the activation, F.max_pool1d (or ``pool``) and a linear
    layer, with the same weights."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    acts = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}
    a = torch.tensor(x)
    leaves = []
    for r, given in zip(net.resolved, params):
        W, b = (torch.tensor(given[k], requires_grad=True) for k in ("W", "b"))
        leaves.append({"W": W, "b": b})
        if r.kind.name == "conv1d":
            a = acts[r.maps.activation](F.conv1d(a.reshape(len(x), *r.shape_in), W, b,
                                                 padding=r.layer.get("padding")))
            q = r.layer.get("pool_size")
            a = F.max_pool1d(a, q) if pool is None else pool(a, q)
        else:
            a = acts[r.maps.activation](a.reshape(len(x), -1) @ W.T + b)
    cost = 0.5 * ((a.reshape(len(x), -1) - torch.tensor(y)) ** 2).sum()
    cost.backward()
    return [{k: v.grad.numpy() for k, v in layer.items()} for layer in leaves]


def assert_same(got, want, tolerance=1e-10):
    for l, (g, w) in enumerate(zip(got, want), start=1):
        assert sorted(g) == sorted(w)
        for name in w:
            np.testing.assert_allclose(np.asarray(g[name]), w[name], rtol=tolerance,
                                       atol=tolerance, err_msg=f"dC/d{name}_{l}")


@pytest.mark.parametrize("name", NETWORKS)
def test_the_numpy_module_agrees_with_pytorch_max_pool1d(name, rng):
    d = derived(name)
    f = symbp.lambdify(d)
    for _ in range(3):
        x, y, params = point(d.net, rng)
        assert_same(f.grad(x, y, params), torch_gradients(d.net, x, y, params))


@pytest.mark.parametrize("name", NETWORKS)
def test_the_numpy_module_agrees_with_central_differences(name, rng):
    d = derived(name)
    x, y, params = point(d.net, rng, batch=2)
    assert_central_differences(symbp.lambdify(d), x, y, params)


def test_the_forward_pass_is_pytorchs(rng):
    torch = pytest.importorskip("torch")
    d = derived("valid, pool 2")
    x, _, params = point(d.net, rng)
    F = torch.nn.functional
    a = F.max_pool1d(torch.tanh(F.conv1d(torch.tensor(x), torch.tensor(params[0]["W"]),
                                         torch.tensor(params[0]["b"]))), 2)
    a = a.reshape(len(x), -1).numpy()
    want = 1 / (1 + np.exp(-(a @ params[1]["W"].T + params[1]["b"])))
    np.testing.assert_allclose(symbp.lambdify(d).forward(x, params), want, rtol=1e-13)


def test_at_a_tie_the_gradient_goes_to_the_first_maximum(rng):
    """W_1 = 0: every position of z_1 is b_1, so every window is a tie. The code's gradient
    is then the one of taking each window's first entry: the first-maximum subgradient."""
    d = derived("valid, pool 2")
    x, y, params = point(d.net, rng)
    params[0]["W"] = np.zeros_like(params[0]["W"])
    first = torch_gradients(d.net, x, y, params, pool=lambda a, q: a[:, :, ::q])
    last = torch_gradients(d.net, x, y, params, pool=lambda a, q: a[:, :, q - 1::q])
    got = symbp.lambdify(d).grad(x, y, params)
    assert_same(got, first, 1e-12)
    assert not np.allclose(got[0]["W"], last[0]["W"])  # the tie is real: another subgradient


def test_the_torch_backend_runs_the_same_module(rng):
    pytest.importorskip("torch")
    d = derived("same, pool 3, then a pooled conv")
    x, y, params = point(d.net, rng)
    assert_same(symbp.lambdify(d, "torch").grad(x, y, params),
                symbp.lambdify(d).grad(x, y, params), 1e-12)


def _direct(s, g, q):
    """Max pooling of s (batch, channels, positions) and g routed back, by NumPy itself."""
    windows = s.reshape(*s.shape[:2], -1, q)
    rho = windows.argmax(-1)  # the first maximum
    routed = np.zeros_like(windows)
    np.put_along_axis(routed, rho[..., None], g[..., None], -1)
    return windows.max(-1), routed.reshape(s.shape)


@pytest.mark.parametrize("tie", [False, True])
def test_the_numba_loops_pool_and_route_to_the_first_maximum(tie, rng):
    """The loops numba compiles, run as plain Python (numba's compile of a whole kernel takes
    about 10 s): max pooling and its VJP, against NumPy's argmax, at a tie too."""
    r = derived("valid, pool 2").net.resolved[0]
    shape = r.maps.z.shape(r.sizes)
    batch, q = 3, r.sizes[POOL]
    s = rng.normal(size=(batch, *shape))
    if tie:
        s[:, :, 2] = s[:, :, 3]
    g = rng.normal(size=(batch, shape[0], shape[1] // q))
    want = _direct(s, g, q)
    for m, arrays, expected in ((r.maps.post, {"s": s}, want[0]),
                                (r.maps.delta_from_g, {"s": s, "g": g}, want[1])):
        lines = numba_lines(terms(m, r.sizes), {k: k for k in arrays}, "out")
        namespace: dict = {}
        exec("def run(batch, out, " + ", ".join(arrays) + "):\n" +
             "\n".join("    " + line for line in lines), namespace)
        out = np.zeros((batch, expected[0].size))
        namespace["run"](batch, out, *(a.reshape(batch, -1) for a in arrays.values()))
        np.testing.assert_array_equal(out, expected.reshape(batch, -1))


# ---------------------------------------------------------------- every size


@pytest.mark.slow  # about 3 s
def test_the_theorem_lemmas_hold_at_every_size():
    """The lemmas of the theorem for max-pooled layers, ρ opaque at a symbolic window q_l:
    identities of sums (``symbp prove examples/conv1d-maxpool.toml --general`` proves it)."""
    from test_conv1d_theorem import lemmas

    from symbp.proof import affine_sums

    found = lemmas({"pool": "max"})
    assert {k for k, _ in found} == {"base", "step", "W", "b"}
    assert any("WindowArgmax" in str(i.lhs) for (k, _), i in found.items() if k == "step")
    assert all(affine_sums.difference(i.lhs, i.rhs, i.ranges) == 0 for i in found.values())


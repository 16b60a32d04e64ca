"""Numeric code for attention, printed from its maps (``symbp.numeric.maps_staged``): every
backend against PyTorch's scaled_dot_product_attention and autograd at float64, central
differences, a stable softmax at scores that overflow exp, the module's fingerprint, and
training."""

from __future__ import annotations

import json

import numpy as np
import pytest

import symbp
from symbp import Layer
from symbp.cli.main import main
from symbp.numeric import gradient_check, maps, maps_staged

B, D, T, DK, DV = 3, 2, 4, 2, 3  # a batch of 3 sequences of 4 tokens of 2 channels


def network(causal: bool, inputs=(D, T), **options) -> symbp.Network:
    return symbp.Network(layers=[Layer("attention", causal=causal, **options),
                                 Layer("dense", units=2)], inputs=inputs)


_DERIVED: dict = {}


def derived(causal: bool):
    if causal not in _DERIVED:
        _DERIVED[causal] = symbp.derive(network(causal, key=DK, value=DV))
    return _DERIVED[causal]


_NUMPY: dict = {}


def numpy_gradients(causal: bool):
    """The NumPy module of ``derived(causal)``, printed once (half a second each); tests only
    call it."""
    if causal not in _NUMPY:
        _NUMPY[causal] = symbp.lambdify(derived(causal))
    return _NUMPY[causal]


def numbers(seed: int = 1, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    x = scale * rng.normal(size=(B, D, T))
    y = rng.uniform(size=(B, 2))
    params = [{"W": rng.normal(size=(D, DV)), "b": rng.normal(size=DV),
               "WQ": rng.normal(size=(D, DK)), "WK": rng.normal(size=(D, DK))},
              {"W": rng.normal(size=(2, DV * T)), "b": rng.normal(size=2)}]
    return x, y, params


def torch_gradients(causal: bool, x, y, params):
    """The cost and every gradient by torch's own attention and autograd, float64."""
    torch = pytest.importorskip("torch")
    t = [{k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in p.items()}
         for p in params]
    X = torch.tensor(x, dtype=torch.float64).transpose(1, 2)  # batch × tokens × channels
    Q, K, V = X @ t[0]["WQ"], X @ t[0]["WK"], X @ t[0]["W"] + t[0]["b"]
    A = torch.nn.functional.scaled_dot_product_attention(Q, K, V, is_causal=causal)
    a2 = torch.sigmoid(A.transpose(1, 2).reshape(len(x), -1) @ t[1]["W"].T + t[1]["b"])
    cost = 0.5 * ((a2 - torch.tensor(y, dtype=torch.float64)) ** 2).sum()
    cost.backward()
    return a2.detach().numpy(), [{k: v.grad.numpy() for k, v in p.items()} for p in t]


def assert_match(got, want, atol: float, rtol: float = 0.0) -> None:
    for l, (g, w) in enumerate(zip(got, want), start=1):
        assert list(g) == list(w)
        for name in w:
            np.testing.assert_allclose(np.asarray(g[name], dtype=float), w[name], rtol=rtol,
                                       atol=atol, err_msg=f"{name}_{l}")


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_gradients_match_torch_attention(causal, backend):
    pytest.importorskip(backend)
    x, y, params = numbers()
    out, want = torch_gradients(causal, x, y, params)
    f = numpy_gradients(causal) if backend == "numpy" else symbp.lambdify(derived(causal),
                                                                          backend=backend)
    assert_match(f(x, y, params), want, atol=1e-10)
    np.testing.assert_allclose(np.asarray(f.forward(x, params)), out, rtol=0, atol=1e-12)


@pytest.mark.slow  # derives three layers (about 3 s)
def test_stacked_heads_pass_the_gradient_back_through_queries_keys_and_values():
    # two heads: the first layer's gradients need the second's map back to its input
    torch = pytest.importorskip("torch")
    net = symbp.Network(layers=[Layer("attention", causal=True), Layer("attention"),
                                Layer("dense", units=2)], inputs=(2, 3))
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(2, 2, 3)), rng.uniform(size=(2, 2))
    params = [{name: rng.normal(size=shape) for name, shape in r.parameters.items()}
              for r in net.resolved]
    t = [{k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in p.items()}
         for p in params]
    a = torch.tensor(x, dtype=torch.float64)  # batch × channels × tokens
    for p, causal in zip(t[:2], (True, False)):
        X = a.transpose(1, 2)
        A = torch.nn.functional.scaled_dot_product_attention(
            X @ p["WQ"], X @ p["WK"], X @ p["W"] + p["b"], is_causal=causal)
        a = A.transpose(1, 2)
    a3 = torch.sigmoid(a.reshape(len(x), -1) @ t[2]["W"].T + t[2]["b"])
    (0.5 * ((a3 - torch.tensor(y, dtype=torch.float64)) ** 2).sum()).backward()
    want = [{k: v.grad.numpy() for k, v in p.items()} for p in t]
    assert_match(symbp.lambdify(symbp.derive(net))(x, y, params), want, atol=1e-10)


@pytest.mark.slow  # numba compiles the kernel (about 5 s)
@pytest.mark.parametrize("causal", [False, True])
def test_the_numba_kernel_matches_torch_attention(causal, tmp_path, monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setenv("SYMBP_CACHE_DIR", str(tmp_path))
    x, y, params = numbers(seed=2)
    _, want = torch_gradients(causal, x, y, params)
    assert_match(symbp.lambdify(derived(causal), backend="numba")(x, y, params), want,
                 atol=1e-10)


@pytest.mark.slow  # jax imports and traces (several seconds)
@pytest.mark.parametrize("causal", [False, True])
def test_jax_matches_torch_attention_at_its_precision(causal):
    jax = pytest.importorskip("jax")
    x, y, params = numbers(seed=3)
    _, want = torch_gradients(causal, x, y, params)
    got = symbp.lambdify(derived(causal), backend="jax")(x, y, params)
    precise = jax.config.jax_enable_x64
    assert_match(got, want, atol=1e-10 if precise else 1e-5, rtol=0 if precise else 1e-5)


@pytest.mark.parametrize("causal", [False, True])
def test_gradients_match_central_differences(causal):
    check = gradient_check.check_gradients(derived(causal), points=1, batch=2)
    assert check.ok, str(check)


def test_the_softmax_is_stable_where_exp_of_a_score_overflows():
    # scores near 10⁴: exp overflows float64 (inf / inf = nan) unless the row max is taken off
    x, y, params = numbers(seed=4, scale=60.0)
    for causal in (False, True):
        out, want = torch_gradients(causal, x, y, params)
        f = numpy_gradients(causal)
        got = f(x, y, params)
        assert all(np.isfinite(g[k]).all() for g in got for k in g)
        assert_match(got, want, atol=1e-9, rtol=1e-9)
        np.testing.assert_allclose(f.forward(x, params), out, rtol=0, atol=1e-12)


def test_the_module_says_why_its_shifted_softmax_is_the_same_function():
    text = numpy_gradients(True).source
    assert ("    # m: the row's largest score. exp(f(s) - m) / Σ_r exp(f(r) - m) is the softmax "
            "exp(f(s)) / Σ_r exp(f(r))\n    # (exp(-m) does not depend on r: it cancels), but no "
            "exp exceeds 1 and the sum is at least 1\n    # (m over the scores the mask keeps; "
            "a masked one, counted 0 times, is clamped at m: no inf · 0)\n") in text
    assert "np.max(" in text and "-np.inf" in text  # the causal mask: masked scores never count
    assert text == symbp.lambdify(symbp.derive(derived(True).net)).source  # deterministic


def test_its_maps_are_stages_and_a_stage_is_computed_once_per_map():
    r = derived(True).net.resolved[0]
    terms = maps.terms(dict(r.maps.all())["W"], r.sizes, batched_out=False)
    assert terms.terms == () and terms.staged is not None
    stages = terms.staged.stages
    # Q, K, S, the row max, exp, the row sum, P, dV, then ∂C/∂W_V; the scores S[t, s] of the
    # numerator and the S[t, r] of the denominator are one array
    assert [s.reduce for s in stages] == ["sum", "sum", "sum", "max", "", "sum", "", "sum",
                                          "sum"]
    assert stages[-1].axes == ((r.maps.param_vjps["W"].index[0], D),
                               (r.maps.param_vjps["W"].index[1], DV))


def test_what_it_cannot_print_is_refused_in_one_line():
    import sympy as sp

    from symbp.core.layers.base import Map, Tensor

    i, k = sp.symbols("i k", integer=True, positive=True)
    n = sp.Symbol("n", integer=True, positive=True)
    x, out = (Tensor(name, sp.IndexedBase(name), (n,)) for name in ("x", "out"))
    shifted = Map(out, (i,), sp.exp(sp.Sum(x.base[k + 1], (k, 1, n))), (x,))
    with pytest.raises(ValueError, match=r"^cannot print x\[_?k \+ 1\] as code"):
        maps_staged.staged(shifted, {n: 3}, True)
    part = Map(out, (i,), sp.exp(sp.Sum(x.base[k], (k, 1, i))), (x,))
    with pytest.raises(ValueError, match="runs over a whole axis, from 1"):
        maps_staged.staged(part, {n: 3}, True)
    other = Map(out, (i,), sp.sin(sp.Sum(x.base[k], (k, 1, n))), (x,))
    with pytest.raises(ValueError, match="exp, min, powers, numbers"):
        maps_staged.staged(other, {n: 3}, True)


@pytest.mark.slow  # derives, proves (local) and writes the module through the CLI
def test_the_module_carries_the_proofs_fingerprint(tmp_path):
    path = tmp_path / "attention.toml"
    path.write_text('inputs = [1, 2]\n[[layers]]\nkind = "attention"\ncausal = true\n'
                    '[[layers]]\nkind = "dense"\nunits = 1\n')
    assert main(["derive", str(path), "--method", "local", "--out", str(tmp_path / "out"),
                 "--format", "json,py", "--quiet"]) == 0
    proof = json.loads((tmp_path / "out" / "proof.json").read_text())
    module = (tmp_path / "out" / "gradients.py").read_text()
    from symbp.cli import config

    fingerprint = symbp.derive(config.load(path).net).program.fingerprint
    assert proof["fingerprint"] == fingerprint and proof["holds"]
    assert f"PROGRAM = {fingerprint!r}" in module and f"program {fingerprint}" in module


def test_it_trains_on_xor_shaped_data():
    net = network(False, inputs=(1, 2))
    report = symbp.train(net, "xor", epochs=20, backend="numpy")
    assert report.final.epoch == 20 and report.final.train_loss < report.history[0].train_loss

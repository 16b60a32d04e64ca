"""Numeric code for networks of layer kinds: the maps printer, the module API, every backend.

The printer (``symbp.numeric.maps``, ``maps_numba``) is checked against direct evaluation of
each map's index formula (``Map.entries``), on residual's maps and on a hand-made 1-D
convolution with its vector-Jacobian products (the flipped kernel written with a Piecewise
and with index-dependent sum bounds), same padding and a strided average pooling. The
generated modules are checked against central differences and PyTorch autograd on an
equivalent model of nn.Linear layers and the skip, and the numba kernel against NumPy.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import symbp
from symbp.core.layers import Layer, conv1d, dense, residual
from symbp.core.layers.base import Map, Tensor
from symbp.core.layers.written import written_out
from symbp.numeric import maps, maps_numba, maps_numpy
from symbp.numeric.codegen import module_source
from symbp.numeric.numba_codegen import numba_module_source
from tests.seeds import other_seed_env

# ---------------------------------------------------------------- direct evaluation


def direct(m: Map, sizes, values: dict, batched_out: bool) -> np.ndarray:
    """The map by its formula, sample by sample: ``Map.entries`` with every tensor entry
    looked up in the arrays (an index outside a tensor is an error there, never a 0)."""
    results = []
    for n in range(values[m.inputs[0].name].shape[0]):
        lookups = {t.name: _strict(values[t.name][n]) for t in m.inputs}
        lookups.update({t.name: _strict(values[t.name]) for t in m.params})
        entries = m.entries(sizes, lookups) if not _bounds_of_indices(m) else \
            _entries_index_first(m, sizes, lookups)
        results.append(np.array([float(e) for e in entries]).reshape(m.out.shape(sizes)))
    stacked = np.stack(results)
    return stacked.reshape(len(results), -1) if batched_out else stacked.sum(axis=0)


def _strict(array: np.ndarray):
    def entry(index: tuple[int, ...]) -> sp.Float:
        assert all(0 <= i < n for i, n in zip(index, array.shape)), (index, array.shape)
        return sp.Float(array[index])

    return entry


def _bounds_of_indices(m: Map) -> bool:
    return any(sp.sympify(b).free_symbols & set(m.index) for s in m.formula.atoms(sp.Sum)
               for _, lo, hi in s.limits for b in (lo, hi))


def _entries_index_first(m: Map, sizes, lookups) -> list:
    """``Map.entries`` for a sum whose bounds depend on an output index (Σ_(s = max(1, u - P +
    1))^(min(k, u))): the index point is put in before the sums are written out."""
    tensors = {t.base: t.name for t in (*m.inputs, *m.params)}
    found = []
    for point in np.ndindex(*m.out.shape(sizes)):
        at = {i: v + 1 for i, v in zip(m.index, point)}
        entry = written_out(m.formula.xreplace(sizes).xreplace(at))
        found.append(entry.replace(lambda e: isinstance(e, sp.Indexed) and e.base in tensors,
                                   lambda e: lookups[tensors[e.base]](
                                       tuple(int(i) - 1 for i in e.indices))))
    return found


def printed_numpy(m: Map, sizes, values: dict, batched_out: bool) -> tuple[np.ndarray, str]:
    t = maps.terms(m, sizes, batched_out)
    code = maps_numpy.numpy_code(t, {name: name for name in values}, "_C")
    namespace = {"np": np}
    exec(maps_numpy.GATHER, namespace)
    for name, text in code.constants.items():
        namespace[name] = eval(text, namespace)
    namespace.update({k: v.reshape(len(v), -1) if k in t.batched else v
                      for k, v in values.items()})
    return eval(code.code, namespace), code.code


def printed_loops(m: Map, sizes, values: dict, batched_out: bool) -> np.ndarray:
    """The numba loops run as plain Python (they are Python): the same lines numba compiles."""
    t = maps.terms(m, sizes, batched_out)
    lines = maps_numba.numba_lines(t, {name: name for name in values}, "out")
    batch = values[m.inputs[0].name].shape[0]
    out = np.empty((batch, m.out.size(sizes)) if batched_out else m.out.shape(sizes))
    namespace = {"np": np, "batch": batch, "out": out,
                 **{k: v.reshape(len(v), -1) if k in t.batched else v
                    for k, v in values.items()}}
    exec("\n".join(lines), namespace)
    return out


def random_values(m: Map, sizes, rng, batch=2) -> dict:
    values = {t.name: rng.normal(size=(batch, *t.shape(sizes))) for t in m.inputs}
    values.update({t.name: rng.normal(size=t.shape(sizes)) for t in m.params})
    return values


# ---------------------------------------------------------------- a hand-made 1-D convolution

C, O, N, K_ = sp.symbols("C O N k", integer=True, positive=True)
o, c, p, s, u = sp.symbols("o c p s u", integer=True, positive=True)
POSITIONS = N - K_ + 1  # valid padding
X = Tensor("x", sp.IndexedBase("x"), (C, N))
KERNEL = Tensor("K", sp.IndexedBase("K"), (O, C, K_))
BIAS = Tensor("b", sp.IndexedBase("b"), (O,))
DELTA = Tensor("delta", sp.IndexedBase("delta"), (O, POSITIONS))
INSIDE = sp.And(u - s + 1 >= 1, u - s + 1 <= POSITIONS)
CONV = {
    "z = K * x + b": (Map(Tensor("z", sp.IndexedBase("z"), (O, POSITIONS)), (o, p),
                          sp.Sum(KERNEL[o, c, s] * X[c, p + s - 1], (c, 1, C), (s, 1, K_))
                          + BIAS[o], (X,), (KERNEL, BIAS)), True),
    "dK = Σ_p δ x": (Map(Tensor("dK", sp.IndexedBase("dK"), (O, C, K_)), (o, c, s),
                         sp.Sum(DELTA[o, p] * X[c, p + s - 1], (p, 1, POSITIONS)),
                         (DELTA, X)), False),
    "db = Σ_p δ": (Map(Tensor("db", sp.IndexedBase("db"), (O,)), (o,),
                       sp.Sum(DELTA[o, p], (p, 1, POSITIONS)), (DELTA,)), False),
    "dx, flipped kernel, Piecewise": (
        Map(Tensor("dx", sp.IndexedBase("dx"), (C, N)), (c, u),
            sp.Sum(KERNEL[o, c, s] * sp.Piecewise((DELTA[o, u - s + 1], INSIDE), (0, True)),
                   (o, 1, O), (s, 1, K_)), (DELTA,), (KERNEL,)), True),
    "dx, flipped kernel, bounds": (
        Map(Tensor("dx", sp.IndexedBase("dx"), (C, N)), (c, u),
            sp.Sum(KERNEL[o, c, s] * DELTA[o, u - s + 1],
                   (s, sp.Max(1, u - POSITIONS + 1), sp.Min(K_, u)), (o, 1, O)),
            (DELTA,), (KERNEL,)), True),
    "same padding": (  # k = 3: positions p - 1, p, p + 1, zero outside
        Map(Tensor("z", sp.IndexedBase("z"), (O, N)), (o, p),
            sp.Sum(KERNEL[o, c, s] * sp.Piecewise(
                (X[c, p + s - 2], sp.And(p + s - 2 >= 1, p + s - 2 <= N)), (0, True)),
                (c, 1, C), (s, 1, K_)), (X,), (KERNEL,)), True),
    "average pooling, stride 2": (
        Map(Tensor("q", sp.IndexedBase("q"), (C, 3)), (c, p),
            sp.Rational(1, 2) * sp.Sum(X[c, 2 * p + s - 2], (s, 1, 2)), (X,)), True),
    "Kronecker delta": (
        Map(Tensor("v", sp.IndexedBase("v"), (C, N)), (c, u),
            sp.Sum(sp.KroneckerDelta(c, o) * X[o, u], (o, 1, C)), (X,)), True),
}
CONV_SIZES = {C: 2, O: 3, N: 7, K_: 3}


def residual_maps():
    found = []
    for projection in (False, True):
        kind_maps = residual.maps(Layer("residual", units=4 if projection else 3,
                                        projection=projection, activation="tanh"))
        sizes = kind_maps.sizes((3,))
        for name, m in kind_maps.all():
            found.append(pytest.param(m, sizes, name not in kind_maps.param_vjps,
                                      id=f"residual{'+P' if projection else ''}:{name}"))
    return found


def conv1d_maps():
    """The conv1d kind's own maps (``base.Inside`` for zero padding, a floor for pooling)."""
    found = []
    for padding, kernel, pool in (("valid", 3, "avg"), ("same", 3, "none"), ("same", 4, "avg")):
        kind_maps = conv1d.maps(Layer("conv1d", channels=3, kernel=kernel, padding=padding,
                                      pool=pool, **({"pool_size": 2} if pool == "avg" else {})))
        sizes = kind_maps.sizes((2, 8 if padding == "same" else 7))
        for name, m in kind_maps.all():
            found.append(pytest.param(m, sizes, name not in kind_maps.param_vjps,
                                      id=f"conv1d {padding} k={kernel} {pool}:{name}"))
    return found


MAPS = residual_maps() + conv1d_maps() + [
    pytest.param(m, CONV_SIZES, batched, id=f"conv1d: {name}")
    for name, (m, batched) in CONV.items()]


@pytest.mark.parametrize(("m", "sizes", "batched_out"), MAPS)
def test_the_printed_map_is_its_formula(m, sizes, batched_out, rng):
    values = random_values(m, sizes, rng)
    want = direct(m, sizes, values, batched_out)
    got, _ = printed_numpy(m, sizes, values, batched_out)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(printed_loops(m, sizes, values, batched_out), want, rtol=1e-13,
                               atol=1e-13)


def test_the_affine_maps_print_as_matrix_products():
    kind_maps = residual.maps(Layer("residual", units=4, projection=True))
    sizes = kind_maps.sizes((3,))
    names = {"x": "a1", "W": "W2", "b": "b2", "P": "P2", "g": "g2", "delta": "delta2"}
    codes = {name: maps_numpy.numpy_code(maps.terms(m, sizes, name not in kind_maps.param_vjps),
                                   names, "_C").code for name, m in kind_maps.all()}
    assert codes == {"pre": "a1 @ W2.T + b2", "skip": "a1 @ P2.T", "skip_vjp": "g2 @ P2",
                     "W": "np.dot(delta2.T, a1)", "b": "delta2.sum(axis=0)",
                     "P": "np.dot(g2.T, a1)", "input_vjp": "delta2 @ W2"}


def test_a_convolution_gathers_its_windows_and_pads_with_zeros():
    m, _ = CONV["dx, flipped kernel, Piecewise"]
    code = maps_numpy.numpy_code(maps.terms(m, CONV_SIZES), {"delta": "delta2", "K": "K2"}, "_D")
    # the Piecewise only says "inside δ": zero padding does that, so no mask is multiplied in
    assert code.code == ("np.einsum('nous,ocs->ncu', _gather(delta2.reshape(-1, 3, 5), 2, "
                         "_D_1), K2, optimize=True).reshape(-1, 14)")
    assert code.constants == {"_D_1": "_inside(-np.arange(1, 4).reshape(1, -1) + "
                                      "np.arange(1, 8).reshape(-1, 1), 5)"}
    assert maps.index_text(CONV["z = K * x + b"][0]) == \
        "z[o, p] = Σ_cs x[c, p + s - 1] K[o, c, s] + b[o]"


def test_zero_padding_and_pooling_print_as_gathers_and_integer_division():
    kind_maps = conv1d.maps(Layer("conv1d", channels=2, kernel=3, padding="same", pool="avg",
                                  pool_size=2))
    sizes = kind_maps.sizes((1, 4))
    pooled = maps.terms(kind_maps.delta_from_g, sizes)  # g[o, ⌊(u - 1)/2⌋ + 1] / 2
    code = maps_numpy.numpy_code(pooled, {"g": "g1"}, "_P")
    assert code.code == "(0.5 * _gather(g1.reshape(-1, 2, 2), 2, _P_1)).reshape(-1, 8)"
    assert code.constants == {"_P_1": "_inside(((np.arange(1, 5) - 1) // 2), 2)"}
    assert maps_numba.numba_lines(pooled, {"g": "g1"}, "out")[-1].strip() == \
        "out_v[i, o_, u_] += 0.5 * g1_v[i, o_, (u_ // 2)]"
    # x[c, t + s - 2] [1 <= t + s - 2 <= 4]: the bracket is the gather's zero slot, no mask
    code = maps_numpy.numpy_code(maps.terms(kind_maps.pre, sizes), {"x": "x", "W": "W1",
                                                                    "b": "b1"}, "_Z")
    assert code.code == ("(np.einsum('ncts,ocs->not', _gather(x.reshape(-1, 1, 4), 2, _Z_1), W1,"
                         " optimize=True) + b1[:, None]).reshape(-1, 8)")
    assert code.constants == {"_Z_1": "_inside(np.arange(1, 4).reshape(1, -1) + "
                                      "np.arange(1, 5).reshape(-1, 1) - 3, 4)"}


def test_a_floor_is_exact_integer_division_or_refused():
    assert maps.floor_parts(sp.floor(u / 2 + sp.Rational(1, 3))) == (3 * u + 2, 6)
    with pytest.raises(ValueError, match=r"^cannot print the index floor\(u/k\) as code: "
                                         r"a floor must be of an integer over a positive integer$"):
        maps.floor_parts(sp.floor(u / K_))


@pytest.mark.parametrize(("formula", "message"), [
    (sp.Max(X[c, u], 0), r"cannot print Max\(0, x\[c, u\]\) as code: a layer's map must be a "
                         r"sum of products"),
    (sp.tanh(X[c, u]), r"cannot print tanh\(x\[c, u\]\)"),
    (sp.Piecewise((X[c, u], X[c, u] > 0), (0, True)), r"its condition x\[c, u\] > 0 reads a "
                                                      r"tensor entry"),
    (X[c, o], r"uses the index o, which is neither an output index nor summed"),
])
def test_what_the_printer_cannot_read_is_named(formula, message):
    m = Map(Tensor("v", sp.IndexedBase("v"), (C, N)), (c, u), formula, (X,))
    with pytest.raises(ValueError, match=message):
        maps.terms(m, CONV_SIZES)


# ---------------------------------------------------------------- the oracle: PyTorch


def torch_gradients(net, x, y, params):
    """The gradient by autograd of the same network built from nn.Linear and the skip."""
    torch = pytest.importorskip("torch")
    functions = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
                 "softplus": lambda z: torch.logaddexp(z, torch.zeros_like(z)),
                 "identity": lambda z: z,
                 "softmax": lambda z: torch.softmax(z, dim=-1)}
    costs = {"mse": lambda a, t: 0.5 * ((a - t) ** 2).sum(),
             "bce": lambda a, t: -(t * torch.log(a) + (1 - t) * torch.log(1 - a)).sum(),
             "softmax_ce": lambda a, t: -(t * torch.log(a)).sum()}
    layers = []
    for r, given in zip(net.resolved, params):
        n_in, n_out = r.width_in, r.width
        linear = torch.nn.Linear(n_in, n_out).double()
        projection = torch.nn.Linear(n_in, n_out, bias=False).double() if "P" in given else None
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(given["W"]))
            linear.bias.copy_(torch.tensor(given["b"]))
            if projection is not None:
                projection.weight.copy_(torch.tensor(given["P"]))
        layers.append((r, linear, projection))
    a = torch.atleast_2d(torch.tensor(x))
    for r, linear, projection in layers:
        out = functions[r.maps.activation](linear(a))
        if r.kind.name == "residual":
            out = out + (projection(a) if projection is not None else a)
        a = out
    costs[net.cost](a, torch.atleast_2d(torch.tensor(y))).backward()
    found = []
    for _, linear, projection in layers:
        grads = {"W": linear.weight.grad.numpy(), "b": linear.bias.grad.numpy()}
        if projection is not None:
            grads["P"] = projection.weight.grad.numpy()
        found.append(grads)
    return found


NETWORKS = {
    "residual, identity skip": ([Layer("residual"), Layer("residual"), Layer("dense", units=2)],
                                3, "mse"),
    "residual with a projection": ([Layer("residual", units=4, projection=True,
                                          activation="sigmoid"),
                                    Layer("dense", units=2, activation="identity")], 3, "mse"),
    "mixed with dense, relu and softplus, bce": (
        [Layer("dense", units=4, activation="softplus"), Layer("residual", activation="relu"),
         Layer("residual", units=3, projection=True), Layer("dense", units=2)], 2, "bce"),
    "softmax with cross-entropy": ([Layer("residual", activation="tanh"),
                                    Layer("residual", units=2, projection=True,
                                          activation="tanh"),
                                    Layer("dense", units=3, activation="softmax")], 2,
                                   "softmax_ce"),
    "a residual output layer": ([Layer("dense", units=3), Layer("residual")], 2, "mse"),
}
DERIVED: dict = {}


def derived(name: str):
    if name not in DERIVED:
        layers, inputs, cost = NETWORKS[name]
        DERIVED[name] = symbp.derive(symbp.Network(layers=layers, inputs=inputs, cost=cost))
    return DERIVED[name]


def test_a_skip_is_copied_by_a_loop_not_an_array_slice_assignment():
    """numba compiles a shape check with a formatted error for x[:] = y (seconds of compile
    per kernel): a kind's skip copy is one loop over flat views instead."""
    from symbp.numeric.kinds_numba import module_source as numba_source

    source = numba_source(derived("residual, identity skip"))
    assert "a1_[q] = x_[q]" in source
    assert not re.search(r"\[:\] = [A-Za-z_]", source)


def point(net, rng, batch=4):
    x = rng.normal(size=(batch, net.widths[0]))
    n = net.widths[-1]
    y = (rng.dirichlet(np.ones(n), size=batch) if net.cost == "softmax_ce"
         else rng.uniform(0.05, 0.95, size=(batch, n)))
    params = [{name: rng.normal(scale=0.7, size=shape) for name, shape in r.parameters.items()}
              for r in net.resolved]
    return x, y, params


def assert_same(got, want, tolerance):
    assert len(got) == len(want)
    for l, (g, w) in enumerate(zip(got, want), start=1):
        assert list(g) == list(w)
        for name in w:
            np.testing.assert_allclose(g[name], w[name], rtol=tolerance, atol=tolerance,
                                       err_msg=f"dC/d{name}_{l}")


@pytest.mark.parametrize("name", NETWORKS)
def test_the_numpy_module_agrees_with_pytorch(name, rng):
    d = derived(name)
    f = symbp.lambdify(d)
    x, y, params = point(d.net, rng)
    assert_same(f.grad(x, y, params), torch_gradients(d.net, x, y, params), 1e-10)


@pytest.mark.parametrize("name", NETWORKS)
def test_the_numpy_module_agrees_with_central_differences(name):
    report = symbp.check_gradients(derived(name), points=2)
    assert report.ok, str(report)


def test_the_torch_backend_runs_the_same_module(rng):
    pytest.importorskip("torch")
    d = derived("softmax with cross-entropy")
    x, y, params = point(d.net, rng)
    got = symbp.lambdify(d, "torch").grad(x, y, params)
    got = [{k: np.asarray(v) for k, v in layer.items()} for layer in got]
    assert_same(got, symbp.lambdify(d).grad(x, y, params), 1e-12)


# ---------------------------------------------------------------- the module API


def test_the_module_api_forward_cost_grad_and_out(rng):
    d = derived("residual with a projection")
    f = symbp.lambdify(d)
    x, y, params = point(d.net, rng)
    a = f.forward(x, params)
    P, W, b = params[0]["P"], params[0]["W"], params[0]["b"]
    hidden = 1 / (1 + np.exp(-(x @ W.T + b))) + x @ P.T
    np.testing.assert_allclose(a, hidden @ params[1]["W"].T + params[1]["b"], rtol=1e-14)
    np.testing.assert_allclose(f.forward(x[0].tolist(), params), a[0], rtol=1e-14)
    assert f.cost(x, y, params) == pytest.approx(0.5 * np.sum((a - y) ** 2), rel=1e-14)
    grads = f.grad(x, y, params)
    assert [sorted(layer) for layer in grads] == [["P", "W", "b"], ["W", "b"]]
    out = [{k: np.empty_like(v) for k, v in layer.items()} for layer in grads]
    assert f.grad(x, y, params, out=out) is out
    assert_same(out, grads, 0)
    listed = [{k: v.tolist() for k, v in layer.items()} for layer in params]
    assert_same(f.grad(x.tolist(), y.tolist(), listed), grads, 1e-15)


@pytest.mark.parametrize(("change", "message"), [
    (lambda x, y, p: (x[:, :2], y, p), r"^x has shape \(4, 2\); expected \(3,\) for one sample "
                                       r"or \(batch, 3\), one sample per row$"),
    (lambda x, y, p: (x, y[:3], p), r"^y has shape \(3, 2\); expected \(4, 2\): the targets of "
                                    r"each of the 4 samples in x$"),
    (lambda x, y, p: (x, y, p[:1]), r"^params must hold 2 dicts, one per layer of the network; "
                                    r"got 1$"),
    (lambda x, y, p: (x, y, {"W": 1}), r"^params must be a list of 2 dicts, one per layer, "
                                       r"name -> array; got dict$"),
    (lambda x, y, p: (x, y, [{"W": p[0]["W"], "b": p[0]["b"]}, p[1]]),
     r"^params\[0\] \(layer 1\) has no 'P'; layer 1's parameters are W, b, P$"),
    (lambda x, y, p: (x, y, [p[0], {**p[1], "Q": 1}]),
     r"^params\[1\] \(layer 2\) has an unknown key 'Q'; layer 2's parameters are W, b$"),
    (lambda x, y, p: (x, y, [{**p[0], "P": p[0]["P"].T}, p[1]]),
     r'^params\[0\]\["P"\] \(P_1\) has shape \(3, 4\); expected \(4, 3\)$'),
    (lambda x, y, p: (x, y, [p[0], {**p[1], "b": "text"}]),
     r'^params\[1\]\["b"\] \(b_2\) must be an array of numbers; got str'),
    (lambda x, y, p: (x, y, [p[0], [1, 2]]),
     r"^params\[1\] \(layer 2\) must be a dict of its parameters W, b; got list$"),
])
def test_every_bad_argument_is_named(change, message, rng):
    d = derived("residual with a projection")
    x, y, params = point(d.net, rng)
    with pytest.raises(ValueError, match=message):
        symbp.lambdify(d).grad(*change(x, y, params))


def test_out_must_be_shaped_as_the_result(rng):
    d = derived("residual with a projection")
    f = symbp.lambdify(d)
    x, y, params = point(d.net, rng)
    with pytest.raises(ValueError, match=r'^out\[0\]\["P"\] \(dC/dP_1\) must be a writeable '
                                         r"float64 array of shape \(4, 3\); got float32"):
        f.grad(x, y, params, out=[{"W": np.empty((4, 3)), "b": np.empty(4),
                                   "P": np.empty((4, 3), np.float32)},
                                  {"W": np.empty((2, 4)), "b": np.empty(2)}])


def test_the_module_is_deterministic_and_says_what_it_runs():
    d = derived("residual with a projection")
    text = module_source(d)
    assert text == module_source(symbp.derive(d.net))
    assert "import numpy as np\n" in text and "numba" not in text
    for line in ("    params[0]: W (4, 3), b (4,), P (4, 3)",
                 "    layer 1: z[j] = Σ_k x[k] W[j, k] + b[j];",
                 "        a = sigmoid(z) + skip(a_(l-1)), skip: a[j] = Σ_k x[k] P[j, k]",
                 "    g_1 = W_2ᵀ δ_2", "    ∂C/∂P_1 = g_1 xᵀ",
                 "    # δ_1 = g_1 ⊙ sigmoid'(z_1)", "    delta1 = g1 * s1 * (1.0 - s1)",
                 '    return [{"W": dW1, "b": db1, "P": dP1}, {"W": dW2, "b": db2}]'):
        assert line in text, line
    program = subprocess.run([sys.executable, "-c", text + "\nprint(PROGRAM)"], check=True,
                             capture_output=True, text=True).stdout.strip()
    assert program == d.program.fingerprint


def test_what_is_generated_for_dense_networks_only_refuses_in_one_line():
    d = derived("residual, identity skip")
    with pytest.raises(ValueError, match=r"^the fused training step \(make_step\) is generated "
                                         r"for dense networks only; this one has layers of kind "
                                         r"residual$"):
        symbp.lambdify(d).make_step("sgd", 0.1)
    # order 2 of a residual network is derived per network (tests/test_kinds_second_order.py)
    assert type(symbp.derive(d.net, order=2)).__name__ == "KindsSecondDerivation"


def test_derive_writes_the_modules_for_layer_kinds(tmp_path, rng):
    from symbp.cli.main import main

    code = main(["derive", "--layers", "residual,residual,dense:2", "--inputs", "3", "--format",
                 "py,numba", "--out", str(tmp_path), "--quiet"])
    assert code in (0, 1)  # 1 while a route of the proof does not yet know residual blocks
    namespace: dict = {}
    exec((tmp_path / "gradients.py").read_text(), namespace)
    net = symbp.Network(layers=[Layer("residual"), Layer("residual"), Layer("dense", units=2)],
                        inputs=3)
    x, y, params = point(net, rng)
    assert_same(namespace["grad"](x, y, params), torch_gradients(net, x, y, params), 1e-10)
    assert "def _kernel(x, y, W1, b1, W2, b2, W3, b3):" in \
        (tmp_path / "gradients_numba.py").read_text()


def test_dense_networks_keep_their_module(default_derivation):
    text = module_source(default_derivation)
    assert "def grad(x, y, weights, biases, out=None):" in text and "LAYOUT" not in text
    assert dense.KIND.name == "dense" and symbp.Network().dense


# ---------------------------------------------------------------- numba


@pytest.fixture(scope="module")
def compiled():
    """One compiled numba module, shared: numba's compile is the slow part."""
    pytest.importorskip("numba")
    d = derived("softmax with cross-entropy")
    return d, symbp.lambdify(d, "numba")


@pytest.mark.slow
def test_the_numba_kernel_equals_numpy_and_pytorch(compiled, rng):
    d, f = compiled
    numpy_f = symbp.lambdify(d)
    for batch in (1, 5, 300):  # loops below the BLAS threshold, BLAS above
        x, y, params = point(d.net, rng, batch)
        assert_same(f.grad(x, y, params), numpy_f.grad(x, y, params), 1e-12)
        assert_same(f.grad(x, y, params), torch_gradients(d.net, x, y, params), 1e-10)
    x, y, params = point(d.net, rng, 1)
    assert_same(f.grad(x[0], y[0], params), numpy_f.grad(x, y, params), 1e-12)  # careful path
    out = [{k: np.empty_like(v) for k, v in layer.items()} for layer in params]
    assert f.grad(x, y, params, out=out) is out


def test_the_numba_kernel_prints_the_program_and_the_maps():
    d = derived("softmax with cross-entropy")
    text = numba_module_source(d)
    steps = [line.strip() for line in module_source(d).splitlines()
             if line.startswith("    # ") and " = " in line and "forward pass" not in line]
    kernel = text[text.index("def _kernel"):]
    assert [line.strip() for line in kernel.splitlines() if line.strip() in steps] == steps
    assert "P2[j, k]" in kernel  # the projection's VJP: g_2 P_2 by loops (small batches)
    assert "numba.njit((_MATRIX, _MATRIX, _MATRIX, _VECTOR, _MATRIX, _VECTOR, _MATRIX, " \
           "_MATRIX, _VECTOR)" in text


@pytest.mark.slow
def test_the_kernels_tanh_is_within_3_ulp():
    from symbp.numeric.numba_kernel import IMPORTS, PRELUDE

    namespace: dict = {"__name__": "tanh_check"}
    exec(IMPORTS + PRELUDE + "\n@_jit\ndef _all(z, out):\n    for q in range(z.size):\n"
         "        out[q] = _tanh(z[q])\n", namespace)
    rng = np.random.default_rng(1)
    z = np.concatenate([rng.normal(size=20000) * scale for scale in (1e-9, 1e-3, 0.3, 1, 4, 30)]
                       + [np.array([0.0, -0.0, 5e-324, 19.0, 800.0, -800.0, np.inf, -np.inf])])
    got = np.empty_like(z)
    namespace["_all"](z, got)
    want = np.tanh(z)
    assert np.all(np.abs(got - want) <= 3 * np.spacing(np.abs(want)))
    assert np.array_equal(np.signbit(got), np.signbit(want))
    nan = np.empty(1)
    namespace["_all"](np.array([np.nan]), nan)
    assert np.isnan(nan[0])


def test_a_sample_of_several_axes_is_one_flat_row():
    from symbp.numeric.arguments import LAYER_RUNTIME, fast_layer_check_source, runtime_source

    shapes = [{"K": (3, 2, 3), "b": (3,)}]
    namespace: dict = {"np": np, "LAYOUT": ((2, 7), (3, 5), tuple(shapes))}
    exec(fast_layer_check_source([[("K", "K1"), ("b", "b1")]], (2, 7), (3, 5), shapes)
         + runtime_source(LAYER_RUNTIME), namespace)
    check = namespace["_arguments"]
    rng = np.random.default_rng(0)
    x, y, K = rng.normal(size=(4, 2, 7)), rng.normal(size=(4, 3, 5)), rng.normal(size=(3, 2, 3))
    params = [{"K": K, "b": np.zeros(3)}]
    for given in ((x, y, params), (x.tolist(), y, [{"K": K.tolist(), "b": [0, 0, 0]}])):
        xs, ys, K1, _ = check(*given)  # the fast path, then the careful one
        assert xs.shape == (4, 14) and ys.shape == (4, 15) and K1.shape == (3, 2, 3)
        np.testing.assert_array_equal(xs[1], x[1].ravel())
    xs, ys, *_ = check(x[0], y[0], params)
    assert xs.shape == (1, 14) and ys.shape == (1, 15)
    with pytest.raises(ValueError, match=r"^x has shape \(4, 7, 2\); expected \(2, 7\) for one "
                                         r"sample or \(batch, 2, 7\), one sample per row$"):
        check(x.transpose(0, 2, 1), y, params)


@pytest.mark.slow
def test_numba_compiles_the_loops_of_a_convolution(rng):
    numba = pytest.importorskip("numba")
    for name, (m, batched_out) in CONV.items():
        values = random_values(m, CONV_SIZES, rng, batch=3)
        t = maps.terms(m, CONV_SIZES, batched_out)
        names = {v: v for v in values}
        lines = maps_numba.numba_lines(t, names, "out")
        namespace: dict = {"np": np}
        exec(f"def run(batch, {', '.join(names)}, out):\n"
             + "".join(f"    {line}\n" for line in lines), namespace)
        out = np.empty((3, m.out.size(CONV_SIZES)) if batched_out else m.out.shape(CONV_SIZES))
        flat = {k: v.reshape(3, -1) if k in t.batched else v for k, v in values.items()}
        numba.njit(namespace["run"])(3, *flat.values(), out)
        np.testing.assert_allclose(out, direct(m, CONV_SIZES, values, batched_out), rtol=1e-13,
                                   atol=1e-13, err_msg=name)


def test_the_code_is_the_same_in_every_process():
    code = ("import sys; sys.path.insert(0, 'tests'); import symbp, test_kinds_numeric as t; "
            "from symbp.numeric import maps, maps_numba, maps_numpy; "
            "m, _ = t.CONV['dx, flipped kernel, bounds']; terms = maps.terms(m, t.CONV_SIZES); "
            "print(maps_numpy.numpy_code(terms, {'delta': 'd', 'K': 'K'}, '_C')); "
            "print(maps_numba.numba_lines(terms, {'delta': 'd', 'K': 'K'}, 'out')); "
            "print(t.module_source(t.derived('softmax with cross-entropy')))")
    there = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                           text=True, env=other_seed_env()).stdout  # not this one's seed
    m, _ = CONV["dx, flipped kernel, bounds"]
    terms = maps.terms(m, CONV_SIZES)
    assert there == (f"{maps_numpy.numpy_code(terms, {'delta': 'd', 'K': 'K'}, '_C')}\n"
                     f"{maps_numba.numba_lines(terms, {'delta': 'd', 'K': 'K'}, 'out')}\n"
                     f"{module_source(derived('softmax with cross-entropy'))}\n")

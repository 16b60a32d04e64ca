"""Every backend of lambdify: the same gradients (torch autograd and central differences as
oracles), the same argument checks, wrong exactly when the recursion is wrong, no overflow."""

import re
import warnings
from fractions import Fraction

import numpy as np
import pytest
from differences import assert_central_differences
from oracles import assert_close, central_differences, random_point, torch_gradients
from test_prove import MUTANTS, SQUARE

import symbp
from symbp.numeric.numba_codegen import numba_module_source

BACKENDS = ["numpy", "numba", "jax", "torch"]
NET = symbp.Network([2, 3, 3, 2])
COMPILED: dict = {}  # (network, recursion, backend) -> NumericGradients, once per session


def gradients(backend, net=NET, recursion=symbp.backprop_deltas):
    if backend != "numpy":
        pytest.importorskip(backend)
    key = (net, recursion, backend)
    if key not in COMPILED:
        COMPILED[key] = symbp.lambdify(symbp.derive(net, recursion=recursion), backend)
    return COMPILED[key]


def as_numpy(grads):
    def array(g):
        return np.asarray(g.detach() if hasattr(g, "detach") else g, dtype=float)

    return {k: [array(g) for g in v] for k, v in grads.items()}


def close(backend):
    """jax computes in float32 unless jax_enable_x64 is set."""
    if backend == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            return {"rtol": 1e-4, "atol": 1e-5}
    return {"rtol": 1e-9}


# ---------------------------------------------------------------- the same gradients

RELU_SOFTMAX_CE = symbp.Network([3, 4, 2], "relu", "softmax_ce")
BCE = symbp.Network([2, 3, 1], ["tanh", "sigmoid"], "bce")
SOFTPLUS = symbp.Network([3, 3, 3], ["softmax", "softplus"], "mse")
SOFTMAX_CE = symbp.Network([20, 30, 3], ["sigmoid", "softmax"], "softmax_ce")
NETWORKS = [
    NET,  # sigmoid and mse
    RELU_SOFTMAX_CE,
    BCE,  # tanh, sigmoid and bce
    SOFTPLUS,  # softmax below the output, softplus
    symbp.Network([2, 4, 3], ["leaky_relu", "identity"], "mse"),  # leaky ReLU, identity
    SOFTMAX_CE,  # softmax and cross-entropy at the output; 600 samples take BLAS
    symbp.Network([10, 12, 9], ["relu", "leaky_relu"], "mse"),  # wide loops keeping z_l; relu
]


def _compiled(net):
    """numba compiles each network in seconds: it takes every network but RELU_SOFTMAX_CE,
    whose generated code is printed from forms the others print too (relu from the wide
    network, softmax with cross-entropy at the output from SOFTMAX_CE); jax takes all."""
    if net == RELU_SOFTMAX_CE:
        return ["jax"]
    return ["numba", "jax"]


def test_a_small_x_w_transpose_is_loops_at_every_batch(rng):
    """x Wᵀ with a W of at most NT_LOOPS entries has no BLAS branch (loops are as fast there,
    and the branch costs compile time): [2, 3, 3, 2]'s forward products are loops, and at a
    batch past the switch to BLAS the gradient still equals torch's."""
    pytest.importorskip("torch")
    source = numba_module_source(symbp.derive(NET))
    assert re.findall(r"np\.dot\(\w+, W\d\.T", source) == []
    point = random_point(NET, rng, 2000)
    assert_close(as_numpy(gradients("numba")(*point)), torch_gradients(NET, *point),
                 **close("numba"))


@pytest.mark.slow
@pytest.mark.parametrize(("net", "backend"), [(net, backend) for net in NETWORKS
                                              for backend in _compiled(net)],
                         ids=[f"{net!r}-{backend}" for net in NETWORKS
                              for backend in _compiled(net)])
def test_compiled_backends_equal_torch(backend, net, rng):
    pytest.importorskip("torch")
    f = gradients(backend, net)
    for batch in (None, 1, 7, 600):  # 600: past the kernel's switch from loops to BLAS
        point = random_point(net, rng, batch)
        assert_close(as_numpy(f(*point)), torch_gradients(net, *point), **close(backend))
        assert float(f.cost(*point)) == pytest.approx(
            float(gradients("numpy", net).cost(*point)), rel=close(backend)["rtol"])
    np.testing.assert_allclose(np.asarray(f.forward(point[0][0], *point[2:])),
                               gradients("numpy", net).forward(point[0][0], *point[2:]),
                               rtol=close(backend)["rtol"])


# ---------------------------------------------------------------- the same argument checks


def test_lists_and_odd_arrays_work(backend, rng):
    """Lists, tuples, float32 and int arrays, Fortran order, read-only arrays, one sample."""
    f, reference = gradients(backend), gradients("numpy")
    x, y, weights, biases = random_point(NET, rng, batch=4)
    frozen = [W.copy() for W in weights]
    for W in frozen:
        W.flags.writeable = False
    variants = [
        (x.tolist(), y.tolist(), [W.tolist() for W in weights], [b.tolist() for b in biases]),
        (x.astype(np.float32), y, tuple(weights), tuple(biases)),
        ((10 * x).astype(int), y, weights, biases),
        (np.asfortranarray(x), np.asfortranarray(y), [np.asfortranarray(W) for W in weights],
         biases),
        (x, y, frozen, biases),
        (x[0], y[0], weights, biases),  # one sample as (n_0,) and (n_L,)
    ]
    for args in variants:
        x_, y_, weights_, biases_ = args
        want = reference(np.atleast_2d(np.asarray(x_, dtype=float)),
                         np.atleast_2d(np.asarray(y_, dtype=float)),
                         [np.asarray(W, dtype=float) for W in weights_],
                         [np.asarray(b, dtype=float) for b in biases_])
        assert_close(as_numpy(f(*args)), want, **close(backend))


@pytest.fixture(params=[pytest.param(b, marks=pytest.mark.slow) if b == "numba" else b
                        for b in BACKENDS])
def backend(request):
    """Each backend; numba's first compile of a network takes a second or two: slow."""
    return request.param


W1, W2, W3 = (np.ones((3, 2)), np.ones((3, 3)), np.ones((2, 3)))
B1, B2, B3 = np.ones(3), np.ones(3), np.ones(2)
X, Y = np.ones((5, 2)), np.ones((5, 2))
BAD = [  # (x, y, weights, biases), what the message must say
    ((X, np.ones((5, 1)), [W1, W2, W3], [B1, B2, B3]), r"y has shape \(5, 1\); expected \(5, 2\)"),
    ((X, np.ones((4, 2)), [W1, W2, W3], [B1, B2, B3]), r"y has shape \(4, 2\); expected \(5, 2\)"),
    ((X, np.ones(3), [W1, W2, W3], [B1, B2, B3]), r"y has shape \(3,\); expected \(5, 2\)"),
    ((np.ones((5, 3)), Y, [W1, W2, W3], [B1, B2, B3]), r"x has shape \(5, 3\); expected \(2,\)"),
    ((np.ones((5, 2, 1)), Y, [W1, W2, W3], [B1, B2, B3]), r"x has shape \(5, 2, 1\)"),
    ((3.0, Y, [W1, W2, W3], [B1, B2, B3]), r"x has shape \(\); expected \(2,\)"),
    (("abc", Y, [W1, W2, W3], [B1, B2, B3]), r"x must be an array of numbers; got str"),
    ((X, [[1, 2], [3]], [W1, W2, W3], [B1, B2, B3]), r"y must be an array of numbers"),
    ((X, Y, [W1, W2], [B1, B2, B3]), r"weights must hold 3 arrays W_1..W_3, .* got 2"),
    ((X, Y, [W1, W2, W3, W3], [B1, B2, B3]), r"weights must hold 3 arrays W_1..W_3, .* got 4"),
    ((X, Y, None, [B1, B2, B3]), r"weights must be a list of 3 arrays W_1..W_3; got NoneType"),
    ((X, Y, "W1W2W3", [B1, B2, B3]), r"weights must be a list of 3 arrays .* got str"),
    ((X, Y, {"W1": W1}, [B1, B2, B3]), r"weights must be a list of 3 arrays .* got dict"),
    ((X, Y, [W1.T, W2, W3], [B1, B2, B3]),
     r"weights\[0\] \(W_1\) has shape \(2, 3\); expected \(3, 2\)"),
    ((X, Y, [W1, np.ones((3, 2)), W3], [B1, B2, B3]),
     r"weights\[1\] \(W_2\) has shape \(3, 2\); expected \(3, 3\)"),
    ((X, Y, [W1, W2, np.ones(6)], [B1, B2, B3]),
     r"weights\[2\] \(W_3\) has shape \(6,\); expected \(2, 3\)"),
    ((X, Y, [W1, W2, W3], [B1[:, None], B2, B3]),
     r"biases\[0\] \(b_1\) has shape \(3, 1\); expected \(3,\)"),
    ((X, Y, [W1, W2, W3], [B1, B2]), r"biases must hold 3 arrays b_1..b_3, .* got 2"),
    ((X, Y, [W1, W2, W3], [B1, B2, [[1.0], [2.0, 3.0]]]),
     r"biases\[2\] \(b_3\) must be an array of numbers"),
    ((X, Y, [W1, W2, W3], 7), r"biases must be a list of 3 arrays b_1..b_3; got int"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[m[:40] for _, m in BAD])
def test_bad_arguments_name_the_argument_and_shapes(backend, args, message):
    f = gradients(backend)
    with pytest.raises(ValueError, match=message):
        f(*args)
    x, _, weights, biases = args
    with pytest.raises(ValueError, match=message):
        f.cost(*args)
    if not message.startswith("y"):
        with pytest.raises(ValueError, match=message):
            f.forward(x, weights, biases)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"points": 0}, "points must be an integer from 1 to 1000; got 0"),
    ({"points": -2}, "points must be an integer from 1 to 1000; got -2"),
    ({"points": 2.5}, "points must be .* got 2.5"),
    ({"points": True}, "points must be .* got True"),
    ({"points": 10**9}, "points must be .* got 1000000000"),
    ({"batch": 0}, "batch must be an integer from 1 to 10000; got 0"),
    ({"batch": None}, "batch must be .* got None"),
    ({"seed": -1}, "seed must be a non-negative integer; got -1"),
    ({"seed": "0"}, "seed must be a non-negative integer; got '0'"),
    ({"h": 0}, "h must be a positive number, at most 1; got 0"),
    ({"h": -1e-6}, "h must be a positive number, at most 1; got -1e-06"),
    ({"h": float("nan")}, "h must be a positive number, at most 1; got nan"),
    ({"h": 10.0}, "h must be a positive number, at most 1; got 10.0"),
    ({"tolerance": -1}, "tolerance must be a positive number, finite; got -1"),
    ({"tolerance": float("inf")}, "tolerance must be a positive number, finite; got inf"),
    ({"backend": "cupy"}, "unknown backend 'cupy'; choose one of: numpy, numba, jax, torch"),
])
def test_check_gradients_refuses_nonsense(kwargs, message, default_derivation):
    with pytest.raises(ValueError, match=message):
        symbp.check_gradients(default_derivation, **kwargs)


# ---------------------------------------------------------------- the recursion that runs


# numba compiles each mutant's kernel in seconds: it runs one mutant of the step (a factor
# dropped) and one of the output delta; the index and order mutants print through the same
# statements of the program, and numpy, jax and torch run all four
NUMBA_MUTANTS = ("sigma' dropped in layer 2", "wrong cost derivative")


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "mutant"), [
    (backend, mutant) for backend in BACKENDS
    for mutant in ("sigma' dropped in layer 2", "W_{l+1} used for W_l", "layers 2 and 3 swapped",
                   "wrong cost derivative")
    if backend != "numba" or mutant in NUMBA_MUTANTS])
def test_a_wrong_recursion_is_wrong_under_every_backend(backend, mutant, rng):
    for recursion, ok in ((symbp.backprop_deltas, True), (MUTANTS[mutant][0], False)):
        f = gradients(backend, SQUARE, recursion)
        point = random_point(SQUARE, rng, batch=3)
        want = central_differences(SQUARE, *point)  # the oracle's own forward pass and cost
        try:
            assert_close(as_numpy(f(*point)), want, rtol=1e-5, atol=1e-6)
            agrees = True
        except AssertionError:
            agrees = False
        assert agrees is ok, (backend, mutant)
    report = symbp.check_gradients(symbp.derive(SQUARE, recursion=MUTANTS[mutant][0]),
                                   points=1, backend=backend)
    assert not report.ok and f"({backend})" in str(report)


# ---------------------------------------------------------------- numerically safe


def test_no_overflow_warning_and_no_nan_far_out(backend, rng):
    """Weights a thousand times too large: z in the thousands, exp would overflow."""
    # the networks compiled above (once per file): softplus, softmax in a hidden layer and
    # at the output with cross-entropy, sigmoid, tanh and bce
    for net in (SOFTPLUS, SOFTMAX_CE, BCE):
        f = gradients(backend, net)
        x, y, weights, biases = random_point(net, rng, batch=6)
        weights = [1000 * W for W in weights]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = as_numpy(f(x, y, weights, biases))
            np.asarray(f.forward(x, weights, biases))
        for g in [*got["W"], *got["b"]]:
            assert np.all(np.isfinite(g)), (backend, net)


def test_softmax_ce_with_an_output_that_underflows(backend):
    """a_j = 0 in floating point (z differs by 800) while y_j > 0: δ_L = a Σy - y, finite,
    equal to the gradient torch gets from the stable log_softmax."""
    torch = pytest.importorskip("torch")
    net = symbp.Network([2, 3], "softmax", "softmax_ce")
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([[0.2, 0.3, 0.5], [0.6, 0.4, 0.0]])
    W, b = np.array([[400.0, 0.0], [-400.0, 0.0], [0.0, 1.0]]), np.zeros(3)
    got = as_numpy(gradients(backend, net)(x, y, [W], [b]))
    Wt, bt = torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)
    logp = torch.log_softmax(torch.tensor(x) @ Wt.T + bt, dim=-1)
    (-(torch.tensor(y) * logp).sum()).backward()
    assert_close(got, {"W": [Wt.grad.numpy()], "b": [bt.grad.numpy()]}, **close(backend))


def test_bce_with_an_output_saturated_to_one(backend):
    """σ(z) = 1.0 in floating point (z = 40), y = 0.3: δ_L = a - y, where -y/a + (1-y)/(1-a)
    divides by zero; torch's stable binary_cross_entropy_with_logits agrees."""
    torch = pytest.importorskip("torch")
    net = symbp.Network([2, 1], "sigmoid", "bce")
    x, y = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.3], [0.6]])
    W, b = np.array([[40.0, -1.0]]), np.zeros(1)
    got = as_numpy(gradients(backend, net)(x, y, [W], [b]))
    Wt, bt = torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)
    logits = torch.tensor(x) @ Wt.T + bt
    torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor(y),
                                                         reduction="sum").backward()
    assert_close(got, {"W": [Wt.grad.numpy()], "b": [bt.grad.numpy()]}, **close(backend))


# ---------------------------------------------------------------- the one conversion


def _matrix(a):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.matrix(a)


def _objects(a, *item):
    """``a`` as an array of Python objects, its first entry replaced by ``item`` if given."""
    out = a.astype(object)
    if item:
        out.flat[0] = item[0]
    return out


ODD = [  # (name, how to change (x, y, weights, biases), the error; None: computed as float64)
    ("np.matrix weights", lambda x, y, W, b: (x, y, [_matrix(w) for w in W], b), None),
    ("np.matrix x", lambda x, y, W, b: (_matrix(x), y, W, b), None),
    ("bool weights", lambda x, y, W, b: (x, y, [w > 0 for w in W], b), None),
    ("float32", lambda x, y, W, b: (x, y, [w.astype(np.float32) for w in W], b), None),
    ("big-endian", lambda x, y, W, b: (x.astype(">f8"), y, [w.astype(">f8") for w in W], b),
     None),
    ("objects", lambda x, y, W, b: (x, y, [_objects(w) for w in W], b), None),
    ("fractions", lambda x, y, W, b: (x, y, [W[0], _objects(W[1], Fraction(1, 3)), W[2]], b),
     None),
    ("complex W_2", lambda x, y, W, b: (x, y, [W[0], W[1] + 0j, W[2]], b),
     r"^weights\[1\] \(W_2\) is complex; symbp computes in float64"),
    ("complex x", lambda x, y, W, b: (x + 1j, y, W, b), r"^x is complex"),
    ("complex object", lambda x, y, W, b: (x, y, W, [b[0], _objects(b[1], 1j), b[2]]),
     r"^biases\[1\] \(b_2\) is complex"),
    ("text", lambda x, y, W, b: (x, y, [W[0], W[1].astype(str), W[2]], b),
     r"^weights\[1\] \(W_2\) must be an array of numbers; got ndarray array\(\[\['"),
    ("text objects", lambda x, y, W, b: (x, y, [W[0], _objects(W[1], "1.5"), W[2]], b),
     r"^weights\[1\] \(W_2\) must be an array of numbers"),
    ("None", lambda x, y, W, b: (x, y, [W[0], _objects(W[1], None), W[2]], b),
     r"^weights\[1\] \(W_2\) must be an array of numbers"),
    ("ragged", lambda x, y, W, b: (x, y, W, [b[0], [[1.0], [2.0, 3.0]], b[2]]),
     r"^biases\[1\] \(b_2\) must be an array of numbers; got list \[\[1.0\], \[2.0, 3.0\]\]$"),
    ("a dict", lambda x, y, W, b: (x, y, [W[0], {"a": 1}, W[2]], b),
     r"^weights\[1\] \(W_2\) must be an array of numbers; got dict"),
]


@pytest.mark.parametrize(("name", "change", "error"), ODD, ids=[o[0] for o in ODD])
def test_every_backend_converts_or_refuses_alike(backend, name, change, error, rng):
    """np.matrix, bool, float32, objects: float64 gradients equal to those of the float64
    arrays; complex numbers, text, None, ragged lists: one line naming the argument, the same
    under every backend (numba and the generated modules included)."""
    f, reference = gradients(backend), gradients("numpy")
    point = random_point(NET, rng, batch=3)
    args = change(*point)
    if error is not None:
        for call in (lambda: f(*args), lambda: f.cost(*args)):
            with pytest.raises(ValueError, match=error) as info:
                call()
            assert "\n" not in str(info.value)
        return
    as_float = [np.asarray(a, dtype=float) for a in args[:2]], [
        [np.asarray(p, dtype=float) for p in params] for params in args[2:]]
    want = reference(*as_float[0], *as_float[1])
    assert_close(as_numpy(f(*args)), want, **close(backend))
    for g in [*f(*args)["W"], *f(*args)["b"]]:
        assert str(getattr(g, "dtype", "")) in ("float64", "torch.float64") or backend == "jax"


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_own_arrays_pass_as_they_are_and_are_checked_alike(backend, rng):
    """torch tensors and jax arrays take the fast path of their backend; a complex one is
    refused with the line every backend gives."""
    module = pytest.importorskip(backend)
    own = module.tensor if backend == "torch" else module.numpy.asarray
    f = gradients(backend)
    x, y, weights, biases = random_point(NET, rng, batch=2)
    want = gradients("numpy")(x, y, weights, biases)
    mine = (own(x), own(y), [own(W) for W in weights], [own(b) for b in biases])
    assert_close(as_numpy(f(*mine)), want, **close(backend))
    if backend == "torch":  # jax makes no complex array without being asked for x64
        with pytest.raises(ValueError, match=r"^weights\[2\] \(W_3\) is complex; symbp"):
            f(*mine[:2], [*mine[2][:2], own(weights[2] + 1j)], mine[3])


# ---------------------------------------------------------------- layer kinds under jax


@pytest.mark.parametrize("name", ["residual", "conv1d", "layernorm-mlp", "recurrent"])
def test_layer_kinds_under_jax_equal_central_differences(name):
    """jax hands a dict back with its keys sorted: a residual block's P, a recurrent layer's U
    came before W, and the module read them in that order (every gradient of such a layer
    was wrong or failed). The oracle: central differences of the NumPy module's cost."""
    pytest.importorskip("jax")
    from pathlib import Path

    from symbp.cli import config
    job = config.load(Path(__file__).resolve().parent.parent / "examples" / f"{name}.toml")
    d = symbp.derive(job.net)
    numpy_f, jax_f = symbp.lambdify(d), symbp.lambdify(d, "jax")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, *job.net.input_shape))
    y = rng.uniform(0.1, 0.9, size=(3, *job.net.resolved[-1].shape_out)).reshape(3, -1)
    params = [{k: rng.normal(size=s) * 0.5 for k, s in r.parameters.items()}
              for r in job.net.resolved]
    x64 = close("jax") == {"rtol": 1e-9}  # else float32: jax's default
    tolerance = {"rel": 1e-5, "abs": 1e-7} if x64 else {"rel": 1e-3, "abs": 1e-4}
    assert_central_differences(jax_f, x, y, params, cost=numpy_f.cost, **tolerance)
    # forward on a batch: every row (a 2-axis sample's batch reached jax's forward flat, was
    # taken for one sample, and only the first row came back), and on one sample
    expected = numpy_f.forward(x, params)
    assert np.asarray(jax_f.forward(x, params)) == pytest.approx(expected, **tolerance)
    assert np.asarray(jax_f.forward(x[0], params)) == pytest.approx(expected[0], **tolerance)

"""The fused training step and grad(..., out=): printed from the gradient's program, the same
numbers as the trainer's step to the last bit, PyTorch's and the textbook's optimisers to
1e-12, nothing allocated per step, and wrong exactly when the recursion is wrong."""

import re
import tracemalloc

import numpy as np
import pytest
from oracles import random_point, torch_gradients
from test_prove import MUTANTS, SQUARE
from test_train import textbook

import symbp
from symbp.numeric.codegen import module_source
from symbp.train import FusedStep, GradientStep, train
from symbp.train.loop import default_step
from symbp.train.optimizers import Optimizer
from symbp.train.parameters import Parameters

pytest.importorskip("numba")

# relu keeps z_1, a hidden layer of 9 >= WIDE sums δ_1 in its own loop, softmax_ce fuses δ_2
NET = symbp.Network([5, 9, 3], ["relu", "softmax"], "softmax_ce")
OPTIMIZERS = {"sgd": Optimizer("sgd", 0.1), "momentum": Optimizer("sgd", 0.05, momentum=0.9),
              "adam": Optimizer("adam", 0.01)}
BATCHES = (4, 1, 7, 3, 100)  # powers of two and not; 100 takes the BLAS branch of products
COMPILED: dict = {}
STEPS = re.compile(r"^ +# ((?:δ|v|∂C)\S* = .*)$", re.M)  # the recursion's equations


def compiled(net=NET, recursion=symbp.backprop_deltas, backend="numba"):
    key = (net, recursion, backend)
    if key not in COMPILED:
        d = symbp.derive(net, recursion=recursion)
        COMPILED[key] = (d, symbp.lambdify(d, backend))
    return COMPILED[key]


def fused_step(f, opt: Optimizer, batch=100):
    return f.make_step(opt.name, opt.learning_rate, momentum=opt.momentum, beta1=opt.beta1,
                       beta2=opt.beta2, eps=opt.eps, batch=batch)


def batches(net, rng, sizes=BATCHES):
    for n in sizes:
        x, y, _, _ = random_point(net, rng, batch=n)
        yield x, y


def start(net, rng) -> Parameters:
    params = Parameters(net.widths)
    params.flat[:] = rng.normal(scale=0.7, size=params.flat.size)
    return params


def both_steps(net, opt, rng, recursion=symbp.backprop_deltas, backend="numba"):
    """The fused step of ``recursion`` and the trainer's unfused one (its gradient by
    ``backend``, then the update) from one start on the same batches: the start, and for
    each (θ, buffers) at the end; the fused step's own gradients too."""
    _, f = compiled(net, recursion)
    _, reference = compiled(net, recursion, backend)
    first = start(net, rng)
    fused, unfused = first.copy(), first.copy()
    step = fused_step(f, opt)
    buffers = step.new_buffers()
    state = opt.new_state(fused.flat.size)
    trainer = GradientStep(reference, opt, fused.flat.size)
    gradients = []
    for t, (x, y) in enumerate(batches(net, rng), start=1):
        step(x, y, fused.flat, buffers, t)
        gradients.append(step.gradient.copy())
        trainer(x, y, unfused, state)
    assert state.step == len(BATCHES)
    return {"start": first.flat, "fused": (fused.flat, buffers),
            "unfused": (unfused.flat, state.buffers), "gradients": gradients}


# ---------------------------------------------------------------- the program it runs


def test_the_step_runs_the_program_of_the_gradient():
    d, f = compiled()
    fingerprint = d.program.fingerprint
    step = fused_step(f, OPTIMIZERS["adam"])
    assert step.program == fingerprint
    assert f"PROGRAM = {fingerprint!r}" in f.source
    assert f"running the statements of program {fingerprint}\nas grad does" in f.source
    into = f.source[f.source.index("def _gradient_into("):]
    into = into[:into.index("\n\n\n")]
    assert STEPS.findall(into) == STEPS.findall(module_source(d))
    assert "np.empty" not in into and "np.zeros" not in into  # every array is a buffer's view


def test_the_module_says_how_to_use_it():
    _, f = compiled()
    assert "make_step(optimizer, learning_rate,\n...) gives step(x, y, theta, buffers, t)" \
        in f.source
    assert "def grad(x, y, weights, biases, out=None):" in f.source


# ---------------------------------------------------------------- the same numbers


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_the_same_bits_as_the_trainers_step(name, rng):
    """Gradient then update, as the trainer computes them: the same operations in the same
    order (the gradient's statements, g / n, each product rounded once), so the same bits."""
    run = both_steps(NET, OPTIMIZERS[name], rng)
    (fused, buffers), (unfused, state) = run["fused"], run["unfused"]
    assert np.array_equal(fused, unfused)
    assert sorted(buffers) == sorted(state)
    for key in buffers:
        assert np.array_equal(buffers[key], state[key])


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_the_numpy_backend_differs_only_in_the_last_bits(name, rng):
    """The NumPy module computes the same gradient in other operations (BLAS sums in another
    order, exp from NumPy): equal to 1e-13 relative, not bit for bit."""
    run = both_steps(NET, OPTIMIZERS[name], rng, backend="numpy")
    np.testing.assert_allclose(run["fused"][0], run["unfused"][0], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_the_textbook_update_of_the_step_gradients(name, rng):
    """The hand NumPy update (the papers' formulas, tests/test_train.py) of the gradients the
    step reports, divided by the batch size, gives the step's parameters."""
    opt = OPTIMIZERS[name]
    run = both_steps(NET, opt, rng)
    means = [g / n for g, n in zip(run["gradients"], BATCHES)]
    hyper = {"lr": opt.learning_rate, "momentum": opt.momentum, "b1": opt.beta1,
             "b2": opt.beta2, "eps": opt.eps}
    np.testing.assert_allclose(run["fused"][0], textbook(opt.name, run["start"], means,
                                                         **hyper), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_pytorch_trains_the_same_parameters(name, rng):
    torch = pytest.importorskip("torch")
    opt = OPTIMIZERS[name]
    _, f = compiled()
    params = start(NET, rng)
    tensors = [torch.tensor(a, requires_grad=True) for a in (*params.weights, *params.biases)]
    if name == "adam":
        reference = torch.optim.Adam(tensors, lr=opt.learning_rate, betas=(opt.beta1,
                                                                          opt.beta2), eps=opt.eps)
    else:
        reference = torch.optim.SGD(tensors, lr=opt.learning_rate, momentum=opt.momentum)
    step = fused_step(f, opt)
    buffers = step.new_buffers()
    for t, (x, y) in enumerate(batches(NET, rng), start=1):
        step(x, y, params.flat, buffers, t)
        current = [a.detach().numpy() for a in tensors]
        g = torch_gradients(NET, x, y, current[:2], current[2:])
        for tensor, grad in zip(tensors, [*g["W"], *g["b"]]):
            tensor.grad = torch.from_numpy(grad / len(x))
        reference.step()
    for mine, theirs in zip([*params.weights, *params.biases], tensors):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-11, atol=1e-13)


# a step is the network's views of θ and its gradient, then an update of the flat θ that is
# the same code for every network (each optimizer's is tested on NET above): one optimizer
# per network, each of the step's two shapes (with and without buffers) on some network;
# each optimizer is a step function compiled of its own (~1 CPU-s)
@pytest.mark.slow  # a module compiled per network
@pytest.mark.parametrize(("net", "name"), [
    # one layer; test_numeric_backends compiles this network's module (numba's cache has it)
    (symbp.Network([2, 1], "sigmoid", "bce"), "sgd"),
    (symbp.Network([2, 3, 3], ["tanh", "softmax"], "mse"), "adam"),  # softmax's VJP, v_2 stored
    (symbp.Network([4, 12, 10, 3], ["softplus", "leaky_relu", "identity"], "mse"), "sgd"),  # wide
], ids=repr)
def test_every_kind_of_network_steps_as_the_trainer_does(net, name, rng):
    run = both_steps(net, OPTIMIZERS[name], rng)
    assert np.array_equal(run["fused"][0], run["unfused"][0]), name


def test_the_step_reports_the_gradient_of_the_summed_cost(rng):
    _, f = compiled()
    params = start(NET, rng)
    step = fused_step(f, OPTIMIZERS["sgd"])
    x, y = next(batches(NET, rng, (6,)))
    want = f.grad(x, y, params.weights, params.biases)
    step(x, y, params.flat.copy(), {}, 1)
    got = Parameters(NET.widths, step.gradient.copy())
    for a, b in zip([*got.weights, *got.biases], [*want["W"], *want["b"]]):
        assert np.array_equal(a, b)


def test_symbp_train_runs_the_fused_step_and_ends_where_the_unfused_one_does(rng):
    _, f = compiled()
    assert isinstance(default_step(f, OPTIMIZERS["adam"], 3, 84), FusedStep)
    assert isinstance(default_step(compiled(backend="numpy")[1], OPTIMIZERS["adam"], 3, 84),
                      GradientStep)
    data = (rng.normal(size=(30, 5)), rng.integers(0, 3, size=30).astype(float))
    for settings in ({"optimizer": "adam", "learning_rate": 0.1, "batch": 8},  # 8, 8, 8, 6
                     {"optimizer": "sgd", "momentum": 0.5, "learning_rate": 0.5, "batch": 7}):
        fused = train(NET, data, epochs=5, holdout=None, backend="numba", **settings)
        opt = fused.plan.optimizer
        unfused = train(NET, data, epochs=5, holdout=None, backend="numba", **settings,
                        step=GradientStep(f, opt, fused.params.flat.size))
        assert np.array_equal(fused.params.flat, unfused.params.flat)
        assert fused.history == unfused.history


# ---------------------------------------------------------------- nothing allocated


def traced_bytes(call, times: int) -> tuple[int, int]:
    """(bytes still held, the most held at once) over ``times`` calls of ``call``, as
    tracemalloc sees them: numba's runtime allocates through Python's raw allocator, so its
    arrays count too."""
    call()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(times):
            call()
        held, peak = tracemalloc.get_traced_memory()
        return held - base, peak - base
    finally:
        tracemalloc.stop()


def numba_allocations(call, times: int) -> int | None:
    """How many times numba's runtime allocated in ``times`` calls (None where this numba
    cannot count: the switch is internal)."""
    from numba.core.runtime import _nrt_python, rtsys

    if not hasattr(_nrt_python, "memsys_enable_stats"):
        return None
    _nrt_python.memsys_enable_stats()
    try:
        before = rtsys.get_allocation_stats().alloc
        for _ in range(times):
            call()
        return rtsys.get_allocation_stats().alloc - before
    finally:
        _nrt_python.memsys_disable_stats()


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_a_step_allocates_nothing(name, rng):
    """No array, in Python or in the kernel. What remains is numba's: each array argument is
    wrapped (a small struct) while the call runs, freed when it returns."""
    _, f = compiled()
    params = start(NET, rng)
    step = fused_step(f, OPTIMIZERS[name])
    buffers = step.new_buffers()
    x, y = next(batches(NET, rng, (100,)))  # every batch array is 2.4 kB or more

    def one():
        step(x, y, params.flat, buffers, 3)

    once, often = traced_bytes(one, 1), traced_bytes(one, 100)
    assert once[0] == often[0] == 0 and once[1] == often[1] < 1000, (once, often)
    arguments = 4 + len(buffers)  # x, y, theta, the buffers and scratch
    assert numba_allocations(one, 10) in (None, 10 * arguments)
    # the same checks see what allocates: the gradient kernel, the unfused step
    assert traced_bytes(lambda: f.grad(x, y, params.weights, params.biases), 1)[1] > 4 * len(x)
    made = numba_allocations(lambda: f.grad(x, y, params.weights, params.biases), 1)
    assert made is None or made > 6 + 4  # more than its 6 arguments and 4 results
    unfused = GradientStep(f, OPTIMIZERS[name], params.flat.size)
    state = OPTIMIZERS[name].new_state(params.flat.size)
    assert traced_bytes(lambda: unfused(x, y, params, state), 1)[1] > 8 * len(x)


# ---------------------------------------------------------------- a wrong recursion


@pytest.mark.parametrize("mutant", ["sigma' dropped in layer 2", pytest.param(
    "wrong cost derivative", marks=pytest.mark.slow)])  # each compiles a module: ~5 s
def test_a_wrong_recursion_gives_a_wrong_step_as_it_gives_a_wrong_gradient(mutant, rng):
    recursion = MUTANTS[mutant][0]
    d, f = compiled(SQUARE, recursion)
    right = symbp.derive(SQUARE)
    assert fused_step(f, OPTIMIZERS["sgd"]).program == d.program.fingerprint != \
        right.program.fingerprint
    run = both_steps(SQUARE, OPTIMIZERS["sgd"], rng, recursion)
    fused = run["fused"][0]
    assert np.array_equal(fused, run["unfused"][0])  # its own (wrong) gradient, then the update
    params = Parameters(SQUARE.widths, run["start"].copy())  # the right gradient, then the update
    state, rng = OPTIMIZERS["sgd"].new_state(params.flat.size), np.random.default_rng(12345)
    start(SQUARE, rng)  # the same batches: drawn after the start
    trainer = GradientStep(symbp.lambdify(right), OPTIMIZERS["sgd"], params.flat.size)
    for x, y in batches(SQUARE, rng):
        trainer(x, y, params, state)
    assert np.abs(fused - params.flat).max() > 1e-3
    np.testing.assert_allclose(params.flat, run["unfused"][0] * 0 + params.flat)


# ---------------------------------------------------------------- grad(..., out=)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_grad_writes_into_the_arrays_given(backend, rng):
    _, f = compiled(backend=backend)
    x, y, weights, biases = random_point(NET, rng, batch=5)
    out = {"W": [np.full_like(W, np.nan) for W in weights],
           "b": [np.full_like(b, np.nan) for b in biases]}
    arrays = [*out["W"], *out["b"]]
    assert f.grad(x, y, weights, biases, out=out) is out
    want = f.grad(x, y, weights, biases)
    for given, got, expected in zip(arrays, [*out["W"], *out["b"]], [*want["W"], *want["b"]]):
        assert given is got and np.array_equal(got, expected)
    f.grad(x[0].tolist(), y[0], weights, biases, out=out)  # converted, as without out
    assert np.array_equal(out["b"][1], f.grad(x[:1], y[:1], weights, biases)["b"][1])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize(("bad", "message"), [
    (lambda out: out["W"].__setitem__(1, np.zeros((3, 8))),
     r'^out\["W"\]\[1\] \(dC/dW_2\) must be a writeable float64 array of shape \(3, 9\)'
     r'(, C-contiguous)?; got float64 of shape \(3, 8\)$'),
    (lambda out: out["b"].__setitem__(0, np.zeros(9, dtype=np.float32)),
     r'^out\["b"\]\[0\] \(dC/db_1\) must be .*; got float32 of shape \(9,\)$'),
    (lambda out: out["b"][1].setflags(write=False), r"got float64 of shape \(3,\), read-only$"),
    (lambda out: out.pop("b"), r'^out must be a dict \{"W": \[...\], "b": \[...\]\} of 2 '),
    (lambda out: out["W"].pop(), r'^out\["W"\] must be a list of 2 arrays, one per layer'),
])
def test_a_bad_out_is_named_and_nothing_is_written(backend, bad, message, rng):
    _, f = compiled(backend=backend)
    x, y, weights, biases = random_point(NET, rng, batch=2)
    out = {"W": [np.zeros_like(W) for W in weights], "b": [np.zeros_like(b) for b in biases]}
    bad(out)
    with pytest.raises(ValueError, match=message):
        f.grad(x, y, weights, biases, out=out)
    assert not any(np.any(a) for a in [*out.get("W", []), *out.get("b", [])])


def test_numba_wants_contiguous_outputs_and_numpy_does_not(rng):
    x, y, weights, biases = random_point(NET, rng, batch=2)
    for backend, error in (("numpy", None), ("numba", "C-contiguous; got float64 of shape "
                                                      r"\(9, 5\), not C-contiguous")):
        out = {"W": [np.zeros(W.shape, order="F") for W in weights],
               "b": [np.zeros_like(b) for b in biases]}
        f = compiled(backend=backend)[1]
        if error is None:
            f.grad(x, y, weights, biases, out=out)
            assert np.array_equal(out["W"][0], f.grad(x, y, weights, biases)["W"][0])
        else:
            with pytest.raises(ValueError, match=error):
                f.grad(x, y, weights, biases, out=out)


# ---------------------------------------------------------------- bad input


def test_bad_settings_are_named():
    _, f = compiled()
    for call, message in [
        (lambda: f.make_step("rmsprop", 0.1), r"unknown optimizer 'rmsprop'; choose one of: "
                                              r"sgd, adam"),
        (lambda: f.make_step("sgd", -1.0), r"learning_rate must be a positive number; got -1"),
        (lambda: f.make_step("sgd", 0.1, momentum=1.0), r"momentum must be a number from 0 "),
        (lambda: f.make_step("adam", 0.1, eps=0), r"eps must be a positive number; got 0"),
        (lambda: f.make_step("sgd", 0.1, batch=0), r"batch must be a whole number from 1"),
        (lambda: compiled(backend="numpy")[1].make_step("sgd", 0.1),
         r"the fused training step is generated for backend 'numba', not 'numpy'"),
    ]:
        with pytest.raises(ValueError, match=message):
            call()


def test_bad_arguments_are_named_and_leave_theta_alone(rng):
    _, f = compiled()
    params = start(NET, rng)
    step = fused_step(f, OPTIMIZERS["adam"], batch=4)
    buffers = step.new_buffers()
    x, y = next(batches(NET, rng, (4,)))
    keep = params.flat.copy()
    for args, message in [
        ((x, y, params.flat.astype(np.float32), buffers, 1),
         r"^theta must be a writeable C-contiguous float64 array of shape \(84,\), updated in "
         r"place; got float32 of shape \(84,\)$"),
        ((x, y, params.flat, {"m": buffers["m"]}, 1),
         r"^buffers must be a dict with m, v \(new_buffers\(\) makes one\)"),
        ((x, y, params.flat, {**buffers, "v": np.zeros(3)}, 1), r"^buffers\['v'\] must be "),
        ((x, y, params.flat, buffers, 0), r"^t must be this step's number, a whole number "
                                          r"from 1; got 0$"),
        ((np.vstack([x, x]), y, params.flat, buffers, 1),
         r"^x has shape \(8, 5\); expected \(8, 5\): one sample per row, 1 to 4 samples "),
        ((x, y[:3], params.flat, buffers, 1), r"^y has shape \(3, 3\); expected \(4, 3\): .*, "
                                              r"as many as x$"),
        ((x, "y", params.flat, buffers, 1), r"^y must be an array of numbers; got str$"),
    ]:
        with pytest.raises(ValueError, match=message):
            step(*args)
        assert np.array_equal(params.flat, keep)
    assert not np.any(buffers["m"])
    step(x.tolist(), np.asfortranarray(y), params.flat, buffers, 1)  # converted
    expected = params.flat.copy()
    params.flat[:] = keep
    fused_step(f, OPTIMIZERS["adam"], batch=4)(x, y, params.flat, step.new_buffers(), 1)
    assert np.array_equal(params.flat, expected)

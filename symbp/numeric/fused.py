"""The fused training step: forward, backward and the optimiser's update in one numba kernel.

The generated numba module gains these, all printed from the program that ``grad`` prints
(the same ``CodeOps`` statements, through ``numba_codegen``'s ``Kernel``, which hands its
printed body to ``module_parts``: this module imports no printer of kernels), so they run
the program of the module's fingerprint:

- ``_gradient_into``: the kernel's statements with every array a view of a buffer it is
  given (``Buffers``): the activations and δ in one workspace, the gradients in the output
  arrays. ``grad(x, y, weights, biases, out=out)`` calls it.
- ``_sgd_step``, ``_momentum_step``, ``_adam_step``: ``_gradient_into`` on views of the flat
  parameters θ and of the step's flat gradient g, then the update of every parameter
  (``_sgd``, ``_momentum``, ``_adam``), in one compiled call that allocates no array. Each
  is compiled on first use (``_ready``): a module pays only for the optimiser it runs.
- ``TrainingStep`` and ``make_step``: the Python face of the kernels. Its buffers are made
  once, in one array (``scratch``: the coefficients, g, the workspace), so a call passes
  few arguments; it checks nothing numba does not check already (types) or the kernel
  (shapes), and only a call that fails takes the careful path that names the argument.

The update rules are ``symbp.train.optimizers``' formulas element by element, in the same
order of operations, compiled without ``contract`` (no fused multiply-add): each product
and sum is rounded once, as NumPy rounds it, so the step gives the same bits as the
trainer's gradient followed by its NumPy update. The mean over the batch, g / n, is
g · (1/n) when n is a power of two (the same number, and much faster) and a division
otherwise. The functions in ``UPDATES`` and ``RUNTIME`` are copied into every generated
numba module (``inspect.getsource``), as ``arguments.RUNTIME`` is.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from itertools import pairwise

import numpy as np

from .codegen import arguments_line, function
from .numba_loops import Arrays


class Buffers(Arrays):
    """The kernel's arrays as views of what it is given: each batch quantity a block of
    ``capacity`` rows in the workspace ``work`` (``width`` entries per sample in all), each
    gradient the output array of its name (zeroed where the kernel sums into it)."""

    def __init__(self, outputs):
        self.outputs = set(outputs)
        self.width = 0

    def new(self, name: str, shape: tuple, zero: bool = False) -> list[str]:
        if name in self.outputs:
            return [f"{name}[:] = 0.0"] if zero else []
        rows, width = shape
        if rows != "batch" or zero:  # the Kernel makes no other arrays
            raise ValueError(f"the fused step has no buffer for {name} of shape {shape}")
        start = f"{self.width} * capacity" if self.width else ""
        self.width += width
        return [f"{name} = work[{start}:{start}{' + ' if start else ''}batch * {width}]"
                f".reshape((batch, {width}))"]


def layout(widths) -> list[tuple[int, int, int]]:
    """(start of W_l, start of b_l, end of b_l) in the flat vector, l = 1..L."""
    found, start = [], 0
    for m, n in pairwise(widths):
        found.append((start, start + n * m, start + n * m + n))
        start += n * m + n
    return found


# ---------------------------------------------------------------- printed into the module


def module_parts(d, ops, kernel_body: Callable[[Arrays, list[str]], list[str]]):
    """What the fused step adds to the numba module: (Python functions, numba parts, a note
    for the docstring). ``kernel_body(arrays, checks)`` prints the kernel's statements."""
    widths, L = d.net.widths, d.L
    outputs = [ops.weight[l] for l in range(1, L + 1)] + [ops.bias[l] for l in range(1, L + 1)]
    buffers = Buffers(outputs)
    body = kernel_body(buffers, [
        "if not (batch <= capacity",
        *(f"        and {shape}" for shape in _output_shapes(widths, outputs)), "        ):",
        '    raise ValueError("the outputs do not have the shapes of the gradients, or work is '
        'too small")'])
    types = ["_MATRIX"] * (L + 2) + ["_VECTOR"] * L + ["_MATRIX"] * L + ["_VECTOR"] * (L + 1)
    numba_parts = [
        f"SIZE = {layout(widths)[-1][2]}  # numbers in the flat parameters theta: W_1 "
        f"(row-major), b_1, ..., W_L, b_L\nWORK = {buffers.width}  # workspace entries per "
        f"sample: the activations and δ\n_GRADIENT_TYPES = ({', '.join(types)})\n"
        "# no contract: every product rounded, as NumPy rounds it (fastmath=False said, for a\n"
        "# function called from a kernel otherwise inherits the kernel's flags)\n"
        '_exact = numba.njit(cache=_CACHE, error_model="numpy", fastmath=False)\n',
        "@_jit\n" + function(
            f"_gradient_into({arguments_line(L)}, {', '.join(outputs)}, work)",
            "dC/dW_l and dC/db_l, the cost summed over the batch, written into dW_l and db_l; "
            "the activations and δ in work (WORK entries per sample).",
            ["capacity = work.shape[0] // WORK", *body]),
        *(_step_source(d, outputs, rule) for rule in TrainingStep.BUFFERS),
        "_STEPS = {" + ", ".join(f'"{rule}": _{rule}_step' for rule in TrainingStep.BUFFERS)
        + "}\n",
        *(f"@_exact\n{inspect.getsource(f)}" for f in UPDATES)]
    functions = [_make_step_source(), _grad_into_source(L, outputs),
                 *(inspect.getsource(f) for f in RUNTIME)]
    note = ("\n\nFor a training loop of your own: grad(x, y, weights, biases, out=out) writes "
            "into the arrays\nof out (shaped as grad's result, float64, C-contiguous), and "
            "make_step(optimizer, learning_rate,\n...) gives step(x, y, theta, buffers, t): "
            "forward, backward and the optimiser's update\nof the flat parameters theta (SIZE "
            "numbers: W_1 row-major, b_1, ..., W_L, b_L) in one\ncompiled call that allocates "
            f"no array, running the statements of program {d.program.fingerprint}\nas grad "
            "does (see TrainingStep).")
    return functions, numba_parts, note


def _output_shapes(widths, outputs) -> list[str]:
    L = len(widths) - 1
    return [f"{outputs[l - 1]}.shape[0] == {widths[l]} and {outputs[l - 1]}.shape[1] == "
            f"{widths[l - 1]}" for l in range(1, L + 1)] + [
        f"{outputs[L + l - 1]}.shape[0] == {widths[l]}" for l in range(1, L + 1)]


def _step_source(d, outputs, rule: str) -> str:
    """``_<rule>_step(x, y, theta, *buffers, scratch)``: the gradient into views of g, then the
    update ``_<rule>``; scratch is [coefficients (HEAD), g (SIZE), workspace]."""
    widths, L, head = d.net.widths, d.L, TrainingStep.HEAD
    names = TrainingStep.BUFFERS[rule]
    views = []
    for l, (w, b, end) in enumerate(layout(widths), start=1):
        n, m = widths[l], widths[l - 1]
        views += [f"W{l} = theta[{w}:{b}].reshape(({n}, {m}))", f"b{l} = theta[{b}:{end}]",
                  f"{outputs[l - 1]} = g[{w}:{b}].reshape(({n}, {m}))",
                  f"{outputs[L + l - 1]} = g[{b}:{end}]"]
    sizes = "".join(f" and {name}.shape[0] == SIZE" for name in names)
    coefficients = ", ".join(f"scratch[{k}]" for k in range(TrainingStep.COEFFICIENTS[rule]))
    body = ["batch = x.shape[0]",
            f"if not (batch >= 1 and theta.shape[0] == SIZE{sizes}",
            f"        and scratch.shape[0] >= {head} + SIZE):",
            '    raise ValueError("theta, the buffers or scratch do not have the sizes of the '
            'step, or x is empty")',
            f"g = scratch[{head}:{head} + SIZE]",
            "# W_l, b_l and dC/dW_l, dC/db_l: views of theta and g",
            *views,
            f"_gradient_into({arguments_line(L)}, {', '.join(outputs)}, "
            f"scratch[{head} + SIZE:])",
            f"_{rule}(theta, g, {''.join(n + ', ' for n in names)}batch, {coefficients})"]
    what = {"sgd": "SGD", "momentum": "SGD with momentum", "adam": "Adam"}[rule]
    return "@_jit\n" + function(
        f"_{rule}_step(x, y, theta, {''.join(n + ', ' for n in names)}scratch)",
        f"One training step with {what}, in place (see TrainingStep); scratch holds the "
        "coefficients, the gradient of the cost summed over the batch and the workspace.", body)


def _make_step_source() -> str:
    return function(
        "make_step(optimizer, learning_rate, *, momentum=0.0, beta1=0.9, beta2=0.999, "
        "eps=1e-8, batch=32)",
        "A TrainingStep of this network for minibatches of up to ``batch`` samples, "
        "compiled on first use.",
        ["step = TrainingStep(WIDTHS, SIZE, WORK, PROGRAM, optimizer, learning_rate, momentum,",
         "                    beta1, beta2, eps, batch)",
         "_ready(_gradient_into, _GRADIENT_TYPES)",
         "types = (_MATRIX, _MATRIX) + (_VECTOR,) * (len(step.buffer_names) + 2)",
         "step.kernel = _ready(_STEPS[step.rule], types)",
         "return step"])


def _grad_into_source(L: int, outputs: list[str]) -> str:
    W = ", ".join(f"W{l}" for l in range(1, L + 1))
    b = ", ".join(f"b{l}" for l in range(1, L + 1))
    dW, db = ", ".join(outputs[:L]), ", ".join(outputs[L:])
    one = "," if L == 1 else ""
    return function(
        "_grad_into(x, y, weights, biases, out)",
        "grad(..., out=out): the gradients written into out's arrays (a workspace for the "
        "activations and δ is made per call; a TrainingStep makes none).",
        ["kernel = _ready(_gradient_into, _GRADIENT_TYPES)",
         "try:  # the fast path: float64 C-contiguous arrays of the right shapes",
         f"    {W}{one} = weights", f"    {b}{one} = biases",
         f'    {dW}{one} = out["W"]', f'    {db}{one} = out["b"]',
         f"    kernel({arguments_line(L)}, {', '.join(outputs)}, "
         "np.empty(x.shape[0] * WORK))",
         "except (AttributeError, KeyError, TypeError, ValueError):  # check, convert, name",
         "    arrays = [np.require(a, np.float64, ('C', 'W'))",
         "              for a in _arguments(x, y, weights, biases)]",
         "    kernel(*arrays, *_out_arrays(out, WIDTHS, True), np.empty(len(arrays[0]) * WORK))",
         "return out"])


# ---------------------------------------------------------------- copied into the module


def _ready(kernel, types):
    """``kernel`` compiled for ``types`` (from numba's cache when it is there) and closed to
    any others: another argument type is a TypeError, which the caller explains."""
    if not kernel.signatures:
        kernel.compile(types)
    kernel.disable_compile()
    return kernel


class TrainingStep:
    """One training step of this network: ``step(x, y, theta, buffers, t)``.

    Forward, backward and the optimiser's update of the flat parameters ``theta`` (float64,
    SIZE numbers: W_1 row-major, b_1, ..., W_L, b_L), in place, in one compiled call that
    allocates no array (numba only wraps each array argument while the call runs). x and y
    hold 1 to ``capacity`` samples, one per row (float64, C-contiguous, or they are
    converted); ``buffers`` are the optimiser's arrays (``new_buffers()``: "velocity" for SGD
    with momentum, "m" and "v" for Adam, none for plain SGD), updated in place; ``t`` is this
    step's number, 1 for the first (Adam's bias correction). After a call, ``gradient``
    holds the gradient of the cost summed over x (flat, as theta). The update is that of
    ``symbp.train.optimizers``, to the last bit. One step object serves one thread.
    """

    # read-only tables (the generated module imports nothing to annotate them with)
    BUFFERS = {"sgd": (), "momentum": ("velocity",), "adam": ("m", "v")}  # noqa: RUF012
    COEFFICIENTS = {"sgd": 1, "momentum": 2, "adam": 7}  # noqa: RUF012  # at the start of scratch
    HEAD = 8  # scratch: the coefficients (HEAD numbers), the gradient (SIZE), the workspace

    def __init__(self, widths, size, work, program, optimizer, learning_rate, momentum, beta1,
                 beta2, eps, batch):
        if not isinstance(optimizer, str) or optimizer not in ("sgd", "adam"):
            raise ValueError(f"unknown optimizer {optimizer!r}; choose one of: sgd, adam")
        for name, value, positive in (("learning_rate", learning_rate, True),
                                      ("momentum", momentum, False), ("beta1", beta1, False),
                                      ("beta2", beta2, False), ("eps", eps, True)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or \
                    not math.isfinite(value) or not (value > 0 if positive else 0 <= value < 1):
                what = "a positive number" if positive else "a number from 0 up to 1 (not 1)"
                raise ValueError(f"{name} must be {what}; got {value!r}")
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
            raise ValueError(f"batch must be a whole number from 1 or more; got {batch!r}")
        self.widths, self.size, self.capacity, self.program = widths, size, int(batch), program
        self.rule = "adam" if optimizer == "adam" else "momentum" if momentum else "sgd"
        self.buffer_names = self.BUFFERS[self.rule]
        self.rate, self.beta1, self.beta2 = float(learning_rate), float(beta1), float(beta2)
        self.scratch = np.zeros(self.HEAD + size + self.capacity * work)
        if self.rule == "adam":  # β₁, 1 − β₁, β₂, 1 − β₂, ε; per step η / (1 − β₁ᵗ), √(1 − β₂ᵗ)
            self.scratch[:5] = [beta1, 1.0 - beta1, beta2, 1.0 - beta2, eps]
        else:  # η, μ
            self.scratch[:2] = [learning_rate, momentum]
        self.gradient = self.scratch[self.HEAD:self.HEAD + size]
        self.kernel = None

    def new_buffers(self):
        """The optimiser's buffers at the start: zeros, by name."""
        return {name: np.zeros(self.size) for name in self.buffer_names}

    def __call__(self, x, y, theta, buffers, t):
        """One step on the samples x, y: theta and buffers updated in place."""
        try:
            if self.rule == "sgd":
                self.kernel(x, y, theta, self.scratch)
            elif self.rule == "momentum":
                self.kernel(x, y, theta, buffers["velocity"], self.scratch)
            else:
                scratch = self.scratch
                scratch[5] = self.rate / (1.0 - self.beta1**t)
                scratch[6] = math.sqrt(1.0 - self.beta2**t)
                self.kernel(x, y, theta, buffers["m"], buffers["v"], scratch)
        except (AttributeError, KeyError, TypeError, ValueError, ZeroDivisionError):
            x, y, named = self.explain(x, y, theta, buffers, t)
            self.kernel(x, y, theta, *named, self.scratch)

    def explain(self, x, y, theta, buffers, t):
        """x and y converted and the buffers by name; ValueError naming an argument that
        cannot be."""
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 1:
            raise ValueError(f"t must be this step's number, a whole number from 1; got {t!r}")
        if not isinstance(buffers, dict) or any(n not in buffers for n in self.buffer_names):
            raise ValueError(f"buffers must be a dict with {', '.join(self.buffer_names)} "
                             f"(new_buffers() makes one); got {buffers!r:.60}")
        named = [buffers[n] for n in self.buffer_names]
        for name, array in zip(("theta", *(f"buffers[{n!r}]" for n in self.buffer_names)),
                               (theta, *named)):
            if not (isinstance(array, np.ndarray) and array.dtype == np.float64 and
                    array.shape == (self.size,) and array.flags.c_contiguous and
                    array.flags.writeable):
                found = (f"{array.dtype} of shape {array.shape}" if isinstance(
                    array, np.ndarray) else type(array).__name__)
                raise ValueError(f"{name} must be a writeable C-contiguous float64 array of "
                                 f"shape ({self.size},), updated in place; got {found}")
        samples = []
        for name, value, width in (("x", x, self.widths[0]), ("y", y, self.widths[-1])):
            try:
                array = np.require(value, np.float64, ("C", "W"))
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be an array of numbers; got "
                                 f"{type(value).__name__}") from None
            array = array[None] if array.ndim == 1 else array
            rows = len(samples[0]) if samples else len(array)
            if array.ndim != 2 or array.shape[1] != width or len(array) != rows or \
                    not 1 <= rows <= self.capacity:
                raise ValueError(f"{name} has shape {array.shape}; expected ({rows}, {width}): "
                                 f"one sample per row, 1 to {self.capacity} samples "
                                 "(make_step's batch)" + (", as many as x" if samples else ""))
            samples.append(array)
        return samples[0], samples[1], named


def _sgd(theta, g, batch, rate):
    """θ ← θ − (η·(g / n)), g the gradient of the cost summed over the n samples."""
    # g / n as the trainer's g /= n: for n = 2^k, g * 2^-k is the same number as g / 2^k,
    # and a multiplication is much faster than a division
    exact, scale = batch & (batch - 1) == 0, 1.0 / batch
    for q in range(theta.shape[0]):
        mean = g[q] * scale if exact else g[q] / batch
        theta[q] -= mean * rate


def _momentum(theta, g, velocity, batch, rate, momentum):
    """v ← (μ·v) + (g / n), then θ ← θ − (η·v)."""
    exact, scale = batch & (batch - 1) == 0, 1.0 / batch  # as in _sgd
    for q in range(theta.shape[0]):
        mean = g[q] * scale if exact else g[q] / batch
        v = velocity[q] * momentum + mean
        velocity[q] = v
        theta[q] -= v * rate


def _adam(theta, g, m, v, batch, beta1, keep1, beta2, keep2, eps, step_size, root):
    """With ĝ = g / n: m ← (β₁·m) + ((1 − β₁)·ĝ), v ← (β₂·v) + ((1 − β₂)·(ĝ·ĝ)), then
    θ ← θ − (step_size·(m / ((√v / root) + ε))), step_size = η / (1 − β₁ᵗ), root = √(1 − β₂ᵗ)."""
    exact, scale = batch & (batch - 1) == 0, 1.0 / batch  # as in _sgd
    for q in range(theta.shape[0]):
        mean = g[q] * scale if exact else g[q] / batch
        mq = m[q] * beta1 + mean * keep1
        vq = v[q] * beta2 + (mean * mean) * keep2
        m[q], v[q] = mq, vq
        theta[q] -= mq / (math.sqrt(vq) / root + eps) * step_size


UPDATES = (_sgd, _momentum, _adam)  # numba functions in the module (without contract)
RUNTIME = (_ready, TrainingStep)  # Python in the module

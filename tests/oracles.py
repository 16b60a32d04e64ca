"""Independent numeric oracles: a plain NumPy forward pass and PyTorch autograd.

Nothing here imports symbp's registry or routes: the activations and costs are
written again from their textbook definitions so that a mistake in symbp cannot
hide in its own oracle.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

ACTIVATIONS = {
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "softplus": lambda z: np.log1p(np.exp(z)),
    "identity": lambda z: z,
    "softmax": lambda z: np.exp(z - z.max(-1, keepdims=True))
    / np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True),
}

COSTS = {
    "mse": lambda a, y: 0.5 * np.sum((a - y) ** 2),
    "bce": lambda a, y: -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)),
    "softmax_ce": lambda a, y: -np.sum(y * np.log(a)),
}


def random_point(net, rng, batch=None):
    """x, y, weights, biases for ``net``; targets valid for its cost."""
    n = net.widths
    shape_x = (n[0],) if batch is None else (batch, n[0])
    shape_y = (n[-1],) if batch is None else (batch, n[-1])
    x = rng.normal(size=shape_x)
    if net.cost == "softmax_ce":
        y = rng.dirichlet(np.ones(n[-1]), size=None if batch is None else batch)
    elif net.cost == "bce":
        y = rng.uniform(0.05, 0.95, size=shape_y)
    else:
        y = rng.normal(size=shape_y)
    weights = [rng.normal(scale=0.8, size=(n[l], n[l - 1])) for l in range(1, len(n))]
    biases = [rng.normal(scale=0.5, size=n[l]) for l in range(1, len(n))]
    return x, y, weights, biases


def cost(net, x, y, weights, biases) -> float:
    a, z = np.atleast_2d(x), None
    for name, W, b in zip(net.activations, weights, biases):
        z = a @ W.T + b
        a = ACTIVATIONS[name](z)
    y = np.atleast_2d(y)
    if net.cost == "bce" and net.activations[-1] == "sigmoid":
        # log σ(z) = -log(1 + e^-z) in z itself: log(1 - σ(z)) of a saturated σ loses every
        # digit (1 - σ = 1e-10 leaves 1e-6 of error in C, which central differences divide by h)
        return float(np.sum(y * np.logaddexp(0.0, -z) + (1 - y) * np.logaddexp(0.0, z)))
    return float(COSTS[net.cost](a, y))


KINKED = ("relu", "leaky_relu")  # no derivative at z = 0: differences across it are wrong


def near_a_kink(net, x, weights, biases, margin=1e-4) -> bool:
    """Whether some pre-activation of a ReLU-like layer lies within ``margin`` of its kink,
    where central differences of step h straddle the corner."""
    a = np.atleast_2d(x)
    for name, W, b in zip(net.activations, weights, biases):
        z = a @ W.T + b
        if name in KINKED and np.any(np.abs(z) < margin):
            return True
        a = ACTIVATIONS[name](z)
    return False


def central_differences(net, x, y, weights, biases, h=1e-6):
    """dC/dW_l and dC/db_l by (C(p + h) - C(p - h)) / 2h, entry by entry."""
    params = [*weights, *biases]
    grads = []
    for p in params:
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            keep = p[idx]
            p[idx] = keep + h
            up = cost(net, x, y, weights, biases)
            p[idx] = keep - h
            down = cost(net, x, y, weights, biases)
            p[idx] = keep
            g[idx] = (up - down) / (2 * h)
        grads.append(g)
    L = len(weights)
    return {"W": grads[:L], "b": grads[L:]}


def torch_gradients(net, x, y, weights, biases):
    import torch

    functions = {
        "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
        "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01),
        # not F.softplus: past its threshold (z > 20) it returns z itself, an approximation
        # off by e^-z, which is the 1e-9 a gradient through it then differs by
        "softplus": lambda z: torch.logaddexp(z, torch.zeros_like(z)), "identity": lambda z: z,
        "softmax": lambda z: torch.softmax(z, dim=-1),
    }
    costs = {
        "mse": lambda a, t: 0.5 * ((a - t) ** 2).sum(),
        "bce": lambda a, t: -(t * torch.log(a) + (1 - t) * torch.log(1 - a)).sum(),
        "softmax_ce": lambda a, t: -(t * torch.log(a)).sum(),
    }
    Ws = [torch.tensor(W, dtype=torch.float64, requires_grad=True) for W in weights]
    bs = [torch.tensor(b, dtype=torch.float64, requires_grad=True) for b in biases]
    a = torch.atleast_2d(torch.tensor(x, dtype=torch.float64))
    for name, W, b in zip(net.activations, Ws, bs):
        a = functions[name](a @ W.T + b)
    costs[net.cost](a, torch.atleast_2d(torch.tensor(y, dtype=torch.float64))).backward()
    return {"W": [W.grad.numpy() for W in Ws], "b": [b.grad.numpy() for b in bs]}


def symbolic_values(d, route, x, y, weights, biases, formulas=True):
    """Evaluate a route's symbolic gradients at one point with lambdify: through the
    explicit formulas, or (``formulas=False``, much faster on deep networks) through the
    opaque functions' own numeric forms."""
    from symbp import explicit

    symbols = [*d.x, *d.y]
    values = [*x, *y]
    for l in range(1, d.L + 1):
        symbols += [*d.weights(l), *d.biases(l)]
        values += [*weights[l - 1].ravel(), *biases[l - 1]]
    out = {"W": [], "b": []}
    for l in range(1, d.L + 1):
        for wrt in ("W", "b"):
            expr = d.grad(l, route, wrt)
            expr = explicit(expr) if formulas else expr
            # one scalar point: plain Python; cse prints each shared part once (the same
            # formulas, 3-7x faster to print, which was nearly all of this oracle's time)
            f = sp.lambdify(symbols, list(expr), modules="math", cse=True)
            value = np.asarray(f(*values), dtype=float)
            out[wrt].append(value.reshape(weights[l - 1].shape) if wrt == "W" else value.ravel())
    return out


def assert_close(got, want, rtol, atol=1e-12):
    for wrt in ("W", "b"):
        for l, (g, w) in enumerate(zip(got[wrt], want[wrt]), start=1):
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"d C / d {wrt}_{l}")


def doubled_output_error(ops):
    """backprop_deltas with ∂C/∂a_L doubled, for any layer kinds: every δ wrong by 2."""
    above = None
    for l in ops.layers():
        g = ops.scale(2, ops.cost_gradient()) if above is None else \
            ops.kind(l + 1).pass_back(ops, l + 1, above)
        above = ops.kind(l).backward(ops, l, g)


def skip_dropped(ops):
    """backprop_deltas with every residual block's highway (+ g_l) left out of its pass-back."""
    above = None
    for l in ops.layers():
        if above is None:
            g = ops.cost_gradient()
        elif ops.kind(l + 1).name == "residual":
            g = ops.transpose_times(l + 1, above.delta)
        else:
            g = ops.kind(l + 1).pass_back(ops, l + 1, above)
        above = ops.kind(l).backward(ops, l, g)


def passed_back_wrong(change):
    """backprop_deltas for any layer kinds, but what layer l + 1 passes back into layer l
    altered by ``change(ops, l, g, above)`` (``above``: what layer l + 1 bound): one planted
    mistake in the pass-back, written once."""
    def recursion(ops):
        above = None
        for l in ops.layers():
            g = ops.cost_gradient() if above is None else \
                change(ops, l, ops.kind(l + 1).pass_back(ops, l + 1, above), above)
            above = ops.kind(l).backward(ops, l, g)
    recursion.__name__ = getattr(change, "__name__", "passed_back_wrong")
    return recursion


# sympy.lambdify without its two walks of the whole tree (for symbols and for implemented
# functions): a derivation's Hessian shares subexpressions across its entries, and the walks
# took most of the time (4.1 CPU-s for the residual network's three Hessians, 0.5 without);
# given the entries as a list and use_imps=False it prints the same code from the same
# expressions, and a name the code would not know fails the call rather than change a value
def lambdified(args: Any, expr: Any, modules: str, **options: Any):
    """``sympy.lambdify(args, expr, modules)``: a Matrix comes back as a NumPy array of floats
    of its shape, an expression as its value."""
    if isinstance(expr, sp.MatrixBase):
        f = sp.lambdify(args, list(expr), modules=modules, use_imps=False, **options)
        shape = expr.shape
        return lambda *values: np.array(f(*values), dtype=float).reshape(shape)
    if isinstance(expr, list):
        return sp.lambdify(args, expr, modules=modules, use_imps=False, **options)
    f = sp.lambdify(args, [expr], modules=modules, use_imps=False, **options)
    return lambda *values: f(*values)[0]

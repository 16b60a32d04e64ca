"""Numeric gradients: the generated module, loaded as a callable, and a check against differences.

``lambdify`` execs exactly ``codegen.module_source(d)``; the jax and torch
backends run the same source with ``np`` bound to their array module.
"""

from __future__ import annotations

import importlib
import linecache
from dataclasses import dataclass

import numpy as np

from ..core.derivation import Derivation
from .codegen import module_source

BACKENDS = ("numpy", "jax", "torch")


class NumericGradients:
    """``grad(x, y, weights, biases)`` of one network -> ``{"W": [...], "b": [...]}``.

    x is (n_0,) or (batch, n_0), y likewise; the cost is summed over the batch.
    ``grad``, ``cost`` and ``forward`` are the generated module's functions
    (``grad`` is what a call runs: hand it to ``jax.jit``); ``source`` is its text.
    """

    def __init__(self, network, backend: str, source: str, namespace: dict):
        self.network, self.backend, self.source = network, backend, source
        self.grad = namespace["grad"]
        self.cost = namespace["cost"]
        self.forward = namespace["forward"]

    def __call__(self, x, y, weights, biases):
        return self.grad(x, y, weights, biases)

    def __repr__(self) -> str:
        return f"<numeric gradients of {self.network!r} ({self.backend})>"


def lambdify(d: Derivation, backend: str = "numpy") -> NumericGradients:
    """Fast numeric gradients of ``d``'s network, from the δ recursion as generated code."""
    if not isinstance(d, Derivation):
        raise ValueError(f"lambdify() needs a symbp.Derivation, got {type(d).__name__}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    array_module = _array_module(backend)
    source = module_source(d)
    filename = f"<symbp gradients {d.net.slug}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {"__name__": "symbp_gradients"}
    exec(compile(source, filename, "exec"), namespace)
    if array_module is not None:
        namespace["np"] = array_module  # the functions look np up when called
    return NumericGradients(d.net, backend, source, namespace)


def _array_module(backend: str):
    if backend == "numpy":
        return None
    package = {"jax": "jax.numpy", "torch": "torch"}[backend]
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise ValueError(f"backend {backend!r} needs the package {backend!r}, which is not "
                         f"installed (pip install {backend}); or use backend 'numpy'") from None
    return TorchAsNumPy(module) if backend == "torch" else module


class TorchAsNumPy:
    """The NumPy functions the registry's numeric forms call, on float64 torch tensors."""

    def __init__(self, torch):
        self._torch = torch

    def __getattr__(self, name):  # exp, log, tanh, ones_like, ... have NumPy's meaning
        return getattr(self._torch, name)

    def _tensor(self, value):
        return self._torch.as_tensor(value, dtype=self._torch.float64)

    def asarray(self, value, dtype=float):
        return self._tensor(value)

    def logaddexp(self, a, b):
        return self._torch.logaddexp(self._tensor(a), self._tensor(b))

    def maximum(self, a, b):
        return self._torch.maximum(self._tensor(a), self._tensor(b))

    def where(self, condition, a, b):
        return self._torch.where(condition, self._tensor(a), self._tensor(b))

    def sum(self, a, axis=None, keepdims=False):
        return a.sum() if axis is None else a.sum(dim=axis, keepdim=keepdims)

    def max(self, a, axis=None, keepdims=False):
        return a.max() if axis is None else a.amax(dim=axis, keepdim=keepdims)


# ---------------------------------------------------------------- checking


@dataclass(frozen=True)
class GradientCheck:
    """Numeric gradients against central differences at random points.

    ``worst`` is the largest |numeric − differences| / max(1, |numeric|, |differences|)
    (relative for entries above 1, absolute below), and ``where`` names its entry.
    """

    network: str
    points: int
    batch: int
    h: float
    worst: float
    where: str
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.worst <= self.tolerance

    def __str__(self) -> str:
        verdict = "match" if self.ok else "DO NOT match"
        return (f"numeric gradients of {self.network} {verdict} central differences "
                f"(h = {self.h:g}) at {self.points} random points of batch {self.batch}: "
                f"worst relative error {self.worst:.2e} at {self.where} "
                f"(tolerance {self.tolerance:g})")


def check_gradients(d: Derivation, points: int = 3, seed: int = 0, batch: int = 2,
                    h: float = 1e-6, tolerance: float = 1e-6) -> GradientCheck:
    """Compare ``lambdify(d)`` with central differences of its own cost at random points.

    Targets are the outputs of another random network, so they suit every cost.
    """
    f = lambdify(d)
    rng = np.random.default_rng(seed)
    worst, where = -1.0, "no entry"
    for point in range(1, points + 1):
        x, weights, biases = _random_network(d.net, rng, batch)
        y = f.forward(*_random_network(d.net, rng, batch))
        grads = f(x, y, weights, biases)
        for wrt, params in (("W", weights), ("b", biases)):
            for l, p in enumerate(params, start=1):
                for idx in np.ndindex(p.shape):
                    keep = p[idx]
                    p[idx] = keep + h
                    up = f.cost(x, y, weights, biases)
                    p[idx] = keep - h
                    down = f.cost(x, y, weights, biases)
                    p[idx] = keep
                    g, fd = grads[wrt][l - 1][idx], (up - down) / (2 * h)
                    error = abs(g - fd) / max(1.0, abs(g), abs(fd))
                    if not np.isnan(worst) and (np.isnan(error) or error > worst):
                        entry = ", ".join(str(i + 1) for i in idx)
                        worst, where = error, f"dC/d{wrt}_{l}[{entry}] (point {point})"
    return GradientCheck(repr(d.net), points, batch, h, float(worst), where, tolerance)


def _random_network(net, rng, batch):
    n = net.widths
    x = rng.normal(size=(batch, n[0]))
    weights = [rng.normal(scale=0.8, size=(n[l], n[l - 1])) for l in range(1, len(n))]
    biases = [rng.normal(scale=0.5, size=n[l]) for l in range(1, len(n))]
    return x, weights, biases

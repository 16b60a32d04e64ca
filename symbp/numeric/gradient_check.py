"""Numeric gradients against central differences of their own cost, at random points: the
check a user runs on a module whose recursion they wrote (``symbp.check_gradients``)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ..core.derivation import Derivation
from .backends import lambdify


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
    backend: str = "numpy"

    @property
    def ok(self) -> bool:
        return self.worst <= self.tolerance

    def __str__(self) -> str:
        verdict = "match" if self.ok else "DO NOT match"
        return (f"numeric gradients of {self.network} ({self.backend}) {verdict} central "
                f"differences (h = {self.h:g}) at {self.points} random points of batch "
                f"{self.batch}: worst relative error {self.worst:.2e} at {self.where} "
                f"(tolerance {self.tolerance:g})")


def check_gradients(d: Derivation, points: int = 3, seed: int = 0, batch: int = 2,
                    h: float = 1e-6, tolerance: float = 1e-6,
                    backend: str = "numpy") -> GradientCheck:
    """Compare ``lambdify(d, backend)`` with central differences of its own cost at random
    points. Targets are the outputs of another random network, so they suit every cost."""
    _require_count("points", points, 1000)
    _require_count("batch", batch, 10_000)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    for name, value, top in (("h", h, 1.0), ("tolerance", tolerance, math.inf)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
                not (0 < value <= top and math.isfinite(value)):
            limit = "at most 1" if top == 1.0 else "finite"
            raise ValueError(f"{name} must be a positive number, {limit}; got {value!r}")
    f = lambdify(d, backend)
    rng = np.random.default_rng(seed)
    worst, where = -1.0, "no entry"
    for point in range(1, points + 1):
        x, parameters = _random_network(d.net, rng, batch)
        other_x, other = _random_network(d.net, rng, batch)
        y = np.asarray(f.forward(other_x, *other), dtype=float)
        grads = f(x, y, *parameters)
        for name, l, p, computed in _entries(d.net, parameters, grads):
            computed = np.asarray(computed, dtype=float)
            for idx in np.ndindex(p.shape):
                keep = p[idx]
                p[idx] = keep + h
                up = float(f.cost(x, y, *parameters))
                p[idx] = keep - h
                down = float(f.cost(x, y, *parameters))
                p[idx] = keep
                g, fd = computed[idx], (up - down) / (2 * h)
                error = abs(g - fd) / max(1.0, abs(g), abs(fd))
                if not np.isnan(worst) and (np.isnan(error) or error > worst):
                    entry = ", ".join(str(i + 1) for i in idx)
                    worst, where = error, f"dC/d{name}_{l}[{entry}] (point {point})"
    return GradientCheck(repr(d.net), points, batch, h, float(worst), where, tolerance, backend)


def _entries(net, parameters, grads):
    """(name, l, the parameter, its computed gradient) for every parameter, W's before b's
    in a dense network, layer by layer in a network of layer kinds."""
    if net.dense:
        weights, biases = parameters
        for wrt, params in (("W", weights), ("b", biases)):
            for l, p in enumerate(params, start=1):
                yield wrt, l, p, grads[wrt][l - 1]
        return
    for l, layer in enumerate(parameters[0], start=1):
        for name, p in layer.items():
            yield name, l, p, grads[l - 1][name]


def _require_count(name: str, value, top: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or \
            not 1 <= int(value) <= top:
        raise ValueError(f"{name} must be an integer from 1 to {top}; got {value!r}")


def _random_network(net, rng, batch):
    """x and the parameters, random: (weights, biases) for a dense network, (params,) for a
    network of layer kinds."""
    n = net.widths
    x = rng.normal(size=(batch, *net.input_shape))
    if not net.dense:
        return x, ([{name: rng.normal(scale=0.8 if len(shape) > 1 else 0.5, size=shape)
                     for name, shape in r.parameters.items()} for r in net.resolved],)
    weights = [rng.normal(scale=0.8, size=(n[l], n[l - 1])) for l in range(1, len(n))]
    biases = [rng.normal(scale=0.5, size=n[l]) for l in range(1, len(n))]
    return x, (weights, biases)

"""Central differences of the cost, the oracle that shares nothing with the chain rule, for
the numeric gradients of a network of layer kinds (one dict of parameters per layer)."""

from __future__ import annotations

import numpy as np
import pytest


def assert_central_differences(f, x, y, params, h: float = 1e-6) -> None:
    """Every entry of ``f.grad(x, y, params)`` equals (C(θ + h) − C(θ − h)) / 2h of
    ``f.cost``, entry by entry (``params`` is changed and put back)."""
    got = f.grad(x, y, params)
    for l, layer in enumerate(params):
        for name, value in layer.items():
            for idx in np.ndindex(value.shape):
                keep = value[idx]
                value[idx] = keep + h
                up = f.cost(x, y, params)
                value[idx] = keep - h
                down = f.cost(x, y, params)
                value[idx] = keep
                assert got[l][name][idx] == pytest.approx((up - down) / (2 * h), rel=1e-6,
                                                          abs=1e-8), (l + 1, name, idx)

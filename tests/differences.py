"""Central differences of the cost, the oracle that shares nothing with the chain rule, for
the numeric gradients of a network of layer kinds (one dict of parameters per layer)."""

from __future__ import annotations

import numpy as np
import pytest


def assert_central_differences(f, x, y, params, h: float = 1e-6, *, cost=None,
                               rel: float = 1e-6, abs: float = 1e-8) -> None:
    """Every entry of ``f.grad(x, y, params)`` equals (C(θ + h) − C(θ − h)) / 2h of ``cost``
    (``f.cost`` unless given: another backend's, when f computes in float32), entry by
    entry; ``params`` is changed and put back."""
    cost = f.cost if cost is None else cost
    got = f.grad(x, y, params)
    for l, layer in enumerate(params):
        assert list(got[l]) == list(layer)  # by name, in the module's order
        for name, value in layer.items():
            for idx in np.ndindex(value.shape):
                keep = value[idx]
                value[idx] = keep + h
                up = cost(x, y, params)
                value[idx] = keep - h
                down = cost(x, y, params)
                value[idx] = keep
                assert float(np.asarray(got[l][name])[idx]) == pytest.approx(
                    (up - down) / (2 * h), rel=rel, abs=abs), (l + 1, name, idx)

"""The parameters of a network as one flat vector, with W_l and b_l as views into it.

The order is W_1 (row-major), b_1, ..., W_L, b_L, as for the Hessian. One vector lets an
optimiser update every parameter in a few whole-array operations, and a fused step write
into the same memory the generated gradient reads.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import numpy as np

from ..core.network import Network


class Parameters:
    """``flat`` holds every parameter; ``weights[l-1]`` and ``biases[l-1]`` are views of it."""

    def __init__(self, widths: tuple[int, ...], flat: np.ndarray | None = None):
        self.widths = tuple(widths)
        size = sum(n * (m + 1) for m, n in pairwise(self.widths))
        self.flat = np.zeros(size) if flat is None else flat
        if self.flat.shape != (size,) or self.flat.dtype != np.float64:
            raise ValueError(f"parameters of widths {list(self.widths)} are {size} float64 "
                             f"numbers; got {self.flat.dtype} of shape {self.flat.shape}")
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []
        start = 0
        for m, n in pairwise(self.widths):
            self.weights.append(self.flat[start:start + n * m].reshape(n, m))
            start += n * m
            self.biases.append(self.flat[start:start + n])
            start += n

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """``{"W1": ..., "b1": ..., ...}``: the parameters by name (views)."""
        named = {}
        for l, (W, b) in enumerate(zip(self.weights, self.biases), start=1):
            named[f"W{l}"], named[f"b{l}"] = W, b
        return named

    def copy(self) -> Parameters:
        return Parameters(self.widths, self.flat.copy())


def _normal(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    return rng.normal(size=(n, m))


def _xavier(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    bound = np.sqrt(6.0 / (m + n))
    return rng.uniform(-bound, bound, size=(n, m))


def _he(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    return rng.normal(scale=np.sqrt(2.0 / m), size=(n, m))


# name: (draw W_l of shape (n_l, n_(l-1)), what it is); biases always start at 0
INITS: dict[str, tuple[Callable[[np.random.Generator, int, int], np.ndarray], str]] = {
    "normal": (_normal, "every weight from N(0, 1)"),
    "xavier": (_xavier, "W_l uniform on (-r, r), r = sqrt(6 / (n_(l-1) + n_l)) (Glorot and "
                        "Bengio)"),
    "he": (_he, "W_l from N(0, 2 / n_(l-1)) (He et al.)"),
}


def initial(net: Network, init: str, rng: np.random.Generator) -> Parameters:
    """Fresh parameters: W_1, ..., W_L drawn in order from ``rng``, every b_l at 0."""
    params = Parameters(net.widths)
    draw = INITS[init][0]
    for W in params.weights:
        W[...] = draw(rng, *W.shape)
    return params

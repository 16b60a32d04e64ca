"""The parameters of a network as one flat vector, each layer's arrays views into it.

The order is layer 1's arrays in its kind's order (a dense layer: W_1 row-major, then b_1),
then layer 2's, and so on: W_1, b_1, ..., W_L, b_L for a dense network, as for the Hessian.
One vector lets an optimiser update every parameter in a few whole-array operations, and a
step write into the same memory the generated gradient reads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise

import numpy as np

from ..core.network import Network

Shapes = Sequence[Mapping[str, tuple[int, ...]]]  # per layer, name -> shape


class Parameters:
    """``flat`` holds every parameter (of ``shapes``: per layer, name -> shape; or of the
    widths of a dense network); ``layers[l-1]`` is layer l's {name: view of flat}, as
    the generated module of layer kinds takes them; ``weights`` and ``biases`` are the
    views of W_l and b_l, as the module of a dense network takes them."""

    def __init__(self, shapes: Shapes | Sequence[int], flat: np.ndarray | None = None,
                 dense: bool = True):
        layers: list[Mapping] = list(shapes)  # type: ignore[arg-type]
        if all(isinstance(n, int) for n in layers):  # the widths of a dense network
            layers = [{"W": (n, m), "b": (n,)} for m, n in pairwise(layers)]
        self.shapes = tuple({name: tuple(shape) for name, shape in layer.items()}
                            for layer in layers)
        self.dense = dense
        size = sum(math.prod(s) for layer in self.shapes for s in layer.values())
        self.flat = np.zeros(size) if flat is None else flat
        if self.flat.shape != (size,) or self.flat.dtype != np.float64:
            raise ValueError(f"these parameters are {size} float64 numbers; got "
                             f"{self.flat.dtype} of shape {self.flat.shape}")
        self.layers: list[dict[str, np.ndarray]] = []
        start = 0
        for layer in self.shapes:
            views = {}
            for name, shape in layer.items():
                count = math.prod(shape)
                views[name] = self.flat[start:start + count].reshape(shape)
                start += count
            self.layers.append(views)

    @classmethod
    def of(cls, net: Network) -> Parameters:
        """Zeros of every parameter of ``net``."""
        return cls([r.parameters for r in net.resolved], dense=net.dense)

    @property
    def weights(self) -> list[np.ndarray]:
        return [layer["W"] for layer in self.layers]

    @property
    def biases(self) -> list[np.ndarray]:
        return [layer["b"] for layer in self.layers]

    @property
    def arguments(self) -> tuple:
        """What the generated module takes after x (and y): weights and biases for a dense
        network, the list of the layers' dicts for one of layer kinds."""
        return (self.weights, self.biases) if self.dense else (self.layers,)

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """``{"W1": ..., "b1": ..., "P2": ...}``: the parameters by name and layer (views)."""
        return {f"{name}{l}": view for l, layer in enumerate(self.layers, start=1)
                for name, view in layer.items()}

    def copy(self) -> Parameters:
        return Parameters(self.shapes, self.flat.copy(), self.dense)


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan-in, fan-out) of a weight of ``shape`` = (outputs, inputs, *window): the inputs
    and the outputs each weight touches, PyTorch's convention (a matrix (n, m): m and n)."""
    window = math.prod(shape[2:])
    return shape[1] * window, shape[0] * window


def _normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.normal(size=shape)


def _xavier(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    fan_in, fan_out = fans(shape)
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=shape)


def _he(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.normal(scale=np.sqrt(2.0 / fans(shape)[0]), size=shape)


# name: (draw a weight of a shape, what it is for dense layers, for layer kinds); biases
# (and every other parameter of one axis) always start at 0
INITS: dict[str, tuple[Callable[[np.random.Generator, tuple[int, ...]], np.ndarray], str,
                       str]] = {
    "normal": (_normal, "every weight from N(0, 1)", "every weight from N(0, 1)"),
    "xavier": (_xavier, "W_l uniform on (-r, r), r = sqrt(6 / (n_(l-1) + n_l)) (Glorot and "
                        "Bengio)",
               "each weight array uniform on (-r, r), r = sqrt(6 / (fan-in + fan-out)) "
               "(Glorot and Bengio; a kernel K[o, c, s] has fan-in C_in k, fan-out C_out k)"),
    "he": (_he, "W_l from N(0, 2 / n_(l-1)) (He et al.)",
           "each weight array from N(0, 2 / fan-in) (He et al.; a kernel K[o, c, s] has "
           "fan-in C_in k)"),
}


def initial(net: Network, init: str, rng: np.random.Generator) -> Parameters:
    """Fresh parameters: every array of two or more axes (W_l, a kernel, a projection P_l)
    drawn in order, layer by layer, from ``rng``; every other one (b_l) at 0."""
    params = Parameters.of(net)
    draw = INITS[init][0]
    for layer in params.layers:
        for view in layer.values():
            if view.ndim >= 2:
                view[...] = draw(rng, view.shape)
    return params

"""A network in SymPy symbols: parameters, layered quantities and the composed forward pass.

Layered symbols (z^{(l)}_j, a^{(l)}_j, δ^{(l)}_j) are what documents show and
what the expansion and the recursion are written in; ``compose`` substitutes
the forward pass, turning a layered expression into one in x, y, W and b only.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import cached_property
from math import prod

import sympy as sp

from . import layers
from .naming import Names
from .network import Network


class NetworkSymbols:
    """The symbols of one network and its forward pass, both as layered symbols and composed."""

    def __init__(self, net: Network):
        if not isinstance(net, Network):
            raise ValueError(f"derive() needs a symbp.Network, got {type(net).__name__}")
        self.net = net
        self.names = Names(net.widths)
        n = net.widths
        self.x = sp.Matrix([self.names.input(k, net.input_shape) for k in range(1, n[0] + 1)])
        self.y = sp.Matrix([self.names.target(j, net.resolved[-1].shape_out)
                            for j in range(1, n[-1] + 1)])
        # every parameter of every layer as a matrix of symbols: its first axis the rows,
        # the others the columns (a bias is a column)
        self._params: dict[int, dict[str, sp.Matrix]] = {
            r.index: {name: self._parameter(r.index, name, shape)
                      for name, shape in r.parameters.items()} for r in net.resolved}
        self._weights = {l: params["W"] for l, params in self._params.items()}
        self._biases = {l: params["b"] for l, params in self._params.items()}
        self._z = {l: self._layer_symbols(self.names.preactivation, l, "z")
                   for l in self.layers}
        self._a = {l: self._layer_symbols(self.names.activation, l) for l in self.layers}
        self._delta = {l: self._layer_symbols(self.names.delta, l, "z") for l in self.layers}
        self._g = {l: self._layer_symbols(self.names.grad, l) for l in self.layers}

    # ------------------------------------------------------------ symbols

    @property
    def L(self) -> int:
        """Number of layers with weights."""
        return self.net.L

    @property
    def layers(self) -> range:
        """1, ..., L."""
        return range(1, self.net.L + 1)

    def _parameter(self, l: int, name: str, shape: tuple[int, ...]) -> sp.Matrix:
        rows = shape[0]
        cols = 1
        for n in shape[1:]:
            cols *= n
        if name == "W" and len(shape) == 2:  # int(): SymPy Integers print into a name slowly
            return sp.Matrix(rows, cols, lambda j, k: self.names.weight(l, int(j) + 1, int(k) + 1))
        if name == "b" and len(shape) == 1:
            return sp.Matrix([self.names.bias(l, j) for j in range(1, rows + 1)])
        word = self.net.resolved[l - 1].kind.words.get(name, "")
        entries = [self.names.parameter(l, name, index, word)
                   for index in itertools.product(*[range(1, n + 1) for n in shape])]
        return sp.Matrix(rows, cols, entries)

    def layer_parameters(self, l: int) -> dict[str, sp.Matrix]:
        """Every parameter of layer l by name (W, b, and P, ... as its kind has them)."""
        return self._params[self.check_layer(l)]

    def _layer_symbols(self, make: Callable[[int, int, tuple[int, ...]], sp.Symbol], l: int,
                       tensor: str = "a") -> sp.Matrix:
        """Layer l's symbols for its output a (n_l of them) or its pre-activation z, each named
        by its entry's index in the tensor's shape."""
        r = self.net.resolved[l - 1]
        shape = tuple(r.shape_out if tensor == "a" else r.maps.z.shape(r.sizes))
        return sp.Matrix([make(l, j, shape) for j in range(1, prod(shape) + 1)])

    def check_layer(self, l: object, allow_input: bool = False) -> int:
        """``l`` if it is a layer index (0 too with ``allow_input``); ValueError otherwise."""
        low = 0 if allow_input else 1
        if isinstance(l, bool) or not isinstance(l, int) or not low <= l <= self.L:
            raise ValueError(f"layer must be an integer from {low} to {self.L}; got {l!r}")
        return l

    def weights(self, l: int) -> sp.Matrix:
        """W_l, the n_l × n_{l-1} matrix of weight symbols."""
        return self._weights[self.check_layer(l)]

    def biases(self, l: int) -> sp.Matrix:
        """b_l, the column of bias symbols."""
        return self._biases[self.check_layer(l)]

    def z_symbols(self, l: int) -> sp.Matrix:
        """z_l as layered symbols."""
        return self._z[self.check_layer(l)]

    def a_symbols(self, l: int) -> sp.Matrix:
        """a_l as layered symbols; a_0 is the input x."""
        return self.x if self.check_layer(l, allow_input=True) == 0 else self._a[l]

    def delta_symbols(self, l: int) -> sp.Matrix:
        """δ_l as layered symbols."""
        return self._delta[self.check_layer(l)]

    def grad_symbols(self, l: int) -> sp.Matrix:
        """g_l = ∂C/∂a_l as layered symbols (bound where a layer's skip passes it back)."""
        return self._g[self.check_layer(l)]

    @property
    def latex_names(self) -> dict[sp.Symbol, str]:
        """Every symbol's LaTeX name, for the printer."""
        return self.names.latex

    # ------------------------------------------------------------ forward pass

    @cached_property
    def _forward(self) -> tuple[dict[int, sp.Matrix], dict[int, sp.Matrix]]:
        z, a = {}, {0: self.x}
        for r in self.net.resolved:
            l = r.index
            if r.kind.name == "dense":  # the seed's layer, entry by entry:
                W, b, inputs = self._weights[l], self._biases[l], a[l - 1]
                z[l] = sp.Matrix([sp.Add(*[W[j, k] * inputs[k] for k in range(W.cols)], b[j])
                                  for j in range(W.rows)])  # a matrix product is slow on symbols
                a[l] = sp.Matrix(self.net.activation(l).apply(list(z[l])))
                continue
            zs, outs = layers.forward(r, list(a[l - 1]), self._params[l],
                                      self.net.activation(l).apply)
            z[l], a[l] = sp.Matrix(zs), sp.Matrix(outs)
        return z, a

    def forward_statements(self, l: int) -> tuple[list[sp.Expr], list[sp.Expr]]:
        """z_l from its pre map (a scan reads σ of its own z one step back) and a_l from σ,
        post and skip, in layered symbols: what layer l's kind computes, one layer deep."""
        r = self.net.resolved[l - 1]
        x, params = list(self.a_symbols(l - 1)), self.layer_parameters(l)
        apply = self.net.activation(l).apply
        zs = list(self.z_symbols(l))
        if r.kind.name == "dense":
            W, b = params["W"], params["b"]
            pre = [sp.Add(*[W[j, k] * x[k] for k in range(W.cols)], b[j]) for j in range(W.rows)]
        else:
            values = layers.lookups(r, x, params)
            if r.maps.pre.own is not None:
                shape = r.maps.z.shape(r.sizes)
                values[r.maps.pre.own.name] = \
                    lambda i: apply([zs[layers.flat(i, shape)]])[0]
            pre = r.maps.pre.entries(r.sizes, values)
        return pre, layers.output(r, zs, x, params, apply)

    def composed_z(self, l: int) -> sp.Matrix:
        """z_l as an expression in x, W and b."""
        return self._forward[0][self.check_layer(l)]

    def composed_a(self, l: int) -> sp.Matrix:
        """a_l as an expression in x, W and b."""
        return self._forward[1][self.check_layer(l, allow_input=True)]

    def composed_cost(self) -> sp.Expr:
        """C as one expression in x, y, W and b (built once: the direct route of every layer
        differentiates this one expression)."""
        return self._composed_cost

    @cached_property
    def _composed_cost(self) -> sp.Expr:
        return self.net.cost_entry.formula(list(self.composed_a(self.L)), list(self.y))

    def layered_map(self, l: int, z: sp.Matrix) -> dict[sp.Expr, sp.Symbol]:
        """Replacement turning layer l's expressions in ``z`` into layered symbols z_l, a_l."""
        act = self.net.activation(l)
        mapping: dict[sp.Expr, sp.Symbol] = dict(zip(act.apply(list(z)), self._a[l]))
        mapping.update(zip(z, self._z[l]))
        return mapping

    @cached_property
    def composition(self) -> dict[sp.Symbol, sp.Expr]:
        """z^{(l)}_j and a^{(l)}_j → their expressions in x, W and b."""
        mapping: dict[sp.Symbol, sp.Expr] = {}
        for l in self.layers:
            mapping.update(zip(self._z[l], self.composed_z(l)))
            mapping.update(zip(self._a[l], self.composed_a(l)))
        return mapping

    def compose(self, expr):
        """Substitute the forward pass into a layered expression."""
        return expr.xreplace(self.composition)

"""A network in SymPy symbols: parameters, layered quantities and the composed forward pass.

Layered symbols (z^{(l)}_j, a^{(l)}_j, δ^{(l)}_j) are what documents show and
what the expansion and the recursion are written in; ``compose`` substitutes
the forward pass, turning a layered expression into one in x, y, W and b only.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import sympy as sp

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
        self.x = sp.Matrix([self.names.input(k) for k in range(1, n[0] + 1)])
        self.y = sp.Matrix([self.names.target(j) for j in range(1, n[-1] + 1)])
        self._weights = {
            # int(): Matrix passes SymPy Integers, which print into a name ten times slower
            l: sp.Matrix(n[l], n[l - 1],
                         lambda j, k, l=l: self.names.weight(l, int(j) + 1, int(k) + 1))
            for l in self.layers
        }
        self._biases = {
            l: sp.Matrix([self.names.bias(l, j) for j in range(1, n[l] + 1)]) for l in self.layers
        }
        self._z = {l: self._layer_symbols(self.names.preactivation, l) for l in self.layers}
        self._a = {l: self._layer_symbols(self.names.activation, l) for l in self.layers}
        self._delta = {l: self._layer_symbols(self.names.delta, l) for l in self.layers}

    # ------------------------------------------------------------ symbols

    @property
    def L(self) -> int:
        """Number of layers with weights."""
        return self.net.L

    @property
    def layers(self) -> range:
        """1, ..., L."""
        return range(1, self.net.L + 1)

    def _layer_symbols(self, make: Callable[[int, int], sp.Symbol], l: int) -> sp.Matrix:
        return sp.Matrix([make(l, j) for j in range(1, self.net.widths[l] + 1)])

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

    @property
    def latex_names(self) -> dict[sp.Symbol, str]:
        """Every symbol's LaTeX name, for the printer."""
        return self.names.latex

    # ------------------------------------------------------------ forward pass

    @cached_property
    def _forward(self) -> tuple[dict[int, sp.Matrix], dict[int, sp.Matrix]]:
        z, a = {}, {0: self.x}
        for l in self.layers:
            W, b, inputs = self._weights[l], self._biases[l], a[l - 1]  # entry by entry:
            z[l] = sp.Matrix([sp.Add(*[W[j, k] * inputs[k] for k in range(W.cols)], b[j])
                              for j in range(W.rows)])  # a matrix product is slow on symbols
            a[l] = sp.Matrix(self.net.activation(l).apply(list(z[l])))
        return z, a

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

"""A network built in SymPy: its symbols, its forward pass, and its routes, computed lazily."""

from __future__ import annotations

from functools import cached_property

import sympy as sp

from . import routes
from .naming import Names
from .network import Network

ROUTES = ("expansion", "recursion", "direct")
PARAMETERS = ("W", "b")


class Derivation:
    """Everything symbp derives for one network; each route is computed when first asked.

    Layered symbols (z^{(l)}_j, a^{(l)}_j, δ^{(l)}_j) are what documents show;
    ``compose`` turns a layered expression into one in x, y, W and b only.
    ``recursion`` replaces ``routes.backprop_deltas`` (the prover's tests use it
    to feed in deliberately wrong recursions).
    """

    def __init__(self, net: Network, recursion=routes.backprop_deltas):
        if not isinstance(net, Network):
            raise ValueError(f"derive() needs a symbp.Network, got {type(net).__name__}")
        self.net = net
        self._recursion_function = recursion
        self.names = Names(net.widths)
        n = net.widths
        self.x = sp.Matrix([self.names.input(k) for k in range(1, n[0] + 1)])
        self.y = sp.Matrix([self.names.target(j) for j in range(1, n[-1] + 1)])
        self._weights = {
            l: sp.Matrix(n[l], n[l - 1], lambda j, k, l=l: self.names.weight(l, j + 1, k + 1))
            for l in range(1, self.L + 1)
        }
        self._biases = {
            l: sp.Matrix([self.names.bias(l, j) for j in range(1, n[l] + 1)])
            for l in range(1, self.L + 1)
        }
        self._z = {l: self._layer_symbols(self.names.preactivation, l) for l in self._layers}
        self._a = {l: self._layer_symbols(self.names.activation, l) for l in self._layers}
        self._delta = {l: self._layer_symbols(self.names.delta, l) for l in self._layers}
        self._factors: dict[int, sp.Matrix] = {}
        self._chains: dict[int, routes.ChainRule] = {}
        self._grads: dict[tuple[int, str, str], sp.Matrix] = {}

    # ------------------------------------------------------------ symbols

    @property
    def L(self) -> int:
        """Number of layers with weights."""
        return self.net.L

    @property
    def _layers(self) -> range:
        return range(1, self.L + 1)

    def _layer_symbols(self, make, l: int) -> sp.Matrix:
        return sp.Matrix([make(l, j) for j in range(1, self.net.widths[l] + 1)])

    def _check_layer(self, l: object, allow_input: bool = False) -> int:
        low = 0 if allow_input else 1
        if isinstance(l, bool) or not isinstance(l, int) or not low <= l <= self.L:
            raise ValueError(f"layer must be an integer from {low} to {self.L}; got {l!r}")
        return l

    def weights(self, l: int) -> sp.Matrix:
        """W_l, the n_l × n_{l-1} matrix of weight symbols."""
        return self._weights[self._check_layer(l)]

    def biases(self, l: int) -> sp.Matrix:
        """b_l, the column of bias symbols."""
        return self._biases[self._check_layer(l)]

    def z_symbols(self, l: int) -> sp.Matrix:
        return self._z[self._check_layer(l)]

    def a_symbols(self, l: int) -> sp.Matrix:
        """a_l as layered symbols; a_0 is the input x."""
        return self.x if self._check_layer(l, allow_input=True) == 0 else self._a[l]

    def delta_symbols(self, l: int) -> sp.Matrix:
        return self._delta[self._check_layer(l)]

    @property
    def latex_names(self) -> dict[sp.Symbol, str]:
        return self.names.latex

    # ------------------------------------------------------------ forward pass

    @cached_property
    def _forward(self) -> tuple[dict[int, sp.Matrix], dict[int, sp.Matrix]]:
        z, a = {}, {0: self.x}
        for l in self._layers:
            z[l] = self._weights[l] * a[l - 1] + self._biases[l]
            a[l] = sp.Matrix(self.net.activation(l).apply(list(z[l])))
        return z, a

    def composed_z(self, l: int) -> sp.Matrix:
        """z_l as an expression in x, W and b."""
        return self._forward[0][self._check_layer(l)]

    def composed_a(self, l: int) -> sp.Matrix:
        """a_l as an expression in x, W and b."""
        return self._forward[1][self._check_layer(l, allow_input=True)]

    def composed_cost(self) -> sp.Expr:
        """C as one expression in x, y, W and b."""
        return self.net.cost_entry.formula(list(self.composed_a(self.L)), list(self.y))

    def layered_map(self, l: int, z: sp.Matrix) -> dict[sp.Expr, sp.Symbol]:
        """Replacement turning layer l's expressions in ``z`` into layered symbols z_l, a_l."""
        act = self.net.activation(l)
        mapping = dict(zip(act.apply(list(z)), self._a[l]))
        mapping.update(zip(z, self._z[l]))
        return mapping

    @cached_property
    def _composition(self) -> dict[sp.Symbol, sp.Expr]:
        mapping: dict[sp.Symbol, sp.Expr] = {}
        for l in self._layers:
            mapping.update(zip(self._z[l], self.composed_z(l)))
            mapping.update(zip(self._a[l], self.composed_a(l)))
        return mapping

    def compose(self, expr):
        """Substitute the forward pass into a layered expression."""
        return expr.xreplace(self._composition)

    @cached_property
    def _composed_deltas(self) -> dict[sp.Symbol, sp.Expr]:
        mapping = dict(self._composition)
        trace = self.recursion
        for l in range(self.L, 0, -1):
            if l in trace.deltas:
                mapping.update(zip(self._delta[l], trace.deltas[l].xreplace(mapping)))
        return mapping

    # ------------------------------------------------------------ routes

    @cached_property
    def recursion(self) -> routes.Recursion:
        """The δ recursion's trace in layered symbols (one step per layer)."""
        return routes.run_recursion(self, self._recursion_function)

    def expansion_factor(self, l: int) -> sp.Matrix:
        """The local Jacobian ∂a_l/∂a_{l-1}, computed by SymPy from layer l's map."""
        if l not in self._factors:
            self._factors[l] = routes.local_jacobian(self, l, self.a_symbols(l - 1))
        return self._factors[l]

    def chain_rule(self, l: int) -> routes.ChainRule:
        """The expansion of ∂C/∂W_l along its path of influence, in layered symbols."""
        self._check_layer(l)
        if l not in self._chains:
            self._chains[l] = routes.expand_chain_rule(self, l)
        return self._chains[l]

    def grad(self, l: int, route: str = "recursion", wrt: str = "W") -> sp.Matrix:
        """∂C/∂W_l (``wrt="W"``) or ∂C/∂b_l (``wrt="b"``) by one route, in x, y, W and b."""
        self._check_layer(l)
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; choose one of: {', '.join(ROUTES)}")
        if wrt not in PARAMETERS:
            raise ValueError(f"unknown parameter {wrt!r}; choose one of: {', '.join(PARAMETERS)}")
        key = (l, route, wrt)
        if key not in self._grads:
            self._grads[key] = self._compute(l, route, wrt)
        return self._grads[key]

    def _compute(self, l: int, route: str, wrt: str) -> sp.Matrix:
        if route == "direct":
            return routes.differentiate_cost(self, l, wrt)
        if route == "expansion":
            chain = self.chain_rule(l)
            return self.compose(chain.weight if wrt == "W" else chain.bias)
        layered = (self.recursion.weight if wrt == "W" else self.recursion.bias).get(l)
        if layered is None:
            raise ValueError(f"the recursion produced no gradient for layer {l}")
        return layered.xreplace(self._composed_deltas)

    def delta(self, l: int) -> sp.Matrix:
        """δ_l = ∂C/∂z_l from the recursion, in x, y, W and b."""
        self._check_layer(l)
        return self.delta_symbols(l).xreplace(self._composed_deltas)

    def __repr__(self) -> str:
        return f"<Derivation of {self.net!r}>"

    def _repr_markdown_(self) -> str:  # Jupyter: the whole document (runs the proof)
        from ..render.documents import repr_markdown

        return repr_markdown(self)

    def _repr_latex_(self) -> str:  # Jupyter: the backward pass, cheap
        from ..render.documents import repr_latex

        return repr_latex(self)


def derive(net: Network, recursion=routes.backprop_deltas) -> Derivation:
    """Build ``net`` in SymPy. Cheap: every route is computed when first asked for."""
    return Derivation(net, recursion=recursion)

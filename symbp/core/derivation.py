"""A network built in SymPy with its three routes to ∂C/∂W_l and ∂C/∂b_l, each computed lazily."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import sympy as sp

from . import routes
from .built import replaced
from .network import Network
from .program import Program
from .recorder import record
from .recursion import Recursion, RecursionFunction, backprop_deltas, run_recursion
from .symbols import NetworkSymbols

ROUTES = ("expansion", "recursion", "direct")
PARAMETERS = ("W", "b")

# How a Derivation shows itself in Jupyter ("latex", "markdown"). Filled in by the
# package's top level, which may render and prove; this layer only looks the hooks up.
DISPLAY_HOOKS: dict[str, Callable[[Derivation], str]] = {}


class Derivation(NetworkSymbols):
    """Everything symbp derives for one network; each route is computed when first asked.

    ``recursion_function`` is the δ recursion this derivation runs: by default
    ``backprop_deltas``; any function of a ``RecursionOps`` will do (the prover's
    tests feed in deliberately wrong ones). It runs once, recorded as ``program``: the
    prover replays that program and the code generators print it.
    """

    def __init__(self, net: Network, recursion: RecursionFunction = backprop_deltas):
        super().__init__(net)
        self.recursion_function = recursion
        self._factors: dict[int, routes.LayerFactors] = {}
        self._chains: dict[int, routes.ChainRule] = {}
        self._direct: dict[int, routes.DirectRoute] = {}
        self._grads: dict[tuple[int, str, str], sp.Matrix] = {}

    @cached_property
    def _composed_deltas(self) -> dict[sp.Symbol, sp.Expr]:
        mapping = dict(self.composition)
        trace = self.recursion
        for l in range(self.L, 0, -1):  # g_l (where a skip binds it) before δ_l, which reads it
            if l in trace.grads:
                mapping.update(zip(self._g[l], trace.grads[l].xreplace(mapping)))
            if l in trace.deltas:
                substitute_in_order(list(self._delta[l]), list(trace.deltas[l]), mapping)
        return mapping

    # ------------------------------------------------------------ routes

    @cached_property
    def program(self) -> Program:
        """The recursion, recorded once: the statements the prover proves and the code runs.

        ``ProgramError`` (a ValueError) when the recursion breaks a rule of programs
        (binding a δ twice, say); whatever else it raises propagates.
        """
        widths, resolved = self.net.widths, self.net.resolved
        return record(self.recursion_function, self.L, lambda l: widths[l],
                      context=self.net.meaning(), structure=lambda l: resolved[l - 1])

    @cached_property
    def recursion(self) -> Recursion:
        """The δ recursion's trace in layered symbols (one step per layer)."""
        return run_recursion(self, self.program)

    def layer_factors(self, l: int) -> routes.LayerFactors:
        """Layer l's local Jacobians (by a_{l-1}, W_l, b_l), computed by SymPy from its map."""
        self.check_layer(l)
        if l not in self._factors:
            self._factors[l] = routes.layer_factors(self, l)
        return self._factors[l]

    def expansion_factor(self, l: int) -> sp.Matrix:
        """The local Jacobian ∂a_l/∂a_{l-1}, computed by SymPy from layer l's map."""
        inputs = self.layer_factors(l).inputs
        return routes.local_jacobian(self, 1, self.x) if inputs is None else inputs

    @cached_property
    def _cost_row(self) -> sp.Matrix:
        return routes.cost_row(self)

    def chain_rule(self, l: int) -> routes.ChainRule:
        """The expansion of ∂C/∂W_l along its path of influence, as its factors in layered
        symbols; their product (``.weight``, ``.bias``) is formed only when asked."""
        self.check_layer(l)
        if l not in self._chains:
            self._chains[l] = routes.expand_chain_rule(self, l, self.layer_factors,
                                                       self._cost_row)
        return self._chains[l]

    def direct_route(self, l: int) -> routes.DirectRoute:
        """The direct route for layer l: the composed cost and the parameters it is
        differentiated by; differentiated only when asked (``.gradient``)."""
        self.check_layer(l)
        if l not in self._direct:
            self._direct[l] = routes.direct_route(self, l)
        return self._direct[l]

    def grad(self, l: int, route: str = "recursion", wrt: str = "W") -> sp.Matrix:
        """∂C/∂W_l (``wrt="W"``) or ∂C/∂b_l (``wrt="b"``) by one route, in x, y, W and b;
        ``wrt`` may name any parameter of layer l's kind (``"P"``, a residual's projection)."""
        self.check_layer(l)
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; choose one of: {', '.join(ROUTES)}")
        names = tuple(self.layer_parameters(l))
        if wrt not in names:
            raise ValueError(f"unknown parameter {wrt!r} of layer {l}; choose one of: "
                             f"{', '.join(names)}")
        key = (l, route, wrt)
        if key not in self._grads:
            self._grads[key] = self._compute(l, route, wrt)
        return self._grads[key]

    def _compute(self, l: int, route: str, wrt: str) -> sp.Matrix:
        if route == "direct":
            return sp.Matrix(self.direct_route(l).gradient(wrt))
        if route == "expansion":
            return self.compose(self.chain_rule(l).gradient(wrt))
        layered = self.recursion.param_grads.get((l, wrt))
        if layered is None:
            raise ValueError(f"the recursion produced no gradient for layer {l}")
        return layered.xreplace(self._composed_deltas)

    def delta(self, l: int) -> sp.Matrix:
        """δ_l = ∂C/∂z_l from the recursion, in x, y, W and b."""
        self.check_layer(l)
        return self.delta_symbols(l).xreplace(self._composed_deltas)

    def __repr__(self) -> str:
        return f"<Derivation of {self.net!r}>"

    def _repr_markdown_(self) -> str | None:  # Jupyter: the whole document (runs the proof)
        hook = DISPLAY_HOOKS.get("markdown")
        return hook(self) if hook else None

    def _repr_latex_(self) -> str | None:  # Jupyter: the backward pass, cheap
        hook = DISPLAY_HOOKS.get("latex")
        return hook(self) if hook else None


def substitute_in_order(symbols: list[sp.Symbol], values: list[sp.Expr],
                        mapping: dict[sp.Symbol, sp.Expr]) -> None:
    """symbols := values into ``mapping``, where a value may read others of ``symbols`` (a
    scan: δ at t reads δ at t + 1): each entry once the entries it reads are in."""
    pending = dict(zip(symbols, values))
    reads = {s: v.free_symbols & pending.keys() for s, v in pending.items()}
    # the values share parts (a tangent reads the forward pass): each part replaced once; a
    # part seen reads no pending symbol, so what the mapping gains later cannot change it
    done: dict = {}
    while pending:
        ready = [s for s in pending if not reads[s] & pending.keys()]
        if not ready:
            raise ValueError(f"the recursion's {symbols[0]}... read each other in a cycle; a "
                             "scan reads only the steps after (or before) its own")
        for s in ready:
            mapping[s] = replaced(pending.pop(s), mapping, done)


def derive(net: Network, recursion: RecursionFunction = backprop_deltas) -> Derivation:
    """Build ``net`` in SymPy. Cheap: every route is computed when first asked for.

    ``recursion`` replaces the δ recursion: a function of one ``RecursionOps``
    (see ``symbp.core.recursion``) that calls ``bind_delta`` for every layer and
    ``gradient`` for every layer. The proof checks it and the generated code runs it.
    """
    return Derivation(net, recursion=recursion)

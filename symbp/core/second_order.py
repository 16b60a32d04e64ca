"""Second order for one network: the Hessian three ways, the Gauss–Newton matrix and H v.

``SecondDerivation`` is a ``Derivation`` (its first-order API untouched) that also records
the three programs of ``curvature`` and replays them on SymPy in layered symbols
(``SymbolicCurvatureOps``): Ω_l, Γ_l, ż_l and δ̇_l are symbols of their own, so that
every step can be checked on its own, as δ_l is in first order. The routes to the
Hessian's block between θ_l and θ_m (θ_l = (vec W_l row by row, b_l)):

- ``direct``: the second derivatives of the composed cost by SymPy's rules
  (``routes.differentiate`` twice, σ' differentiating to an opaque σ'');
- ``recursion``: the curvature program's block rows, composed with the forward pass;
- ``rop``: the R-operator's H v for a symbolic direction v (``hvp``).

``gauss_newton`` is the Gauss–Newton program's blocks (``recursion``) or Jᵀ H_C J
formed from SymPy's derivatives of the split s (``direct``).
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import Any

import sympy as sp

from . import curvature, curvature_recursions, limits
from .curvature import absorbs_output, supported
from .curvature_program import CurvatureProgram, record_curvature
from .curvature_symbolic import CurvatureTrace, SymbolicCurvatureOps, run_curvature
from .derivation import Derivation
from .kinds_second_order import KindsSecondDerivation
from .network import Network
from .recursion import RecursionFunction, backprop_deltas
from .routes import differentiate

ORDERS = (1, 2)
HESSIAN_ROUTES = ("direct", "recursion")
HVP_ROUTES = ("rop", "recursion", "direct")


class SecondDerivation(Derivation):
    """A ``Derivation`` with second order: ``hessian(l, m)``, ``hvp(v)``, ``gauss_newton()``.

    ``curvature``, ``gauss_newton_function`` and ``hvp_function`` replace the three programs
    of ``symbp.core.curvature`` (the prover's tests feed in wrong ones); each runs once,
    recorded as ``programs[name]``, which the prover replays and the code prints.
    """

    order = 2

    def __init__(self, net: Network, recursion: RecursionFunction = backprop_deltas, *,
                 curvature: Any = curvature_recursions.backprop_curvature,
                 gauss_newton: Any = curvature_recursions.backprop_gauss_newton,
                 hvp: Any = curvature_recursions.pearlmutter_hvp):
        supported(net)  # before any work
        super().__init__(net, recursion)
        self.functions = {"hessian": curvature, "gauss_newton": gauss_newton, "hvp": hvp}
        self._direct_first: dict[sp.Symbol, sp.Expr] = {}
        self._memo: dict[str, dict] = {"curving": {}, "plain": {}}  # shared subexpressions
        self._blocks: dict[tuple, sp.Matrix] = {}

    # ------------------------------------------------------------ parameters

    def params(self, l: int) -> int:
        """P_l = n_l (n_(l-1) + 1), the weights and biases of layer l."""
        n = self.net.widths
        return n[l] * (n[l - 1] + 1)

    def params_from(self, l: int) -> int:
        return sum(self.params(m) for m in range(l, self.L + 1))

    def parameters(self, l: int | None = None) -> list[sp.Symbol]:
        """θ_l = (W_l row by row, b_l); θ (every layer in order) when l is None."""
        if l is None:
            return [p for m in self.layers for p in self.parameters(m)]
        return [*self.weights(l), *self.biases(l)]  # a SymPy Matrix iterates row by row

    def offset(self, l: int) -> int:
        return sum(self.params(m) for m in range(1, l))

    # ------------------------------------------------------------ layered symbols

    def _symbols(self, kind: str, l: int, rows: int, cols: int, make) -> sp.Matrix:
        key = (kind, l)
        if key not in self._blocks:
            self._blocks[key] = sp.Matrix(rows, cols, lambda j, k: make(int(j) + 1, int(k) + 1))
        return self._blocks[key]

    def curvature_symbols(self, l: int) -> sp.Matrix:
        n = self.net.widths[self.check_layer(l)]
        return self._symbols("omega", l, n, n, lambda j, k: self.names.curvature(l, j, k))

    def cross_symbols(self, l: int) -> sp.Matrix:
        n = self.net.widths[self.check_layer(l)]
        return self._symbols("gamma", l, n, self.params_from(l),
                             lambda j, c: self.names.cross(l, j, c))

    def direction_weights(self, l: int) -> sp.Matrix:
        n = self.net.widths
        return self._symbols("V", self.check_layer(l), n[l], n[l - 1],
                             lambda j, k: self.names.direction_weight(l, j, k))

    def direction_biases(self, l: int) -> sp.Matrix:
        return self._symbols("vb", self.check_layer(l), self.net.widths[l], 1,
                             lambda j, _: self.names.direction_bias(l, j))

    def direction(self, l: int | None = None) -> list[sp.Symbol]:
        """The direction v, in the order of ``parameters``."""
        if l is None:
            return [p for m in self.layers for p in self.direction(m)]
        return [*self.direction_weights(l), *self.direction_biases(l)]

    def tangent_symbols(self, l: int) -> sp.Matrix:
        return self._symbols("rz", self.check_layer(l), self.net.widths[l], 1,
                             lambda j, _: self.names.tangent(l, j))

    def tangent_delta_symbols(self, l: int) -> sp.Matrix:
        return self._symbols("rdelta", self.check_layer(l), self.net.widths[l], 1,
                             lambda j, _: self.names.tangent_delta(l, j))

    # ------------------------------------------------------------ programs

    @cached_property
    def programs(self) -> dict[str, CurvatureProgram]:
        """The three programs, each recorded once: "hessian", "gauss_newton", "hvp"."""
        widths = self.net.widths
        return {name: record_curvature(f, self.L, lambda l: widths[l],
                                       context=f"{name}\n{self.net.meaning()}")
                for name, f in self.functions.items()}

    @property
    def fingerprint(self) -> str:
        """16 hex digits naming the three programs together (each has its own too)."""
        text = " ".join(f"{name}:{p.fingerprint}" for name, p in self.programs.items())
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def trace(self, name: str) -> CurvatureTrace:
        """The program ``name`` replayed in layered symbols (cached)."""
        key = ("trace", name)
        if key not in self._blocks:
            self._blocks[key] = run_curvature(self, self.programs[name])  # type: ignore[assignment]
        return self._blocks[key]  # type: ignore[return-value]

    def composed(self, name: str) -> dict[sp.Symbol, sp.Expr]:
        """Every layered symbol of program ``name`` (z, a, δ, Ω, Γ, ż, δ̇) → its expression in
        x, y, W, b (and v)."""
        key = ("composed", name)
        if key in self._blocks:
            return self._blocks[key]  # type: ignore[return-value]
        t = self.trace(name)
        mapping = dict(self.composition)
        for l in self.layers:
            if l in t.tangent:
                mapping.update(zip(self.tangent_symbols(l), t.tangent[l].xreplace(mapping)))
        for l in range(self.L, 0, -1):
            for table, symbols in ((t.deltas, self.delta_symbols),
                                   (t.curvature, self.curvature_symbols),
                                   (t.cross, self.cross_symbols),
                                   (t.tangent_delta, self.tangent_delta_symbols)):
                if l in table:
                    mapping.update(zip(symbols(l), table[l].xreplace(mapping)))
        self._blocks[key] = mapping  # type: ignore[assignment]
        return mapping

    # ------------------------------------------------------------ the Hessian

    def _check_pair(self, l: int, m: int, route: str, routes: tuple[str, ...]) -> None:
        self.check_layer(l)
        self.check_layer(m)
        if route not in routes:
            raise ValueError(f"unknown route {route!r}; choose one of: {', '.join(routes)}")

    def hessian(self, l: int | None = None, m: int | None = None,
                route: str = "recursion") -> sp.Matrix:
        """∂²C/∂θ_l ∂θ_m (P_l × P_m), in x, y, W and b; the whole Hessian without l and m.

        θ_l is (W_l row by row, b_l). ``route`` "recursion" (the curvature program) or
        "direct" (second derivatives of the composed cost)."""
        return self._matrix("hessian", l, m, route)

    def gauss_newton(self, l: int | None = None, m: int | None = None,
                     route: str = "recursion") -> sp.Matrix:
        """The Gauss–Newton matrix G = Jᵀ H_C J, J = ∂s/∂θ (s = a_L, or z_L for softmax_ce):
        block (l, m), or the whole of it. ``route`` "recursion" (the Gauss–Newton program)
        or "direct" (Jᵀ H_C J from SymPy's derivatives of s)."""
        return self._matrix("gauss_newton", l, m, route)

    def _matrix(self, name: str, l: int | None, m: int | None, route: str) -> sp.Matrix:
        if (l is None) != (m is None):
            raise ValueError("give both layers l and m, or neither for the whole matrix")
        if l is None or m is None:
            limits.check_symbolic_hessian(self.net.widths)
            return sp.Matrix(sp.BlockMatrix([[self._matrix(name, i, j, route)
                                              for j in self.layers] for i in self.layers]))
        self._check_pair(l, m, route, HESSIAN_ROUTES)
        if m < l:
            return self._matrix(name, m, l, route).T
        key = (name, l, m, route)
        if key not in self._blocks:
            limits.check_symbolic_hessian(self.net.widths)
            if route == "direct":
                make = self._direct_block if name == "hessian" else self._gauss_newton_block
                self._blocks[key] = make(l, m)
            else:
                self._blocks[key] = self._recursion_block(name, l, m)
        return self._blocks[key]

    def _recursion_block(self, name: str, l: int, m: int) -> sp.Matrix:
        rows = self.trace(name).rows
        if l not in rows:
            raise ValueError(f"the {name} program produced no block row for layer {l}")
        start = self.offset(m) - self.offset(l)
        block = rows[l][:, start:start + self.params(m)]
        return block.xreplace(self.composed(name))

    def _first(self, p: sp.Symbol) -> sp.Expr:
        if p not in self._direct_first:
            self._direct_first[p] = curvature.curving(differentiate(self.composed_cost(), p),
                                                      self._activations(), self._memo["curving"])
        return self._direct_first[p]

    def _activations(self) -> list:
        return [self.net.activation(l) for l in self.layers]

    def _direct_block(self, l: int, m: int) -> sp.Matrix:
        """SymPy's second derivatives; inside a diagonal block, entry (j, i) is entry (i, j)
        (second derivatives commute), computed once."""
        rows, cols = self.parameters(l), self.parameters(m)
        memo = self._memo["plain"]
        entries: dict[tuple[int, int], sp.Expr] = {}

        def entry(i: int, j: int) -> sp.Expr:
            if l == m and j < i:
                i, j = j, i
            if (i, j) not in entries:
                entries[(i, j)] = curvature.plain(differentiate(self._first(rows[i]), cols[j]),
                                                  memo)
            return entries[(i, j)]

        return sp.Matrix(len(rows), len(cols), lambda i, j: entry(int(i), int(j)))

    # ------------------------------------------------------------ Gauss–Newton, directly

    def split(self) -> sp.Matrix:
        """s, where the cost takes over: a_L, or z_L when the cost absorbs σ_L; composed."""
        L = self.L
        return self.composed_z(L) if absorbs_output(self.net.cost_entry) else self.composed_a(L)

    def split_hessian(self) -> sp.Matrix:
        """H_C at the split, composed (from the same forms the programs use)."""
        ops = SymbolicCurvatureOps(self)
        return ops.cost_hessian().xreplace(self.composition)

    def split_jacobian(self, l: int) -> sp.Matrix:
        """∂s/∂θ_l by SymPy's rules, σ' differentiating to the opaque σ''."""
        key = ("J", l)
        if key not in self._blocks:
            s = self.split()
            self._blocks[key] = sp.Matrix(len(s), self.params(l), lambda i, j: differentiate(
                s[int(i)], self.parameters(l)[int(j)]))
        return self._blocks[key]

    def _gauss_newton_block(self, l: int, m: int) -> sp.Matrix:
        return self.split_jacobian(l).T * self.split_hessian() * self.split_jacobian(m)

    # ------------------------------------------------------------ H v

    def hvp(self, v: dict | None = None, route: str = "rop") -> dict[str, list[sp.Matrix]]:
        """H v as ``{"W": [...], "b": [...]}`` shaped like the parameters, for the symbolic
        direction v (``direction_weights``, ``direction_biases``) or the ``v`` given in the
        same form. ``route`` "rop" (the R-operator program), "recursion" or "direct" (the
        Hessian of that route times v)."""
        if route not in HVP_ROUTES:
            raise ValueError(f"unknown route {route!r}; choose one of: {', '.join(HVP_ROUTES)}")
        if route == "rop":
            t, mapping = self.trace("hvp"), self.composed("hvp")
            missing = [l for l in self.layers if l not in t.weight]
            if missing:
                raise ValueError(f"the hvp program produced no H v for layer {missing[0]}")
            result = {"W": [t.weight[l].xreplace(mapping) for l in self.layers],
                      "b": [t.bias[l].xreplace(mapping) for l in self.layers]}
        else:
            H = self.hessian(route=route)
            product = H * sp.Matrix(self.direction())
            result = {"W": [], "b": []}
            for l in self.layers:
                part = product[self.offset(l):self.offset(l) + self.params(l), :]
                n, m = self.net.widths[l], self.net.widths[l - 1]
                result["W"].append(part[: n * m, :].reshape(n, m))
                result["b"].append(part[n * m:, :])
        return result if v is None else self._at(result, v)

    def _at(self, result: dict, v: dict) -> dict:
        if not isinstance(v, dict) or set(v) != {"W", "b"}:
            raise ValueError('v must be {"W": [V_1, ..., V_L], "b": [v_1, ..., v_L]}, shaped '
                             f"like the weights and biases; got {type(v).__name__}")
        values: dict[sp.Symbol, Any] = {}
        for l in self.layers:
            for key, symbols in (("W", self.direction_weights(l)),
                                 ("b", self.direction_biases(l))):
                given = sp.Matrix(v[key][l - 1]) if l - 1 < len(v[key]) else None
                if given is None or len(given) != len(symbols):
                    raise ValueError(f"v[{key!r}][{l - 1}] must have {len(symbols)} entries, "
                                     f"shaped like {'W' if key == 'W' else 'b'}_{l}")
                values.update(zip(symbols, given))
        return {k: [M.xreplace(values) for M in parts] for k, parts in result.items()}

    def __repr__(self) -> str:
        return f"<SecondDerivation of {self.net!r}>"


def derive(net: Network, recursion: RecursionFunction = backprop_deltas, *,
           order: int = 1, **programs: Any) -> Derivation:
    """Build ``net`` in SymPy: a ``Derivation`` (``order=1``) or a ``SecondDerivation``
    (``order=2``, with ``hessian``, ``hvp`` and ``gauss_newton``). Cheap: every route is
    computed when first asked for. ``programs`` (curvature=, gauss_newton=, hvp=) replace
    second order's programs; for a network of layer kinds, curvature= is the curvature
    recursion's step (``kinds_curvature.CurvatureStep``), and tangent= the R-operator's rule
    for one statement (``kinds_tangent.TangentRule``)."""
    if isinstance(order, bool) or order not in ORDERS:
        raise ValueError(f"unknown order {order!r}; choose one of: "
                         f"{', '.join(map(str, ORDERS))}")
    if order == 1:
        if programs:
            raise ValueError(f"{', '.join(programs)} need order=2")
        return Derivation(net, recursion=recursion)
    if not isinstance(net, Network):
        raise ValueError(f"derive() needs a symbp.Network, got {type(net).__name__}")
    if any(r.kind.name not in curvature.SECOND_ORDER_KINDS for r in net.resolved):
        # one node's elimination (kinds_curvature), one statement's tangent (kinds_tangent)
        given = {k: programs.pop(k, None) for k in ("curvature", "tangent")}
        if programs:  # its routes read the δ program and the kinds' maps, nothing else
            raise ValueError(f"{', '.join(programs)}: a network of layer kinds has no "
                             "curvature programs to replace; give recursion= instead")
        # refuses what it does not cover
        return KindsSecondDerivation(net, recursion, **{k: f for k, f in given.items() if f})
    unknown = [k for k in programs if k not in ("curvature", "gauss_newton", "hvp")]
    if unknown:
        raise ValueError(f"unknown program {unknown[0]!r}; choose one of: curvature, "
                         "gauss_newton, hvp")
    return SecondDerivation(net, recursion, **programs)  # refuses what it does not cover

"""Second order for networks of layer kinds, per network: the Hessian, H v and Gauss–Newton.

The dense curvature programs (``curvature``) read the dense map and nothing else; a skip,
a shared kernel or a step through time adds paths they do not have. Here nothing is
written per kind: every route reads only what first order proved, the kinds' maps and the
recorded δ program (``Derivation.program``). θ_l is every parameter of layer l, in its
kind's order, each row by row (W_l, b_l, then P_l or U_l, ...). The routes:

- ``direct``: SymPy's second derivatives of the composed cost (σ' differentiating to an
  opaque σ'', as for dense layers), the ground truth;
- ``program``: the R-operator applied to the δ program, forward over reverse. Every
  statement the program bound (g_l, δ_l, each ∂C/∂θ_l) and every forward quantity
  (z_l from the pre map, a_l from σ, post and skip) is differentiated on its own, in
  layered symbols, along a direction v: ṡ = Σ_u ∂s/∂u u̇ over the quantities u it reads,
  v_p for a parameter p, 0 for x and y. Composed, R{∂C/∂θ} is H v for a symbolic v
  (``hvp``); seeded with one parameter (v = e_p), column p of H (``hessian``).
- ``recursion``: second-order backpropagation over the network's graph
  (``kinds_curvature``): H_C at the split passed back node by node, Jᵀ Ω J plus the
  residual terms Σ g ∂²f, from each statement's own first and second derivatives.
- Gauss–Newton G = Jᵀ H_C J at the split s (a_L, or z_L where the cost absorbs σ_L):
  ``direct`` takes J from SymPy's derivatives of the composed s, ``program`` takes J's
  columns from the forward half of the R-operator (ṡ at v = e_p), ``recursion`` is the
  curvature recursion without its residual terms.

Proved per network (``proof.kinds_curvature``); for every size at the network's depth (the
recursion's H and G, and H v of the R-operator's rule, ``tangent=``) by
``proof.kinds_second_theorem``.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import sympy as sp

from . import curvature, kinds_curvature
from .curvature import absorbs_output
from .derivation import Derivation, substitute_in_order
from .kinds_curvature import CurvatureStep, push_curvature
from .kinds_second_scope import check_size, supported
from .kinds_tangent import Read, TangentRule, chain_tangent
from .network import Network
from .recursion import RecursionFunction, backprop_deltas
from .routes import differentiate

HESSIAN_ROUTES = ("direct", "program", "recursion")
HVP_ROUTES = ("program", "direct", "recursion")


class KindsSecondDerivation(Derivation):
    """A ``Derivation`` of a network of layer kinds with second order: ``hessian(l, m)``,
    ``hvp(v)``, ``gauss_newton()``, each by route "direct", "program" or "recursion" (module
    text). ``curvature`` replaces the recursion's step, one node's elimination, and ``tangent``
    the R-operator's rule for one statement (``kinds_tangent``; the prover's tests feed in
    wrong ones)."""

    order = 2

    def __init__(self, net: Network, recursion: RecursionFunction = backprop_deltas, *,
                 curvature: CurvatureStep = push_curvature,
                 tangent: TangentRule = chain_tangent):
        supported(net)  # before any work
        check_size(net)
        super().__init__(net, recursion)
        self.curvature_step, self.tangent_rule = curvature, tangent
        self._acts = [net.activation(l) for l in self.layers]
        self._memo: dict[str, dict] = {"curving": {}, "plain": {}}
        self._first: dict[sp.Symbol, sp.Expr] = {}
        self._blocks: dict[tuple, Any] = {}

    # ------------------------------------------------------------ parameters and directions

    def parameters(self, l: int | None = None) -> list[sp.Symbol]:
        """θ_l: every parameter of layer l in its kind's order, each row by row; θ (every
        layer in order) when l is None."""
        if l is None:
            return [p for m in self.layers for p in self.parameters(m)]
        return [p for M in self.layer_parameters(l).values() for p in M]

    def params(self, l: int) -> int:
        return len(self.parameters(l))

    def offset(self, l: int) -> int:
        return sum(self.params(m) for m in range(1, l))

    @cached_property
    def _directions(self) -> dict[sp.Symbol, sp.Symbol]:
        return {p: self.names._symbol(f"v{p.name}", f"v_{{{self.names.latex.get(p, p.name)}}}")
                for p in self.parameters()}

    def direction(self, l: int | None = None) -> list[sp.Symbol]:
        """The direction v, in the order of ``parameters``: v_p for each parameter p."""
        return [self._directions[p] for p in self.parameters(l)]

    def _tangent(self, s: sp.Symbol) -> sp.Symbol:
        return self.names._symbol(f"R{s.name}", rf"\dot{{{self.names.latex.get(s, s.name)}}}")

    # ------------------------------------------------------------ the R-operator

    def _along(self, expr: sp.Expr, seeds: dict[sp.Symbol, sp.Expr]) -> sp.Expr:
        """ṡ for the statement ``expr``: Σ_u ∂expr/∂u u̇ over what it reads (σ' differentiating
        to the opaque σ''); x and y have no tangent, a parameter p has ``seeds[p]``."""
        curved = curvature.curving(expr, self._acts, self._memo["curving"])
        reads = []
        for u in sorted(curved.free_symbols, key=sp.default_sort_key):
            rate = seeds.get(u) if u in self._parameter_set else self._tangent_of.get(u)
            if rate is not None and rate != 0:
                reads.append(Read(u, rate))
        return curvature.plain(self.tangent_rule(curved, reads, differentiate),
                               self._memo["plain"])

    @cached_property
    def _parameter_set(self) -> frozenset[sp.Symbol]:
        return frozenset(self.parameters())

    @cached_property
    def _tangent_of(self) -> dict[sp.Symbol, sp.Symbol]:
        """Every layered symbol the programs read → its tangent symbol."""
        found = {}
        for l in self.layers:
            for M in (self.z_symbols(l), self.a_symbols(l), self.delta_symbols(l),
                      self.grad_symbols(l)):
                found.update({s: self._tangent(s) for s in M})
        return found

    def _statements(self) -> list[tuple[list[sp.Symbol], list[sp.Expr]]]:
        """(symbols, values) of every statement, in the order they are found: the forward pass
        up, then what the δ program bound, from the output down (g_l before δ_l)."""
        found = []
        for l in self.layers:
            pre, out = self.forward_statements(l)
            found += [(list(self.z_symbols(l)), pre), (list(self.a_symbols(l)), out)]
        trace = self.recursion
        for l in range(self.L, 0, -1):
            if l in trace.grads:
                found.append((list(self.grad_symbols(l)), list(trace.grads[l])))
            if l in trace.deltas:
                found.append((list(self.delta_symbols(l)), list(trace.deltas[l])))
        return found

    def _tangents(self, seeds: dict[sp.Symbol, sp.Expr]) -> dict[sp.Symbol, sp.Expr]:
        """Every tangent symbol → its value in x, y, θ (and v), for the parameters' rates
        ``seeds``: each statement differentiated on its own in layered symbols, then composed
        once by substitution (a composed tree is never walked)."""
        mapping = dict(self._composed_deltas)
        for symbols, values in self._statements():
            rates = [self._along(e, seeds) for e in values]
            substitute_in_order([self._tangent_of[s] for s in symbols], rates, mapping)
        return mapping

    def _rop(self, seeds: dict[sp.Symbol, sp.Expr]) -> dict[tuple[int, str], sp.Matrix]:
        """R{∂C/∂θ_l} for every parameter of every layer, composed."""
        mapping = self._tangents(seeds)
        grads = self.recursion.param_grads
        result = {}
        for l in self.layers:
            for name, M in self.layer_parameters(l).items():
                if (l, name) not in grads:
                    raise ValueError(f"the recursion produced no gradient for {name} of layer "
                                     f"{l}")
                layered = grads[(l, name)]
                rate = layered.applyfunc(lambda e: self._along(e, seeds))
                result[(l, name)] = rate.xreplace(mapping).reshape(M.rows, M.cols)
        return result

    # ------------------------------------------------------------ H v

    def hvp(self, v: dict | None = None, route: str = "program") -> dict[str, list]:
        """H v per parameter: ``{name: [one Matrix per layer, None where the layer has no
        such parameter]}`` for the symbolic direction v (``direction``), or at ``v`` given as
        ``{(l, name): Matrix}``. ``route`` "program" (the R-operator on the δ program),
        "direct" or "recursion" (that route's Hessian times v)."""
        if route not in HVP_ROUTES:
            raise ValueError(f"unknown route {route!r}; choose one of: {', '.join(HVP_ROUTES)}")
        key = ("hvp", route)
        if key not in self._blocks:
            if route == "program":
                flat = self._rop(self._directions)
            else:
                product = self.hessian(route=route) * sp.Matrix(self.direction())
                flat, at = {}, 0
                for l in self.layers:
                    for name, M in self.layer_parameters(l).items():
                        flat[(l, name)] = product[at:at + len(M), 0].reshape(M.rows, M.cols)
                        at += len(M)
            self._blocks[key] = flat
        result: dict[tuple[int, str], sp.Matrix] = self._blocks[key]
        if v is None:
            return self._by_name(result)
        values: dict[sp.Symbol, sp.Expr] = {}
        for l in self.layers:
            for name, M in self.layer_parameters(l).items():
                given = v.get((l, name)) if isinstance(v, dict) else None
                if given is None or len(sp.Matrix(given)) != len(M):
                    raise ValueError(f"v[({l}, {name!r})] must have {len(M)} entries, shaped "
                                     f"like {name}_{l}; v maps (layer, parameter) to a matrix")
                values.update(zip((self._directions[p] for p in M), sp.Matrix(given)))
        return self._by_name({k: M.xreplace(values) for k, M in result.items()})

    def _by_name(self, flat: dict[tuple[int, str], sp.Matrix]) -> dict[str, list]:
        names = dict.fromkeys(name for _, name in flat)
        return {name: [flat.get((l, name)) for l in self.layers] for name in names}

    # ------------------------------------------------------------ the Hessian

    def hessian(self, l: int | None = None, m: int | None = None,
                route: str = "program") -> sp.Matrix:
        """∂²C/∂θ_l ∂θ_m (P_l × P_m), or the whole Hessian without l and m. ``route``
        "program" (the δ program differentiated along each parameter), "direct" or
        "recursion" (curvature backpropagated over the graph, ``kinds_curvature``)."""
        return self._matrix("hessian", l, m, route)

    def gauss_newton(self, l: int | None = None, m: int | None = None,
                     route: str = "program") -> sp.Matrix:
        """G = Jᵀ H_C J, J = ∂s/∂θ at the split: block (l, m) or the whole. ``route``
        "program" (J from the forward tangents), "direct" (J from SymPy's derivatives) or
        "recursion" (the curvature recursion without its residual terms)."""
        return self._matrix("gauss_newton", l, m, route)

    def _matrix(self, name: str, l: int | None, m: int | None, route: str) -> sp.Matrix:
        if route not in HESSIAN_ROUTES:
            raise ValueError(f"unknown route {route!r}; choose one of: "
                             f"{', '.join(HESSIAN_ROUTES)}")
        if (l is None) != (m is None):
            raise ValueError("give both layers l and m, or neither for the whole matrix")
        if l is None or m is None:
            return sp.Matrix(sp.BlockMatrix([[self._matrix(name, i, j, route)
                                              for j in self.layers] for i in self.layers]))
        self.check_layer(l)
        self.check_layer(m)
        rows, cols = self.parameters(l), self.parameters(m)
        if route == "recursion":
            live = self._swept(name)
            return sp.Matrix(len(rows), len(cols),
                             lambda i, j: live.entry(rows[int(i)], cols[int(j)]))
        if name == "gauss_newton":
            J = self.split_jacobian(route)
            return J[:, self.offset(l):self.offset(l) + len(rows)].T * self.split_hessian() * \
                J[:, self.offset(m):self.offset(m) + len(cols)]
        if route == "direct":
            return sp.Matrix(len(rows), len(cols),
                             lambda i, j: self._direct_entry(rows[int(i)], cols[int(j)]))
        return sp.Matrix(len(rows), len(cols),
                         lambda i, j: self._program_column(cols[int(j)])[rows[int(i)]])

    @cached_property
    def curvature_graph(self) -> list[kinds_curvature.Node]:
        """The nodes the curvature recursion sweeps (``kinds_curvature.graph``)."""
        return kinds_curvature.graph(self)

    def _swept(self, name: str) -> kinds_curvature.LiveCurvature:
        """The curvature recursion's Ω over the parameters: H, or G without residual terms."""
        key = ("swept", name)
        if key not in self._blocks:
            self._blocks[key] = kinds_curvature.backprop_curvature(
                self, self.curvature_step, residual=name == "hessian")
        return self._blocks[key]

    def _direct_entry(self, p: sp.Symbol, q: sp.Symbol) -> sp.Expr:
        order = self.parameters().index
        if order(q) < order(p):  # second derivatives commute: each pair once
            p, q = q, p
        key = ("direct", p, q)
        if key not in self._blocks:
            if p not in self._first:
                self._first[p] = curvature.curving(differentiate(self.composed_cost(), p),
                                                   self._acts, self._memo["curving"])
            self._blocks[key] = curvature.plain(differentiate(self._first[p], q),
                                                self._memo["plain"])
        return self._blocks[key]

    def _program_column(self, q: sp.Symbol) -> dict[sp.Symbol, sp.Expr]:
        """Column q of H: the δ program differentiated along q alone (v = e_q)."""
        key = ("column", q)
        if key not in self._blocks:
            rop = self._rop({q: sp.S.One})
            self._blocks[key] = {p: e for (l, name), M in rop.items()
                                 for p, e in zip(self.layer_parameters(l)[name], M)}
        return self._blocks[key]

    # ------------------------------------------------------------ Gauss–Newton

    def split(self) -> sp.Matrix:
        """s, where the cost takes over: a_L, or z_L when the cost absorbs σ_L; composed."""
        L = self.L
        return self.composed_z(L) if absorbs_output(self.net.cost_entry) else self.composed_a(L)

    def _split_symbols(self) -> sp.Matrix:
        L = self.L
        return self.z_symbols(L) if absorbs_output(self.net.cost_entry) else self.a_symbols(L)

    def split_hessian(self) -> sp.Matrix:
        """H_C at the split, composed, from the registry's cost forms."""
        return self.layered_split_hessian().xreplace(self.composition)

    def layered_split_hessian(self) -> sp.Matrix:
        """H_C at the split in a_L's layered symbols and y (what the generated code prints)."""
        cost, a, y = self.net.cost_entry, list(self.a_symbols(self.L)), list(self.y)
        if absorbs_output(cost):
            return curvature.output_curvature_in_z(cost, a, y)
        h = curvature.cost_hessian_term(cost)
        return sp.diag(*[h(aj, yj) for aj, yj in zip(a, y)])

    def split_jacobian(self, route: str = "direct") -> sp.Matrix:
        """J = ∂s/∂θ (rows: s, columns: θ): SymPy's derivatives of the composed s ("direct"),
        or the forward tangents ṡ at v = e_p ("program")."""
        key = ("J", route)
        if key not in self._blocks:
            theta, s = self.parameters(), self.split()
            if route == "direct":
                J = sp.Matrix(len(s), len(theta),
                              lambda i, j: differentiate(s[int(i)], theta[int(j)]))
            else:
                columns = [self._forward_tangents({p: sp.S.One}) for p in theta]
                J = sp.Matrix(len(s), len(theta), lambda i, j: columns[int(j)][int(i)])
            self._blocks[key] = J
        return self._blocks[key]

    def _forward_tangents(self, seeds: dict[sp.Symbol, sp.Expr]) -> list[sp.Expr]:
        """ṡ at the split: the forward statements alone differentiated along ``seeds``."""
        mapping = dict(self.composition)
        for l in self.layers:
            for symbols, values in zip((self.z_symbols(l), self.a_symbols(l)),
                                       self.forward_statements(l)):
                rates = [self._along(e, seeds) for e in values]
                substitute_in_order([self._tangent_of[s] for s in symbols], rates, mapping)
        return [mapping[self._tangent_of[s]] for s in self._split_symbols()]

    def __repr__(self) -> str:
        return f"<KindsSecondDerivation of {self.net!r}>"

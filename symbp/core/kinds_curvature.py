"""The curvature recursion for networks of layer kinds: second-order backpropagation over the
network's graph (route "recursion" of ``kinds_second_order``).

The graph. Its nodes are the forward statements of every layer, one layer deep, in layered
symbols (``NetworkSymbols.forward_statements``): z_l from the pre map, a_l from σ,
post and skip. A node reads nodes below it and parameters (x and y are constants): a skip
is a_l reading a_(l-1) beside z_l, a shared kernel one parameter read by many entries, and a
recurrent z_l reads its own entries one step back, so its statement is split into its steps,
each a node (``graph``): through time is a path of the graph like any other. Each node
carries its local Jacobian J = ∂f/∂u and second derivatives ∂²f_i/∂u∂w in what it reads,
SymPy's derivatives of that one statement (σ' differentiating to the opaque σ''), composed
with the forward pass; the composed cost itself is never differentiated here.

The sweep (``backprop_curvature``). Ω is the curvature of C in the live variables and g its
gradient: at first the split s (a_L, or z_L where the cost absorbs σ_L), Ω = H_C and
g = ∂C/∂s. From the output down, each node v = f(u) is replaced by what it reads,
C(f(u), r) as a function of u and every other live variable r (``push_curvature``):

    Ω_uw += Jᵀ Ω_vv J + Σ_i g_v,i ∂²f_i/∂u∂w    (the curvature passed back, the residual term)
    Ω_ru += (Ω_rv J)                           (the cross terms with every other live r)
    g_u  += Jᵀ g_v

A variable read by several consumers collects from each of them, and the cross terms between
consumers (a_(l-1) read by the skip and by z_l) are the Ω_ru: this is the node-by-node form
of Ω_(l-1) = Σ_consumers (Jᵀ Ω J + Σ δ ∂²out). When every node is gone the live variables
are the parameters and Ω is the Hessian, every block (l, m) at once; without the residual
terms it stays Mᵀ H_C M (M = ∂s/∂(live)), so it ends as G = Jᵀ H_C J.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from . import curvature
from .curvature import absorbs_output
from .routes import differentiate


@dataclass(frozen=True)
class Node:
    """One node of the graph: ``symbols`` := their statement, for one step where the statement
    reads its own entries. ``jacobian[i][u]`` = ∂f_i/∂u and ``second[i][(u, w)]`` =
    ∂²f_i/∂u∂w over what it reads (``reads``), composed; zero entries left out."""

    layer: int
    name: str  # "z" or "a"
    symbols: tuple[sp.Symbol, ...]
    reads: tuple[sp.Symbol, ...]
    jacobian: tuple[dict[sp.Symbol, sp.Expr], ...]
    second: tuple[dict[tuple[sp.Symbol, sp.Symbol], sp.Expr], ...]


@dataclass
class LiveCurvature:
    """Ω (row by row, both orders of each pair) and g over the live variables."""

    omega: dict[sp.Symbol, dict[sp.Symbol, sp.Expr]] = field(default_factory=dict)
    grad: dict[sp.Symbol, sp.Expr] = field(default_factory=dict)

    def add(self, r: sp.Symbol, u: sp.Symbol, value: sp.Expr) -> None:
        row = self.omega.setdefault(r, {})
        row[u] = row.get(u, sp.S.Zero) + value

    def entry(self, r: sp.Symbol, u: sp.Symbol) -> sp.Expr:
        return self.omega.get(r, {}).get(u, sp.S.Zero)


# One node's elimination; the prover's tests feed in wrong ones (a residual term dropped)
CurvatureStep = Callable[[LiveCurvature, Node, bool], None]


def push_curvature(live: LiveCurvature, node: Node, residual: bool = True) -> None:
    """Replace ``node`` by what it reads: Ω and g of C(f(u), r) in u and r (``residual``:
    with the Σ_i g_i ∂²f_i terms; without them, Gauss–Newton)."""
    vs = node.symbols
    rows = [live.omega.pop(v, {}) for v in vs]
    for row in live.omega.values():
        for v in vs:
            row.pop(v, None)
    g = [live.grad.pop(v, sp.S.Zero) for v in vs]
    J = node.jacobian
    for r in list(live.omega):  # Ω_ru, and Ω_ur beside it (twice on the diagonal r = u)
        for u in node.reads:
            term = total([row[r] * Ji[u] for row, Ji in zip(rows, J) if r in row and u in Ji])
            if term != 0:
                live.add(r, u, term)
                live.add(u, r, term)
    inner = [(i, k, rows[i][v]) for i in range(len(vs)) for k, v in enumerate(vs)
             if v in rows[i]]  # Ω_vv
    for a, u in enumerate(node.reads):
        for w in node.reads[a:]:
            terms = [J[i][u] * omega * J[k][w] for i, k, omega in inner
                     if u in J[i] and w in J[k]]
            if residual:
                terms += [gi * Si[(u, w)] for gi, Si in zip(g, node.second)
                          if gi != 0 and (u, w) in Si]
            if terms:
                value = total(terms)
                live.add(u, w, value)
                if w != u:
                    live.add(w, u, value)
    for u in node.reads:
        term = total([gi * Ji[u] for gi, Ji in zip(g, J) if gi != 0 and u in Ji])
        if term != 0:
            live.grad[u] = live.grad.get(u, sp.S.Zero) + term


def total(terms: list) -> Any:
    """Σ terms: ``sp.Add`` of expressions; of other values (the general theorem's blocks of
    every size, ``proof.curvature_blocks``) their own ``+``."""
    if all(isinstance(t, sp.Basic) for t in terms):
        return sp.Add(*terms)
    return functools.reduce(operator.add, terms)


def graph(d: Any) -> list[Node]:
    """Every node up to the split, in the order of the forward pass: layer by layer z_l then
    a_l, a statement that reads its own entries split into its steps (each entry once the
    entries it reads are in)."""
    acts = [d.net.activation(l) for l in d.layers]
    memo: dict[str, dict] = {"curving": {}, "plain": {}}
    variables = frozenset(d.parameters()) | frozenset(
        s for l in d.layers for M in (d.z_symbols(l), d.a_symbols(l)) for s in M)
    nodes = []
    absorbed = absorbs_output(d.net.cost_entry)
    for l in d.layers:
        pre, out = d.forward_statements(l)
        statements = [("z", d.z_symbols(l), pre)]
        if not (absorbed and l == d.L):  # the cost takes over at z_L
            statements.append(("a", d.a_symbols(l), out))
        for name, symbols, values in statements:
            for step in _steps(list(symbols), list(values)):
                nodes.append(_node(d, l, name, step, acts, variables, memo))
    return nodes


def _steps(symbols: list[sp.Symbol], values: list[sp.Expr]) -> list[list[tuple]]:
    pending = dict(zip(symbols, values))
    steps = []
    while pending:
        ready = [(s, v) for s, v in pending.items() if not v.free_symbols & pending.keys()]
        if not ready:
            raise ValueError(f"the statement of {symbols[0]}... reads itself in a cycle")
        for s, _ in ready:
            del pending[s]
        steps.append(ready)
    return steps


def _node(d: Any, l: int, name: str, step: list[tuple], acts: list, variables: frozenset,
          memo: dict) -> Node:
    def composed(e: sp.Expr) -> sp.Expr:
        return curvature.plain(e, memo["plain"]).xreplace(d.composition)

    reads = sorted({u for _, v in step for u in v.free_symbols if u in variables},
                   key=sp.default_sort_key)
    jacobian, second = [], []
    for _, value in step:  # σ' made to differentiate to the opaque σ'', as in ``direct``
        first = {u: curvature.curving(differentiate(value, u), acts, memo["curving"])
                 for u in reads}
        jacobian.append({u: composed(e) for u, e in first.items() if e != 0})
        second.append({(u, w): composed(e) for a, u in enumerate(reads) if first[u] != 0
                       for w in reads[a:] if (e := differentiate(first[u], w)) != 0})
    return Node(l, name, tuple(s for s, _ in step), tuple(reads), tuple(jacobian),
                tuple(second))


def start(d: Any) -> LiveCurvature:
    """Ω = H_C and g = ∂C/∂s at the split, from the registry's cost forms, composed."""
    cost, a, y = d.net.cost_entry, list(d.a_symbols(d.L)), list(d.y)
    if absorbs_output(cost):
        s = list(d.z_symbols(d.L))
        closed = cost.output_delta(d.net.activation(d.L).name)
        gradient = closed.formula(a, y)
    else:
        s, gradient = a, cost.gradient(a, y)
    H = d.layered_split_hessian()
    live = LiveCurvature()
    for i, si in enumerate(s):
        live.grad[si] = sp.sympify(gradient[i]).xreplace(d.composition)
        for k, sk in enumerate(s):
            if H[i, k] != 0:
                live.add(si, sk, H[i, k].xreplace(d.composition))
    return live


def backprop_curvature(d: Any, step: CurvatureStep, residual: bool = True) -> LiveCurvature:
    """The sweep: every node of ``graph(d)`` from the output down, each by ``step``; what is
    left is Ω over the parameters (the Hessian, or G without the residual terms)."""
    live = start(d)
    for node in reversed(d.curvature_graph):
        step(live, node, residual)
    left = set(live.omega) - set(d.parameters())
    if left:
        raise ValueError(f"the curvature recursion left {sorted(left, key=str)[0]} live: a "
                         "node it never replaced by what it reads")
    return live

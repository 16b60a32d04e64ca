"""The second-order theorem's layer lemma (``kinds_second_theorem``): the curvature step run
on one layer's nodes of every size against the chain rule through the layer's composed map.

``Sequence`` is a network's K layers at depth K with every size symbolic, as the first-order
theorem at depth K records them. At the cut above layer m the recursion holds Ω^{(e)} =
∂²C/∂a^{(e)}², Γ^{(e)} = ∂²C/∂a^{(e)} ∂θ_(>e) and g^{(e)} = ∂C/∂a^{(e)}, here symbols
(``_start``); the step (``curvature=``, the per-network route's) is run on the layer's two
nodes, a^{(e)} then z^{(e)} (``curvature_blocks.node``), and what it leaves (Ω, Γ, g below the
layer and the block row of θ_e) is compared, one ``general.Identity`` per block, with SymPy's
derivatives of F(a^{(e-1)}, θ_e) = post(σ(pre(a^{(e-1)}; θ_e))) + skip(a^{(e-1)}; θ_e) given
the symbols (``layer_identities``; without the residual terms: Gauss–Newton's chain rule).

Where the cost absorbs the output activation (softmax_ce) the recursion starts at z^{(K)}, not
a^{(K)} (``core.kinds_curvature.graph`` has no σ node there): above layer K the cut holds
Ω = ∂²C/∂z^{(K)}² and g = δ^{(K)} = ∂C/∂z^{(K)}, and layer K's lemma runs the step on its z
node alone against the chain rule through its pre map (``Sequence.top``).
"""


from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import sympy as sp

from ..core.curvature import absorbs_output, cost_hessian_term
from ..core.generic import DEPTH, GenericRecorder, Template
from ..core.generic_layers import Explorer
from ..core.kinds_curvature import CurvatureStep
from ..core.layers import Layer as LayerSpec
from ..core.network import Network
from ..core.status import Status, worst
from . import general, kind_lemmas, norm_roots, pre_atoms
from .claims import Claim
from .curvature_blocks import Block, LiveBlocks, Variable, node
from .curvature_indexed import CurvatureIndexOps
from .curvature_truths import Truths, identities
from .index_entries import DELTA, A, G, Y, Z, fresh, kind_base, replace_entries

CHECKED = (1, 2)  # the sizes each identity is also written out at (every combination of them)
OMEGA = sp.IndexedBase("Omega")  # Ω^{(e)}: ∂²C/∂a^{(e)}∂a^{(e)}, what the recursion holds at a cut


def _gamma(name: str) -> sp.IndexedBase:
    return sp.IndexedBase(f"Gamma_{name}")  # Γ^{(e)}: ∂²C/∂a^{(e)}∂θ, θ a parameter above


class Sequence:
    """A network's K layers at depth K, every size symbolic (as the first-order theorem at depth
    K records them): each layer's maps, sizes and variables at its label L - (K - m)."""

    def __init__(self, net: Network):
        self.net, self.K = net, net.L
        self.specs = tuple(LayerSpec(r.layer.kind, {**dict(r.layer.options),
                                                    "activation": net.activations[r.index - 1]})
                           for r in net.resolved)
        self.recorder = GenericRecorder(Explorer([], self.K), "",
                                        tuple(Template.of(s) for s in self.specs), self.K)
        self.layers = kind_lemmas.Layers(self.recorder._at, self.recorder.shape_at)
        self.absorbed = absorbs_output(net.cost_entry)  # the recursion starts at z^{(K)}
        self.nodes: dict[int, tuple[list[Any], list[Variable]]] = {}  # ``_layer_nodes``

    def fused(self, m: int) -> bool:
        """Whether layer m's σ is the cost's (the output layer under softmax_ce): no σ node."""
        return self.absorbed and m == self.K

    def top(self, m: int) -> Variable:
        """The variable at the cut above layer m: a^{(e)}, or z^{(K)} where the cost takes
        over there."""
        return self.z(m) if self.fused(m) else self.a(m)

    def gradient(self, m: int) -> sp.IndexedBase:
        """The symbol of ∂C/∂(the top variable): g^{(e)}, or δ^{(K)} at z^{(K)}."""
        return DELTA if self.fused(m) else G

    def mapped(self, m: int, j: tuple) -> sp.Expr:
        """The top variable's entry j as layer m computes it: F, or its pre map where fused."""
        return self.pre(m, j) if self.fused(m) else self.out(m, j)

    def label(self, m: int) -> sp.Expr:
        return DEPTH - (self.K - m)

    def maps(self, m: int) -> Any:
        return self.layers.maps(self.label(m))

    def act(self, m: int) -> Any:
        return self.net.activation(m)

    def a(self, m: int) -> Variable:
        e = self.label(m)
        return Variable(sp.Symbol(f"a({e})"), lambda i: A[(e, *i)], self.recorder.shape_at(e))

    def z(self, m: int) -> Variable:
        e = self.label(m)
        return Variable(sp.Symbol(f"z({e})"), lambda i: Z[(e, *i)], self.layers.z_shape(e))

    def params(self, m: int) -> list[Variable]:
        e = self.label(m)
        return [Variable(sp.Symbol(f"{p.name}({e})"), _entries(kind_base(p.name), e),
                         self.layers.axes(e, p)) for p in self.maps(m).params]

    def pre(self, m: int, i: tuple) -> sp.Expr:
        return norm_roots.opaque(kind_lemmas._map_at(self.maps(m).pre, self.layers,
                                                     self.label(m), i))

    def out(self, m: int, j: tuple) -> sp.Expr:
        return norm_roots.opaque(kind_lemmas.output(self.layers, self.label(m), j,
                                                    self.act(m)))

    def composed(self, m: int, j: tuple) -> sp.Expr:
        """a^{(e)}_j as a function of a^{(e-1)} and θ_e."""
        return self.composing(m, self.out(m, j))

    def composing(self, m: int, expr: sp.Expr) -> sp.Expr:
        """``expr`` with z^{(e)} written as its pre map (the forward pass composed)."""
        e = self.label(m)
        return replace_entries(expr, {Z}, lambda x: self.pre(m, tuple(x.indices[1:]))
                               if x.indices[0] == e else None)

    def reads(self, m: int, formula: sp.Expr, candidates: list[Variable]) -> list[Variable]:
        """The variables a formula reads (x, layer 0, is a constant), in a fixed order."""
        entries = formula.atoms(sp.Indexed)
        found = [v for v in candidates if any(v.entry(tuple(x.indices[1:])) == x for x in entries
                                              if len(x.indices) == len(v.shape) + 1)]
        return sorted(found, key=lambda v: sp.default_sort_key(v.symbol))


def _entries(base: sp.IndexedBase, e: sp.Expr) -> Callable[[tuple], sp.Expr]:
    return lambda i: base[(e, *i)]


def _start(s: Sequence, m: int) -> tuple[LiveBlocks, Variable, list[Variable]]:
    """What the recursion holds at the cut above layer m, as symbols: Ω, Γ and g."""
    e, a = s.label(m), s.top(m)
    live = LiveBlocks()
    half = len(a.shape)

    def omega(i: tuple) -> sp.Expr:  # symmetric: a Hessian's block (the induction's)
        return (OMEGA[(e, *i)] + OMEGA[(e, *i[half:], *i[:half])]) / 2

    live.omega[a.symbol] = {a.symbol: a.block(omega, a)}
    above = [p for n in range(m + 1, s.K + 1) for p in s.params(n)]
    for p in above:
        base = _gamma(p.symbol.name)
        block = a.block(_entries(base, e), p)
        live.omega[a.symbol][p.symbol] = block
        live.omega.setdefault(p.symbol, {})[a.symbol] = block.T
    live.grad[a.symbol] = a.block(_entries(s.gradient(m), e))
    return live, a, above


def _layer_nodes(s: Sequence, m: int) -> tuple[list[Any], list[Variable]]:
    """``_built_nodes``, once per sequence and layer (H's and G's lemmas; an attention layer's
    derivatives take seconds); each time copies of the nodes' dicts, which a step may change."""
    if m not in s.nodes:
        s.nodes[m] = _built_nodes(s, m)
    nodes, below = s.nodes[m]
    return [dataclasses.replace(n, jacobian=tuple(map(dict, n.jacobian)),
                                second=tuple(map(dict, n.second))) for n in nodes], list(below)


def _built_nodes(s: Sequence, m: int) -> tuple[list[Any], list[Variable]]:
    """Layer m's nodes, a^{(e)} then z^{(e)} in the order the recursion takes them (z^{(K)}
    alone where the cost absorbs σ), and the variables below the cut they read (a^{(e-1)},
    θ_e)."""
    a, z, params = s.a(m), s.z(m), s.params(m)
    below = ([s.a(m - 1)] if m > 1 else []) + params
    j, i = a.indices(), z.indices()
    z_reads = s.reads(m, s.pre(m, i), below)
    z_node = node(m, "z", z, lambda i: s.pre(m, i), z_reads, _diff)
    if s.fused(m):
        return [z_node], below
    a_reads = s.reads(m, s.out(m, j), [z, *below])
    return [node(m, "a", a, lambda j: s.out(m, j), a_reads, _diff), z_node], below


def _diff(expr: sp.Expr, x: sp.Expr) -> sp.Expr:
    return expr.diff(x)


Checked = tuple[str, general.Identity]


def base_identities(s: Sequence) -> list[Checked]:
    """Where the recursion starts, against SymPy's derivatives of the cost formula: H_C (a
    cost written unit by unit: its registered Hessian term's diagonal), or where the cost
    absorbs σ_K, H_C = ∂²C/∂z^{(K)}² as ``core.curvature.output_curvature_in_z`` forms it (the
    closed δ_K's derivative through the registered Jacobian) and δ_K, the closed form, for
    every width (the dense theorem's base identities, ``curvature_truths``)."""
    cost = s.net.cost_entry
    if s.absorbed:
        act = s.act(s.K)
        ops, t = CurvatureIndexOps(act, act, cost), Truths(act, act, cost, residual=True)
        return [(what, identity) for what, value, base in (
            ("H_C = d2C/dz_L^2", ops.cost_hessian(), "curvature base"),
            ("delta_L = dC/dz_L", ops.cost_gradient(), "delta base"))
            for _, identity, _ in identities(base, value, t)]
    shape = s.recorder.shape_at(DEPTH)
    j, k = tuple(fresh() for _ in shape), tuple(fresh() for _ in shape)
    h = cost_hessian_term(cost)
    y = Y[j] if len(j) > 1 else Y[j[0]]
    same = sp.Mul(*[sp.KroneckerDelta(x, w) for x, w in zip(j, k)])
    start = same * h(A[(DEPTH, *j)], y)
    truth = kind_lemmas.cost_gradient(cost, j, s.layers).diff(A[(DEPTH, *k)])
    free = {x: (1, n) for x, n in [*zip(j, shape), *zip(k, shape)]}
    return [("H_C", kind_lemmas.identity(start, truth, free))]


def layer_identities(s: Sequence, m: int, step: CurvatureStep, residual: bool) -> list[Checked]:
    """The step run on layer m's nodes against the chain rule through its composed map."""
    live, a, above = _start(s, m)
    nodes, below = _layer_nodes(s, m)
    atoms = pre_atoms.layer(s, m, nodes[-1], below)  # None: the pre map as it is
    own = live
    if atoms is not None:  # the step on the atoms too, the own node's result the bridge's
        live = _start(s, m)[0]
        for n in nodes:
            step(own, n, residual)
        nodes = [*nodes[:-1], atoms.z_node]
    for n in nodes:
        step(live, n, residual)
    e, g = s.label(m), s.gradient(m)
    found: list[Checked] = []

    z = s.z(m)

    def pre(i: tuple) -> sp.Expr:
        return s.pre(m, i) if atoms is None else atoms.pre(*i)

    def D(expr: sp.Expr, x: sp.Expr) -> sp.Expr:
        """The total derivative by x, z^{(e)} = pre(a^{(e-1)}; θ_e) depending on it."""
        i = z.indices()
        return expr.diff(x) + over(expr.diff(Z[(e, *i)]) * pre(i).diff(x), i, z.shape)

    def F(j: tuple) -> sp.Expr:
        return s.mapped(m, j)

    def omega(j: tuple, k: tuple) -> sp.Expr:  # symmetric: a Hessian's block (induction)
        return (OMEGA[(e, *j, *k)] + OMEGA[(e, *k, *j)]) / 2

    def got(r: Variable, u: Variable, held: Any = None) -> Block | None:
        value = (live if held is None else held).omega.get(r.symbol, {}).get(u.symbol)
        return value if isinstance(value, Block) else None

    def check(what: str, value: Block | None, truth: sp.Expr, free: tuple,
              shapes: tuple, mine: Block | None = None) -> None:
        ranges = {x: (1, n) for x, n in zip(free, shapes)}
        lhs = sp.Integer(0) if value is None else value.at(*_split(free, value))
        identity = kind_lemmas.identity(lhs, truth, ranges)
        if atoms is not None:
            ours = sp.Integer(0) if mine is None else mine.at(*_split(free, mine))
            identity = atoms.identity(identity, ours)
        found.append((what, norm_roots.decided(dataclasses.replace(identity, checked=CHECKED))))

    for n, u in enumerate(below):
        for w in below[n:]:
            al, be, j, k = u.indices(), w.indices(), a.indices(), a.indices()
            du, dw = D(F(j), u.entry(al)), D(F(k), w.entry(be))
            truth = over(over(omega(j, k) * du * dw, k, a.shape), j, a.shape)
            if residual:
                truth += over(g[(e, *j)] * D(du, w.entry(be)), j, a.shape)
            check(f"d2C/d{u.symbol} d{w.symbol}", got(u, w), truth, (*al, *be),
                  (*u.shape, *w.shape), got(u, w, own))
        for p in above:
            al, q, j = u.indices(), p.indices(), a.indices()
            base = _gamma(p.symbol.name)
            truth = over(base[(e, *j, *q)] * D(F(j), u.entry(al)), j, a.shape)
            check(f"d2C/d{u.symbol} d{p.symbol}", got(u, p), truth, (*al, *q),
                  (*u.shape, *p.shape), got(u, p, own))
    if m > 1:
        u = s.a(m - 1)
        al, j = u.indices(), a.indices()
        value, mine = live.grad.get(u.symbol), own.grad.get(u.symbol)
        truth = over(g[(e, *j)] * D(F(j), u.entry(al)), j, a.shape)
        check(f"dC/d{u.symbol}", value if isinstance(value, Block) else None, truth, al, u.shape,
              mine if isinstance(mine, Block) else None)
    return found


def over(body: sp.Expr, index: tuple, shape: tuple) -> sp.Expr:
    """Σ body over every entry of a tensor of ``shape`` (``index`` its indices)."""
    return sp.Sum(body, *[(x, 1, n) for x, n in zip(index, shape)])


def _split(free: tuple, value: Block) -> list[tuple]:
    """``free`` cut into one index tuple per axis of ``value``."""
    parts, at = [], 0
    for _, own, _ in value.axes:
        parts.append(free[at:at + len(own)])
        at += len(own)
    return parts


def lemma_claim(name: str, text: str, checked: list[Checked], where: str) -> Claim:
    """One claim for a layer's identities: proved when every one is."""
    started = time.perf_counter()
    outcomes = []
    for what, identity in checked:
        outcome = pre_atoms.decide(identity)
        outcomes.append((what, outcome))
        if outcome.status == Status.FAILED:  # the claim fails, naming its first identity not
            break  # proved, whatever the rest give: a planted mistake paid for all of them
    status = worst(o.status for _, o in outcomes) if outcomes else Status.PROVED
    bad = next(((w, o) for w, o in outcomes if o.status != Status.PROVED), None)
    instances = sum(o.instances for _, o in outcomes)
    decided = "" if len(outcomes) == len(checked) else (
        f" ({len(outcomes)} decided, up to the first refuted)")
    how = (f"{len(checked)} identities in index notation{decided}, each symbolic in the sizes "
           f"and also written out exactly at small sizes ({instances} entries); {where}")
    claim = Claim(text, "", "general", status, how, name=name,
                  seconds=time.perf_counter() - started)
    if bad is not None:
        claim.residual = f"{bad[0]}: {bad[1].how}: {bad[1].residual}"[:300]
        claim.entry = bad[1].entry
    return claim

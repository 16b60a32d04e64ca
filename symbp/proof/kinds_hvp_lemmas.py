"""H v by the R-operator for a network of layer kinds, at its depth K, for every size: the
lemmas of ``kinds_second_theorem``'s Hv claims.

Per network, route "program" (``core.kinds_second_order``) differentiates every statement on
its own along v by one rule (``tangent=``, ``core.kinds_tangent``): the forward quantities
z_l = pre(a_(l-1); θ_l) and a_l = post(σ(z_l)) + skip(a_(l-1); θ_l), then what the δ program
bound, g_l, δ_l and ∂C/∂θ_l, from the output down. Nothing in it depends on the sizes but the
statements it is handed. So here that same rule is run on layer m's statements at every size,
each as index notation writes it: the forward ones as the kind's maps write them
(``kind_lemmas``, through ``Sequence``), the δ program's as the recursion recorded at depth K
with every size symbolic binds them, replayed on entry formulas (``traced``, the first-order
theorem's own trace). Each tensor a statement reads is one ``Read``: its entry at free
indices, its tangent there (ȧ, ż, δ̇, ġ: symbols, the induction's hypotheses; v_θ for a
parameter; x and y have none), summed over its entries. The lemma (one identity per
statement):

    rule(s) = D_v s = d/dε s(u + ε u̇ for every u it reads) at ε = 0,

SymPy's derivative along a line, never the rule's own sum of partials. With the first-order
theorem (the δ program is ∂C/∂θ for every size), induction forward over the layers for ż and
ȧ (x has no tangent) and then backward over the δ program's statements for ġ, δ̇ and
(H v)_θ gives R{∂C/∂θ} = D_v ∂C/∂θ = H v for every v.
"""

from __future__ import annotations

import time

import sympy as sp

from ..core import curvature
from ..core.generic import Template, record_generic
from ..core.kinds_tangent import Read, TangentRule
from ..core.network import Network
from ..core.recursion import RecursionFunction
from . import kind_lemmas, norm_roots
from .claims import Claim
from .index_entries import DELTA, A, G, J, K, Z, fresh, kind_base
from .indexed import IndexTrace
from .kinds_second_lemmas import CHECKED, Checked, Sequence, lemma_claim
from .traced import case_ops, entry_at, free_indices, index_ranges, replay_case

EPS = sp.Symbol("epsilon")
DOT = {A: sp.IndexedBase("ad"), Z: sp.IndexedBase("zd"), DELTA: sp.IndexedBase("dd"),
       G: sp.IndexedBase("gd")}  # ȧ, ż, δ̇, ġ: the tangents a statement reads, as bound


def dot(base: sp.IndexedBase) -> sp.IndexedBase:
    """The tangent of a tensor: ȧ, ż, δ̇, ġ, or v_θ for a parameter θ."""
    return DOT.get(base) or sp.IndexedBase(f"v{base.name}")


def tensors(s: Sequence) -> dict[tuple[sp.Basic, sp.Expr], tuple[sp.Expr, ...]]:
    """(base, layer) -> shape of every tensor with a tangent: each layer's a, z, δ, g and
    parameters (the input x, a below layer 1, and the targets y have none)."""
    found: dict[tuple[sp.Basic, sp.Expr], tuple[sp.Expr, ...]] = {}
    for m in range(1, s.K + 1):
        e, a, z = s.label(m), s.a(m).shape, s.z(m).shape
        found.update({(A, e): a, (G, e): a, (Z, e): z, (DELTA, e): z})
        for p in s.maps(m).params:
            found[(kind_base(p.name), e)] = s.layers.axes(e, p)
    return found


def reads(value: sp.Expr, table: dict) -> list[Read]:
    """One ``Read`` per tensor ``value`` reads that has a tangent, in a fixed order."""
    keys = {(x.base, x.indices[0]) for x in value.atoms(sp.Indexed)} & table.keys()
    found = []
    for base, e in sorted(keys, key=sp.default_sort_key):
        alpha = tuple(fresh() for _ in table[(base, e)])
        found.append(Read(base[(e, *alpha)], dot(base)[(e, *alpha)],
                          tuple((x, 1, n) for x, n in zip(alpha, table[(base, e)]))))
    return found


def along(value: sp.Expr, table: dict) -> sp.Expr:
    """D_v value: d/dε at 0 with every entry u of a tensor in ``table`` moved to u + ε u̇."""
    moved = value.replace(lambda x: isinstance(x, sp.Indexed)
                          and (x.base, x.indices[0]) in table,
                          lambda x: x + EPS * dot(x.base)[x.indices])
    line = sp.diff(moved, EPS).xreplace({EPS: 0})
    return line.replace(lambda x: isinstance(x, sp.Subs), lambda x: x.doit())  # σ'(z) of σ(ξ)


def _diff(expr: sp.Expr, x: sp.Expr) -> sp.Expr:
    """∂expr/∂x for an entry x, its tensor's entries renamed apart from the other layers'
    (SymPy refuses a base read with another number of indices: δ^{(e)} beside δ^{(e+1)})."""
    base, e = x.base, x.indices[0]
    own = sp.IndexedBase(f"{base.name}({e})")

    def at(y: sp.Basic) -> bool:
        return isinstance(y, sp.Indexed) and y.base == base and y.indices[0] == e

    d = expr.replace(at, lambda y: own[y.indices[1:]]).diff(own[x.indices[1:]])
    return d.replace(lambda y: isinstance(y, sp.Indexed) and y.base == own,
                     lambda y: base[(e, *y.indices)])


def statement_identity(s: Sequence, value: sp.Expr, ranges: dict, rule: TangentRule,
                       table: dict) -> kind_lemmas.Identity:
    """rule(value) = D_v value, σ' differentiating to the opaque σ'' on both sides."""
    acts = [s.act(m) for m in range(1, s.K + 1)]
    curved = curvature.curving(value, acts)
    lhs = curvature.plain(rule(curved, reads(curved, table), _diff))
    rhs = curvature.plain(along(curved, table))
    identity = kind_lemmas.identity(lhs, rhs, ranges)
    identity.checked = CHECKED
    return norm_roots.decided(identity)


def program_traces(s: Sequence, recursion: RecursionFunction) -> list[IndexTrace]:
    """The δ program recorded at depth K with every size symbolic, each case replayed on
    entry formulas (the first-order theorem's trace, ``traced``)."""
    templates = tuple(Template.of(x) for x in s.specs)
    program = record_generic(recursion, templates, s.K)
    found = []
    for case in program.cases:
        _, ops = case_ops(case, templates, s.K, s.act(1), s.act(s.K), s.net.cost_entry)
        replay_case(case, ops)
        found.append(ops.trace)
    return found


def layer_identities(s: Sequence, m: int, rule: TangentRule,
                     traces: list[IndexTrace]) -> list[Checked]:
    """Layer m's statements, each rule(s) = D_v s: ż, ȧ (post and skip in it), and the δ
    program's g, δ and ∂C/∂θ at this layer in every case it was recorded in."""
    e, table = s.label(m), tensors(s)
    found: list[Checked] = []

    def add(what: str, value: object, shape: tuple, one: tuple) -> None:
        index = free_indices(len(shape), one)
        entry, problem = entry_at(value, shape, index)
        if entry is None:
            raise ValueError(f"{what}: {problem}")
        found.append((what, statement_identity(s, norm_roots.opaque(entry),
                                                index_ranges(index, shape), rule, table)))

    z, a = s.z(m), s.a(m)
    i, j = z.indices(), a.indices()
    pre = kind_lemmas.stepped(s.pre(m, i), s.maps(m), e, s.act(m))  # a scan: σ(z) a step back
    for what, value, index, shape in (("zdot", pre, i, z.shape),
                                      ("adot", s.out(m, j), j, a.shape)):
        found.append((what, statement_identity(s, value, index_ranges(index, shape), rule, table)))
    for trace in traces:
        if e in trace.grads:
            add(f"gdot({e})", trace.grads[e], a.shape, (K,))
        if e in trace.deltas:
            add(f"deltadot({e})", trace.deltas[e], z.shape, (K,))
        for p in s.maps(m).params:
            if (e, p.name) in trace.param_grads:
                add(f"(H v) of {p.name}({e})", trace.param_grads[(e, p.name)],
                    s.layers.axes(e, p), (J,))
    return found


# ---------------------------------------------------------------- the claims


# kinds whose Hv lemmas this version does not take, and why: their layers' R-operator is
# compared per network only (the cross-check), and the theorem says so
NOT_TAKEN: dict[str, str] = {}


def hvp_refused(net: Network) -> str:
    """The layers whose kind ``NOT_TAKEN`` lists, said with why ("" when there are none)."""
    return "; ".join(f"layer {r.index} is {r.kind.name}, {NOT_TAKEN[r.kind.name]}"
                     for r in net.resolved if r.kind.name in NOT_TAKEN)


def hvp_claims(s: Sequence, rule: TangentRule, recursion: RecursionFunction) -> list[Claim]:
    """Layer m's Hv lemma for every m from K down to 1 (module text), but a kind's that
    ``NOT_TAKEN`` lists."""
    started = time.perf_counter()
    try:
        traces = program_traces(s, recursion)
    except Exception as error:  # a δ program not recorded at depth K: its first order says why
        return [Claim(f"Hv: the delta program recorded at depth {s.K}, every size", "",
                      "general", "failed", "recorded once with every size symbolic",
                      name="Hv trace", residual=f"{type(error).__name__}: {error}"[:300],
                      seconds=time.perf_counter() - started)]
    return [_layer_claim(s, m, rule, traces) for m in range(s.K, 0, -1)
            if s.net.resolved[m - 1].kind.name not in NOT_TAKEN]


def _layer_claim(s: Sequence, m: int, rule: TangentRule, traces: list[IndexTrace]) -> Claim:
    r = s.net.resolved[m - 1]
    text = (f"Hv step, layer {m} ({r.kind.described(r.layer)}): the R-operator's tangent of "
            f"each statement of the layer (zdot, adot with its post and skip, and the delta "
            f"program's g, delta and dC/dtheta_{m}) is D_v of what it stands for, given the "
            f"tangents it reads, at depth {s.K}, for every size")
    started = time.perf_counter()
    try:
        checked = layer_identities(s, m, rule, traces)
    except Exception as error:  # a rule that breaks on index notation: a failed claim
        return Claim(text, "", "general", "failed", "the rule run on the layer's statements",
                     name=f"Hv step {m}", layer=m, residual=f"{type(error).__name__}: "
                     f"{error}"[:300], seconds=time.perf_counter() - started)
    claim = lemma_claim(f"Hv step {m}", text, checked, f"the rule {getattr(rule, '__name__', '?')}"
                        " itself, run on each statement in index notation, against SymPy's "
                        "derivative along the line u + eps udot")
    claim.layer = m
    return claim

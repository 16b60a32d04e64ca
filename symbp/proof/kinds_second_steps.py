"""The second-order theorem's lemmas for a recurrent layer: the curvature step run on one time
step at a symbolic t, against the chain rule through that step.

Per network the recurrent layer's nodes are its output a = σ(z_T) and its steps z_t =
W σ(z_(t-1)) [2 ≤ t] + U x_t + b, t = T down to 1 (``core.kinds_curvature.graph`` splits the
statement that reads its own entries). Taken from the output down, what the recursion holds
after each node has one form: the live variables are z_t (read by the node above it), the
layer's W, U and b (once a step has read them) and the parameters above, with Ω and g over
them. So one lemma per kind of node, each with that state as symbols (every block, Ω_uu
symmetric, Ω_wu = Ω_uwᵀ; ``State``) and the step (``curvature=``) run on the node:

- the output: a = σ(z_T) from Ω^{(e)}, Γ^{(e)}, g^{(e)} over a^{(e)} and the parameters above;
- the last step t = T ≥ 2, W, U and b not yet live;
- a step 2 ≤ t < T at a symbolic t, W, U and b live;
- the first step t = 1 (the bracket [2 ≤ t] is 0: it reads U and b only), after T ≥ 2 steps,
  and on its own (T = 1, where it is also the last).

Each lemma: what the step leaves, every block of Ω over the variables after the node and g of
each, equals the chain rule through the node, C'(u) = C(f(u_read), u) with the state's symbols
for C's derivatives: Ω_uw + Σ Ω_vw ∂f/∂u + Σ Ω_uv ∂f/∂w + Σ Ω_vv ∂f/∂u ∂f/∂w + Σ g_v ∂²f/∂u∂w
(the last term left out for Gauss–Newton), SymPy's derivatives of the kind's pre map. Induction
over the steps from T down to 1 then gives the layer's block rows, as first order's recurrent
lemmas go through time. Above layer 1 the steps read x_t, column t of a^{(e-1)}: a^{(e-1)} is
then one more variable the steps read, live from the last step down as W, U and b are, and
what the layer leaves at its bottom is Ω, Γ and g at a^{(e-1)}, where the lemma of the layer
below starts.

A layer giving every state (output "all", ``every_state``): its output a = σ(z) reads every
state, so its lemma leaves Ω and g over all of z_1..z_T, and before step t the states before
it are live beside z_t, one block z_(<t) of t - 1 columns (the same entries the recursion
holds, taken as z_t and the rest). The step reads z_(t-1) as z_(<t)'s last column (SymPy's
derivative of the pre map by z_(<t)'s entries, a Kronecker delta), so its term at z_(t-1) is
added to the output's there and its cross terms reach every earlier state; the states before
a symbolic t are τ = t - 1 of them, τ a size of the identities (written out at 1 and 2 too).
The first step has no state before it: its lemmas are those of the last state's.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

from ..core.kinds_curvature import CurvatureStep
from ..core.layers import Resolved
from ..core.layers.base import Inside
from . import kind_lemmas
from .curvature_blocks import Block, LiveBlocks, Variable, node
from .index_entries import Z
from .kinds_second_lemmas import CHECKED, Checked, Sequence, _diff, _split, over

TAU = sp.Symbol("tau", integer=True, positive=True)  # t - 1 at a step 2 ≤ t < T


@dataclass(frozen=True)
class Kind:
    """One kind of node of a recurrent layer: its name, the step t it computes (None: the
    output a), whether W, U and b are live before it, and where it stands (``where``; where
    the layer gives every state, ``every``: the states before t are live beside z_t)."""

    name: str
    t: Callable[[sp.Expr], sp.Expr] | None  # T -> t
    carried: bool
    where: str
    every: str = ""  # where, for a layer giving every state (empty: as ``where``)

    def at(self, every: bool) -> str:
        return self.every if every and self.every else self.where


KINDS = (
    Kind("output", None, False, "a = sigma(z_T), from Omega, Gamma and g over a",
         "a = sigma(z), every state, from Omega, Gamma and g over a"),
    Kind("time step T", lambda T: T, False, "the last step t = T >= 2, W, U and b (and the "
         "input a_(l-1) above layer 1) not yet live", "the last step t = T >= 2, the states "
         "before it z_(<T) live beside it (the output read them), W, U and b (and the input "
         "a_(l-1) above layer 1) not yet live"),
    Kind("time step t", lambda T: TAU + 1, True, "a step 2 <= t < T at a symbolic t",
         "a step 2 <= t < T at a symbolic t, the states before it z_(<t) live beside it"),
    Kind("time step 1", lambda T: sp.Integer(1), True, "the first step t = 1, after T >= 2"),
    Kind("time step 1 = T", lambda T: sp.Integer(1), False, "the only step, T = 1"),
)


class State:
    """What the recursion holds before a node, as symbols: Ω over ``variables`` (every pair)
    and g of each."""

    def __init__(self, variables: list[Variable]):
        self.variables = variables

    def omega(self, u: Variable, w: Variable, alpha: tuple, beta: tuple) -> sp.Expr:
        names = [v.symbol for v in self.variables]
        if names.index(u.symbol) > names.index(w.symbol):
            return self.omega(w, u, beta, alpha)
        base = sp.IndexedBase(f"Omega_{u.symbol}_{w.symbol}")
        if u.symbol == w.symbol:  # symmetric: a Hessian's block (the induction's)
            return (base[(*alpha, *beta)] + base[(*beta, *alpha)]) / 2
        return base[(*alpha, *beta)]

    def grad(self, u: Variable, alpha: tuple) -> sp.Expr:
        return sp.IndexedBase(f"g_{u.symbol}")[alpha]

    def live(self) -> LiveBlocks:
        live = LiveBlocks()
        for n, u in enumerate(self.variables):
            for w in self.variables[n:]:
                block = u.block(self._entries(u, w), w)
                live.omega.setdefault(u.symbol, {})[w.symbol] = block
                if w.symbol != u.symbol:
                    live.omega.setdefault(w.symbol, {})[u.symbol] = block.T
            live.grad[u.symbol] = u.block(functools.partial(self.grad, u))
        return live

    def _entries(self, u: Variable, w: Variable) -> Callable[[tuple], sp.Expr]:
        return lambda i: self.omega(u, w, i[:len(u.shape)], i[len(u.shape):])


def chain_identities(state: State, name: str, out: Variable,
                     formula: Callable[[tuple], sp.Expr], reads: list[Variable],
                     step: CurvatureStep, residual: bool) -> list[Checked]:
    """The step run on the node ``out = formula`` (``name`` "a" or "z", as per network;
    reading ``reads``) against the chain rule C'(u) = C(f(u_read), u): every block of Ω and g
    over the variables after it."""
    live = state.live()
    step(live, node(0, name, out, formula, reads, _diff), residual)
    held = [v for v in state.variables if v.symbol != out.symbol]
    kept = {v.symbol for v in held}
    after = held + [v for v in reads if v.symbol not in kept]
    read = {v.symbol for v in reads}
    found: list[Checked] = []

    def df(u: Variable, alpha: tuple, j: tuple) -> sp.Expr:
        return formula(j).diff(u.entry(alpha)) if u.symbol in read else sp.S.Zero

    def check(what: str, value: Block | None, truth: sp.Expr, free: tuple,
              shapes: tuple) -> None:
        ranges = {x: (1, n) for x, n in zip(free, shapes)}
        lhs = sp.Integer(0) if value is None else value.at(*_split(free, value))
        identity = kind_lemmas.identity(lhs, truth, ranges)
        # no shifted index in a step (t - 1 is an entry's, never a sum's): the sums' normal
        # form decides these alone, without affine_sums' (half the time); the states before a
        # symbolic t are t - 1 = τ of them, so τ is a size written out too
        widths = identity.widths + ([TAU] if any(sp.sympify(n).has(TAU) for _, n in
                                                 ranges.values()) else [])
        found.append((what, dataclasses.replace(identity, checked=CHECKED, decide=None,
                                                widths=widths)))

    for n, u in enumerate(after):
        for w in after[n:]:
            al, be, j, k = u.indices(), w.indices(), out.indices(), out.indices()
            both = u.symbol in kept and w.symbol in kept
            truth = state.omega(u, w, al, be) if both else sp.S.Zero
            if w.symbol in kept:
                truth += over(state.omega(out, w, j, be) * df(u, al, j), j, out.shape)
            if u.symbol in kept:
                truth += over(state.omega(u, out, al, k) * df(w, be, k), k, out.shape)
            truth += over(over(state.omega(out, out, j, k) * df(u, al, j) * df(w, be, k),
                               k, out.shape), j, out.shape)
            if residual and u.symbol in read and w.symbol in read:
                truth += over(state.grad(out, j) * df(u, al, j).diff(w.entry(be)), j,
                              out.shape)
            value = live.omega.get(u.symbol, {}).get(w.symbol)
            check(f"d2C/d{u.symbol} d{w.symbol}", value if isinstance(value, Block) else None,
                  truth, (*al, *be), (*u.shape, *w.shape))
        al, j = u.indices(), out.indices()
        truth = (state.grad(u, al) if u.symbol in kept else sp.S.Zero) + over(
            state.grad(out, j) * df(u, al, j), j, out.shape)
        value = live.grad.get(u.symbol)
        check(f"dC/d{u.symbol}", value if isinstance(value, Block) else None, truth, al,
              u.shape)
    return found


def step_identities(s: Sequence, m: int, kind: Kind, step: CurvatureStep,
                    residual: bool) -> list[Checked]:
    """One kind of node of layer m (recurrent) against the chain rule."""
    e = s.label(m)
    units, steps = s.z(m).shape
    above = [p for n in range(m + 1, s.K + 1) for p in s.params(n)]
    params = s.params(m)
    every = every_state(s, m)

    def state_at(t: sp.Expr) -> Variable:
        return Variable(sp.Symbol(f"z({e})_{t}"), lambda i: Z[e, i[0], t], (units,))

    def before(t: sp.Expr) -> Variable:  # z_1 .. z_(t-1), one block (the output read them)
        return Variable(sp.Symbol(f"z({e})_<{t}"), lambda i: Z[(e, *i)], (units, t - 1))

    if kind.t is None:
        a = s.a(m)
        read = s.z(m) if every else state_at(steps)
        return chain_identities(State([a, *above]), "a", a, lambda j: s.out(m, j), [read],
                                step, residual)
    t = kind.t(steps)
    maps, act = s.maps(m), s.act(m)

    def formula(j: tuple) -> sp.Expr:  # z_t, its bracket [2 <= t] 0 where t = 1 (by definition)
        value = kind_lemmas.stepped(s.pre(m, (*j, t)), maps, e, act)
        return value.replace(lambda x: isinstance(x, Inside) and (x.args[0] - x.args[1])
                             .is_negative is True, lambda x: sp.S.Zero)

    j = s.z(m).indices()[:1]
    inputs = [s.a(m - 1)] if m > 1 else []  # x_t: a column of the layer below's output
    earlier = [before(t)] if every and t != 1 else []  # live beside z_t
    states = earlier if every else [state_at(t - 1)] if t != 1 else []
    reads = [v for v in states + inputs + params
             if _nonzero(formula(j).diff(v.entry(v.indices())))]  # at t = 1: U and b
    held = [state_at(t), *earlier, *(inputs + params if kind.carried else []), *above]
    return chain_identities(State(held), "z", state_at(t), formula, reads, step, residual)


def every_state(s: Sequence, m: int) -> bool:
    """Whether recurrent layer m gives every state (else its last)."""
    return gives_every_state(s.net.resolved[m - 1])


def gives_every_state(r: Resolved) -> bool:
    """Whether ``r`` is a recurrent layer giving every state (only that kind has ``output``)."""
    return r.layer.get("output", "last") == "all"


def _nonzero(derivative: sp.Expr) -> bool:
    """A derivative that is not a sum of zeros (what diff leaves of a term it does not read)."""
    return derivative.replace(lambda x: isinstance(x, sp.Sum) and x.function == 0,
                              lambda x: sp.S.Zero) != 0

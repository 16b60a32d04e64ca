"""A map whose sums sit inside exp and division (attention's softmax over positions), printed
in stages: each closed sum, and each function of entries a sum reads, one array computed once.

``maps.terms`` reads a sum of products as terms and ``maps_reduced`` a map between vectors of
one length; a map that is neither (an index formula with a sum over positions in the
denominator of an exp, sums of such quotients inside further sums) is read here. ``staged``
walks the formula from its innermost sums out and gives every closed sum a stage: an array
over the batch and the indices its body reads from outside (its free indices), the sum over
its own index of a product of tensor entries, earlier stages, numbers and 0/1 brackets on the
indices (one ``np.einsum``, one nest of loops). What such a product would read that is no
entry (an exp, a quotient, a difference) is an elementwise stage of its own before it. A
stage is found again wherever the formula repeats it, at any indices (its key is its body
with the free indices renamed, in the order that sorts first): the scores S[t, r] of a
softmax's denominator and the S[t, s] of its numerator are one array. Across the maps of one
layer printed into one function, a ``Computed`` keeps the stages so far, so a later map reads
them (∂C/∂b_V sums the dV of ∂C/∂W_V; ∂C/∂W_K reads the dS of ∂C/∂W_Q).

Softmax is computed stably. A quotient exp(f(s)) / Σ_r c(r) exp(f(r)), c a bracket on the
indices (the causal mask) and f the same formula at the two indices, is rewritten before the
stages as exp(f(s) − m) / Σ_r c(r) exp(f(r) − m), m = max over the r with c(r) ≠ 0 of f(r):
the same function, since exp(−m) does not depend on r and cancels between the numerator and
every term of the sum, but no exp in it exceeds 1, so no score overflows and the largest
term of the sum is exactly 1 (no 0/0 when every score is very negative). The maximum is a
stage of its own (``RowMax``), over the r the mask keeps; a masked score may exceed it, so
where the mask multiplies the exp it is of min(f − m, 0): the same where the mask is 1, a
finite number times 0 where it is 0 (never inf · 0). Numbers print as floats (1/√d_k is
``0.7071067811865476``). Anything else (an entry at a shifted index, a sum over part of an
axis, a function other than exp, min and powers) is refused with one line naming it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp

from ..core.layers.base import Inside, Map, Tensor

MAX_FREE = 4  # free indices of a stage whose orders are tried to find it again


class RowMax(sp.Function):
    """max over ``bound`` = 1..``last`` where ``mask`` ≠ 0 of ``body``: the shift of a stable
    softmax, built by ``stable`` only (never evaluated, never differentiated)."""

    nargs = 4  # body, bound, last, mask


@dataclass(frozen=True)
class Stage:
    """``name``[batch, *axes] = reduce over ``bound`` of ``body`` ("sum", "max"), or ``body``
    itself (reduce ""). The axes and the bound are 1-based symbols with their sizes; ``body``
    reads entries of the map's tensors and of earlier stages at those symbols, numbers and
    brackets; ``mask`` (max only) says which values of the bound count. ``batched``: one per
    sample (it reads an input), else computed once."""

    name: str
    axes: tuple[tuple[sp.Symbol, int], ...]
    reduce: str
    bound: tuple[sp.Symbol, int] | None
    body: sp.Expr
    mask: sp.Expr
    batched: bool

    @property
    def symbols(self) -> dict[sp.Symbol, int]:
        """Every index of the stage (its axes, then its bound) -> its size."""
        return dict(self.axes + ((self.bound,) if self.bound else ()))


class Computed:
    """The stages one function has computed for a layer's maps on the same arrays: a later
    map of the layer finds them there instead of computing them again (the vector-Jacobian
    products of attention share Q, K, S, P, dP and dS). Their arrays are ``stem``_s1, ..."""

    def __init__(self, stem: str):
        self.stem = stem
        self.stages: list[Stage] = []
        self.keys: dict[tuple, tuple[Stage, tuple[int, ...]]] = {}


@dataclass(frozen=True)
class Staged:
    """A map as stages, the last one its output (axes in the map's order; a parameter's
    gradient summed over the batch: ``over_batch``). ``earlier``: stages it reads that a
    map before it computed (in ``stem``'s arrays; stem None: none, the printer names them)."""

    stages: tuple[Stage, ...]
    tensors: dict[sp.IndexedBase, Tensor]
    shapes: dict[str, tuple[int, ...]]
    batched: frozenset[str]  # the map's inputs: one row per sample
    over_batch: bool
    earlier: tuple[Stage, ...] = ()
    stem: str | None = None

    def stage(self, base: sp.IndexedBase) -> Stage | None:
        return next((s for s in (*self.earlier, *self.stages) if s.name == str(base)), None)


def staged(m: Map, sizes: Mapping[sp.Symbol, int], batched_out: bool,
           computed: Computed | None = None) -> Staged:
    """``m`` at ``sizes`` as stages (named S1, S2, ...; a printer puts its own prefix before
    them), those in ``computed`` found there (and the new ones added); ValueError naming
    what does not fit."""
    shapes = {t.name: t.shape(sizes) for t in (m.out, *m.inputs, *m.params, *m.read_own)}
    tensors = {t.base: t for t in (*m.inputs, *m.params, *m.read_own)}
    batched = frozenset(t.name for t in (*m.inputs, *m.read_own))
    known = computed or Computed("")
    before = len(known.stages)
    build = _Builder(m, tensors, shapes, batched, known)
    formula = stable(m.formula.xreplace(sizes))
    scope = dict(zip(m.index, shapes[m.out.name]))
    final = build.top(formula, scope)
    earlier = tuple(known.stages[:before])
    return Staged((*known.stages[before:], final), tensors, shapes, batched, not batched_out,
                  earlier, computed.stem if computed else None)


# ---------------------------------------------------------------- the stable softmax


def stable(expr: sp.Expr, done: dict | None = None) -> sp.Expr:
    """``expr`` with every softmax exp(f(s)) / Σ_r c(r) exp(f(r)) shifted by its row maximum
    (module docstring); everything else as it is."""
    done = {} if done is None else done  # a formula repeats its stages: each rewritten once
    if expr not in done:
        done[expr] = _stable(expr, done)
    return done[expr]


def _stable(expr: sp.Expr, done: dict) -> sp.Expr:
    if not expr.args or isinstance(expr, sp.Indexed | Inside | sp.KroneckerDelta):
        return expr
    args = [stable(a, done) for a in expr.args]
    if any(new is not old for new, old in zip(args, expr.args)):  # else as it is: no checks
        expr = expr.func(*args, evaluate=False) if isinstance(expr, sp.Function | sp.Add | sp.Mul
                                                              | sp.Pow) else expr.func(*args)
    if not isinstance(expr, sp.Mul):
        return expr
    factors = list(expr.args)
    for k, factor in enumerate(factors):
        found = _softmax_sum(factor)
        if found is None:
            continue
        r, last, mask, score = found
        for n, numerator in enumerate(factors):
            if not isinstance(numerator, sp.exp):
                continue
            at = [s for s in numerator.free_symbols - score.free_symbols
                  if score.xreplace({r: s}) == numerator.args[0]]
            if not at:
                continue
            fresh = sp.Dummy(r.name, integer=True, positive=True)
            shift = RowMax(score.xreplace({r: fresh}), fresh, last, mask.xreplace({r: fresh}))
            masked = mask != 1  # a masked score may exceed m: clamped, as it counts 0 times
            kept = masked and all(f in factors for f in sp.Mul.make_args(mask.xreplace({r: at[0]})))
            factors[n] = sp.exp(_clamped(_minus(numerator.args[0], shift), kept),
                                evaluate=False)
            shifted = sp.exp(_clamped(_minus(score, shift), masked), evaluate=False)
            total = sp.Sum(sp.Mul(mask, shifted, evaluate=False), (r, 1, last))
            factors[k] = sp.Pow(total, -1, evaluate=False)
            break
    return sp.Mul(*factors, evaluate=False)


def _minus(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """a − b, unevaluated (SymPy's checks on a large a take seconds)."""
    return sp.Add(a, sp.Mul(-1, b, evaluate=False), evaluate=False)


def _clamped(shifted: sp.Expr, masked: bool) -> sp.Expr:
    """min(f - m, 0) where a mask multiplies the exp: the same wherever the mask is 1 (there
    f ≤ m), and a finite exp times 0 where it is 0 (an unclamped one could be inf · 0)."""
    return sp.Min(shifted, 0, evaluate=False) if masked else shifted


def _softmax_sum(factor: sp.Expr):
    """(r, last, c(r), f(r)) when ``factor`` is 1 / Σ_{r=1..last} c(r) exp(f(r)), c a product
    of brackets on the indices; else None."""
    if not (isinstance(factor, sp.Pow) and factor.exp == -1 and isinstance(factor.base, sp.Sum)
            and len(factor.base.limits) == 1):
        return None
    r, first, last = factor.base.limits[0]
    if first != 1:
        return None
    exps = [f for f in sp.Mul.make_args(factor.base.function) if isinstance(f, sp.exp)]
    rest = [f for f in sp.Mul.make_args(factor.base.function) if not isinstance(f, sp.exp)]
    if len(exps) != 1 or not all(isinstance(f, Inside | sp.KroneckerDelta) for f in rest):
        return None
    return r, last, sp.Mul(*rest), exps[0].args[0]


# ---------------------------------------------------------------- the stages


def condition(expr: sp.Expr) -> bool:
    return isinstance(expr, Inside | sp.KroneckerDelta)


class _Builder:
    def __init__(self, m: Map, tensors, shapes, batched, computed: Computed):
        self.m, self.tensors, self.shapes, self.batched = m, tensors, shapes, batched
        self.stages, self.known = computed.stages, computed.keys  # shared: appended to

    def top(self, formula: sp.Expr, scope: dict[sp.Symbol, int]) -> Stage:
        """The output's stage, its axes the map's indices in order."""
        if isinstance(formula, sp.Sum):
            bound, body = self._bound(formula, scope)
            body = self._product(body, {**scope, bound[0]: bound[1]})
            reduce = "sum"
        else:
            bound, body, reduce = None, self.hoist(formula, scope), ""
        return self._made("out", tuple(scope.items()), reduce, bound, body, sp.S.One)

    def hoist(self, expr: sp.Expr, scope: dict[sp.Symbol, int]) -> sp.Expr:
        """``expr`` with every sum (and row maximum) in it replaced by an entry of its stage."""
        if expr.is_Number:  # (a constant such as √2 is a power of numbers, below)
            return expr
        if isinstance(expr, sp.Indexed):
            return self._entry(expr, scope)
        if condition(expr):
            unknown = expr.free_symbols - set(scope)
            if unknown or expr.has(sp.Indexed):
                raise ValueError(f"cannot print {expr} as code: a bracket tests the indices "
                                 "of the sums around it only")
            return expr
        if isinstance(expr, sp.Sum):
            bound, body = self._bound(expr, scope)
            inner_scope = {**scope, bound[0]: bound[1]}
            return self._stage("sum", bound, self._product(body, inner_scope), sp.S.One,
                               inner_scope)
        if isinstance(expr, RowMax):
            body, r, last, mask = expr.args
            bound = (sp.Dummy(r.name, integer=True, positive=True), int(last))
            inner_scope = {**scope, bound[0]: bound[1]}
            body = self.hoist(body.xreplace({r: bound[0]}), inner_scope)
            return self._stage("max", bound, body, mask.xreplace({r: bound[0]}), inner_scope)
        if isinstance(expr, sp.Add | sp.Mul | sp.Pow | sp.exp | sp.Min):
            return expr.func(*[self.hoist(a, scope) for a in expr.args])
        raise ValueError(f"cannot print {expr} as code: entries, sums, exp, min, powers, numbers "
                         "and brackets on the indices only")

    def _bound(self, s: sp.Sum, scope) -> tuple[tuple[sp.Symbol, int], sp.Expr]:
        """The outermost sum of ``s``: its index (fresh) and size, and what it sums."""
        i, first, last = s.limits[-1]
        function = sp.Sum(s.function, *s.limits[:-1]) if len(s.limits) > 1 else s.function
        if first != 1 or not sp.sympify(last).is_Integer:
            raise ValueError(f"cannot print the sum {s} as code: a sum inside exp or a "
                             "quotient runs over a whole axis, from 1")
        if i not in scope:
            return (i, int(last)), function
        fresh = sp.Dummy(i.name, integer=True, positive=True)  # a sum around it binds i too
        return (fresh, int(last)), function.xreplace({i: fresh})

    def _entry(self, e: sp.Indexed, scope) -> sp.Indexed:
        t = self.tensors.get(e.base)
        shape = self.shapes[t.name] if t is not None else ()
        if t is None or len(e.indices) != len(shape) or any(
                i not in scope or scope[i] != n for i, n in zip(e.indices, shape)):
            raise ValueError(f"cannot print {e} as code in {self.m.out.name}[...]: an entry "
                             "here is read at the plain index of a sum over its whole axis")
        return e

    def _product(self, body: sp.Expr, scope) -> sp.Expr:
        """A sum's body as a product of entries, numbers and brackets: what else it reads (an
        exp, a quotient, a difference) made an elementwise stage first."""
        body = self.hoist(body, scope)
        plain: list[sp.Expr] = []
        rest: list[sp.Expr] = []
        for f in sp.Mul.make_args(body):
            simple = f.is_number or condition(f) or isinstance(f, sp.Indexed)
            (plain if simple else rest).append(f)
        groups: list[list[sp.Expr]] = []  # factors over the same indices, or fewer: one stage
        def reads(f: sp.Expr) -> set:  # the indices f reads
            return f.free_symbols & set(scope)

        for f in sorted(rest, key=lambda f: (-len(reads(f)), sp.default_sort_key(f))):
            group = next((g for g in groups if reads(f) <= reads(g[0])), None)
            if group is None:
                groups.append([f])
            else:
                group.append(f)
        for g in groups:  # P[t, s] and V[s, j] two arrays, not one of T² d entries
            plain.append(self._stage("", None, sp.Mul(*g), sp.S.One, scope))
        return sp.Mul(*plain)

    def _stage(self, reduce: str, bound, body: sp.Expr, mask: sp.Expr,
               scope: dict[sp.Symbol, int]) -> sp.Indexed:
        """An entry of the stage ``reduce`` over ``bound`` of ``body``: found again if made
        before at other indices, else made."""
        skip = bound[0] if bound else None
        free = [s for s in scope if s != skip and (s in body.free_symbols or
                                                   s in mask.free_symbols)]
        if len(free) > MAX_FREE:
            raise ValueError(f"cannot print a sum as code: it has {len(free)} free indices; "
                             f"at most {MAX_FREE}")
        best = None
        for order in itertools.permutations(range(len(free))):
            axes = [_axis(k) for k in range(len(free))]
            renamed = {free[order[k]]: axes[k] for k in range(len(free))}
            if bound:
                renamed[bound[0]] = _BOUND
            key = (reduce, tuple(scope[free[o]] for o in order), bound[1] if bound else 0,
                   sp.srepr(body.xreplace(renamed)), sp.srepr(mask.xreplace(renamed)))
            if best is None or key < best[0]:
                best = (key, order, renamed)
        assert best is not None
        key, order, renamed = best
        if key not in self.known:
            name = f"S{len(self.stages) + 1}"
            self.stages.append(self._made(name, tuple((_axis(k), scope[free[o]])
                                                      for k, o in enumerate(order)), reduce,
                                          (_BOUND, bound[1]) if bound else None,
                                          body.xreplace(renamed), mask.xreplace(renamed)))
            self.known[key] = (self.stages[-1], order)
        stage, _ = self.known[key]
        return sp.IndexedBase(stage.name)[tuple(free[o] for o in order)] if order else \
            sp.IndexedBase(stage.name)[()]

    def _made(self, name, axes, reduce, bound, body, mask) -> Stage:
        reads = {str(e.base) for e in body.atoms(sp.Indexed)}
        batched = bool(reads & self.batched) or any(
            s.batched for s in self.stages if s.name in reads)
        return Stage(name, axes, reduce, bound, body, mask, batched)


_BOUND = sp.Symbol("q", integer=True, positive=True)


def _axis(k: int) -> sp.Symbol:
    return sp.Symbol(f"p{k}", integer=True, positive=True)

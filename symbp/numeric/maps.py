"""A layer kind's maps read as terms: the one index formula every numeric form is printed from.

A ``Map`` (``symbp.core.layers.base``) says ``out[index] = formula``. At a network's sizes
``terms`` reads its formula as a sum of terms, each a number times a product of tensor
entries, under sums over further indices and perhaps under conditions on the indices (a
Piecewise branch, a Kronecker delta, an Iverson bracket ``Inside``, a sum whose bounds depend
on another index). An index may be affine in the indices or hold a floor (⌊(u − 1)/q⌋ + 1:
the window a pooled position lies in). That is every linear map a layer kind writes: an
affine map, a skip, a convolution and its full convolution with the flipped kernel, zero
padding, average pooling, and their vector-Jacobian products; max pooling's bracket [r = ρ]
(``Chosen``, ρ the first maximum of a window of a tensor's entries) is a factor of its own,
a ``Choice``, which the printers compute from the entries (NumPy's argmax: the first).
A map that is no such sum (a layer norm: sums inside a square root) is read by
``maps_reduced``, one with sums inside exp and quotients (attention's softmax) by
``maps_staged``; anything else (a max of values) is refused with one line naming it. A
condition that only says an index lies inside its tensor is dropped: every printer reads
0 outside a tensor (zero padding). ``maps_numpy`` prints the terms over whole arrays,
``maps_numba`` as loops; ``index_text`` writes the formula as one line for a docstring.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from ..core.layers.argmax import Chosen, FirstMax, WindowArgmax
from ..core.layers.base import Inside, Map, Tensor
from . import maps_reduced, maps_staged

MAX_GRID = 1_000_000  # index points evaluated to find the extent of a dependent sum bound


@dataclass(frozen=True)
class Factor:
    """One tensor entry of a term: the tensor and its index expressions (1-based)."""

    tensor: Tensor
    indices: tuple[sp.Expr, ...]


@dataclass(frozen=True)
class Choice:
    """[position = the first maximum of the candidates' entries], 1 or 0: the bracket of
    max pooling (``core.layers.argmax.Chosen``), the candidates a window of one tensor."""

    position: sp.Expr
    candidates: tuple[Factor, ...]


@dataclass(frozen=True)
class Term:
    """``coeff`` times the product of ``factors`` and ``choices``, summed over ``sums``, where
    ``conditions``."""

    coeff: sp.Expr
    factors: tuple[Factor, ...]
    sums: tuple[sp.Symbol, ...] = ()
    conditions: tuple[sp.Basic, ...] = ()
    choices: tuple[Choice, ...] = ()


@dataclass(frozen=True)
class Terms:
    """A map at concrete sizes: its terms, every index's range (1-based, inclusive), the
    shapes of its tensors, and which of them carry the batch axis."""

    map: Map
    terms: tuple[Term, ...]
    ranges: dict[sp.Symbol, tuple[int, int]]
    shapes: dict[str, tuple[int, ...]]
    batched: frozenset[str]  # the map's inputs (x, δ, g): one row per sample
    batched_out: bool  # False for a parameter's gradient: summed over the batch
    reduced: maps_reduced.Reduced | None = None  # a map that is no sum of products (no terms)
    staged: maps_staged.Staged | None = None  # sums inside exp and quotients (no terms)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.shapes[self.map.out.name]


def terms(m: Map, sizes: Mapping[sp.Symbol, int], batched_out: bool = True,
          computed: maps_staged.Computed | None = None) -> Terms:
    """``m`` at ``sizes`` as terms; ValueError naming what the printers cannot read. A staged
    map finds the stages of ``computed`` there (the same function computed them)."""
    shapes = {t.name: t.shape(sizes) for t in (m.out, *m.inputs, *m.params, *m.read_own)}
    ranges = {i: (1, n) for i, n in zip(m.index, shapes[m.out.name])}
    tensors = {t.base: t for t in (*m.inputs, *m.params, *m.read_own)}
    batched = frozenset(t.name for t in (*m.inputs, *m.read_own))
    try:
        split = _split(m.formula.xreplace(sizes), tensors)
    except ValueError as error:  # not linear: closed sums inside arithmetic, or refused
        try:
            return Terms(m, (), ranges, shapes, batched, batched_out,
                         maps_reduced.reduced(m, sizes))
        except ValueError:
            pass
        try:
            stages = maps_staged.staged(m, sizes, batched_out, computed)
        except ValueError:
            raise error from None
        return Terms(m, (), ranges, shapes, batched, batched_out, staged=stages)
    found = []
    for coeff, factors, limits, conditions in split:
        extra = []
        pending = list(limits)
        while pending:  # an inner sum's bounds may depend on an outer sum's index
            ready = [lim for lim in pending if _free(lim[1:]) <= set(ranges)]
            if not ready:
                raise ValueError(f"the sum bounds of {m.out.name}[...] = {m.formula} depend "
                                 "on an index that has no range")
            i, lo, hi = ready[0]
            pending.remove(ready[0])
            ranges[i] = (_extent(lo, ranges, min), _extent(hi, ranges, max))
            extra += [c for b, c in ((lo, sp.Le(lo, i)), (hi, sp.Le(i, hi)))
                      if not sp.sympify(b).is_Integer]
        choices = tuple(f for f in factors if isinstance(f, Choice))
        factors = [f for f in factors if isinstance(f, Factor)]
        conds = tuple(c for c in _conjuncts([*conditions, *extra])
                      if not _padding(c, factors, shapes))
        if any(c is sp.false for c in conds) or coeff == 0:
            continue
        term = Term(sp.sympify(coeff), tuple(factors), tuple(i for i, _, _ in limits), conds,
                    choices)
        read = [*term.factors, *(f for c in choices for f in c.candidates)]
        used = set().union(*[sp.sympify(e).free_symbols for f in read for e in f.indices],
                           *[c.free_symbols for c in conds],
                           *[sp.sympify(c.position).free_symbols for c in choices])
        unknown = sorted(str(s) for s in used if s not in ranges)
        if unknown:
            raise ValueError(f"the map {m.out.name}[...] = {m.formula} uses the index "
                             f"{unknown[0]}, which is neither an output index nor summed")
        found.append(term)
    # terms with more factors first: W x + b prints as x @ W.T + b
    found.sort(key=lambda t: -len(t.factors))
    return Terms(m, tuple(found), ranges, shapes, batched, batched_out)


_Split = tuple[sp.Expr, list[Factor], list[tuple[sp.Symbol, sp.Expr, sp.Expr]], list[sp.Basic]]


def _split(expr: sp.Expr, tensors: Mapping[sp.IndexedBase, Tensor]) -> list[_Split]:
    """``expr`` as a list of (coefficient, factors, sums, conditions)."""
    if expr == 0:
        return []
    if isinstance(expr, sp.Add):
        return [t for a in expr.args for t in _split(a, tensors)]
    if isinstance(expr, sp.Sum):
        body, renamed = expr.function, []
        for i, lo, hi in expr.limits:  # a fresh symbol: another sum may use the same name
            fresh = sp.Dummy(i.name, **i.assumptions0)
            body = body.xreplace({i: fresh})
            renamed.append((fresh, lo, hi))
        return [(c, f, renamed + s, d) for c, f, s, d in _split(body, tensors)]
    if isinstance(expr, sp.Piecewise):
        found: list[_Split] = []
        before: list[sp.Basic] = []
        for value, condition in expr.args:
            here = [*before] + ([] if condition is sp.true else [condition])
            _require_indices(condition, expr)
            found += [(c, f, s, d + here) for c, f, s, d in _split(value, tensors)]
            before.append(sp.Not(condition))
        return found
    if isinstance(expr, sp.Mul):
        found = [(sp.S.One, [], [], [])]
        for arg in expr.args:
            found = [(c1 * c2, f1 + f2, s1 + s2, d1 + d2) for c1, f1, s1, d1 in found
                     for c2, f2, s2, d2 in _split(arg, tensors)]
        return found
    if isinstance(expr, sp.Indexed) and expr.base in tensors:
        return [(sp.S.One, [Factor(tensors[expr.base], tuple(expr.indices))], [], [])]
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp > 0:
        return _split(sp.Mul(*[expr.base] * int(expr.exp), evaluate=False), tensors)
    if isinstance(expr, sp.KroneckerDelta):
        return [(sp.S.One, [], [], [sp.Eq(*expr.args)])]
    if isinstance(expr, Chosen):  # [r = ρ]: max pooling's pick of a window's maximum
        position, chosen = expr.args
        _require_indices(position, expr)
        if isinstance(chosen, WindowArgmax) and chosen.args[3].is_Integer:
            chosen = WindowArgmax.window(*chosen.args)  # its entries, at the map's indices
        if chosen.is_Integer:  # a window of one entry
            return [(sp.S.One, [], [], [sp.Eq(position, chosen)])]
        if not (isinstance(chosen, FirstMax) and all(
                isinstance(e, sp.Indexed) and e.base in tensors for e in chosen.args)):
            raise ValueError(f"cannot print {expr} as code: a window's maximum is taken over "
                             "entries of the map's tensors")
        window = tuple(Factor(tensors[e.base], tuple(e.indices)) for e in chosen.args)
        return [(sp.S.One, [Choice(position, window)], [], [])]  # type: ignore[list-item]
    if isinstance(expr, Inside):  # [first ≤ v ≤ last]: zero padding, or a general condition
        v, first, last = expr.args
        _require_indices(expr, expr)
        return [(sp.S.One, [], [], [sp.Le(first, v), sp.Le(v, last)])]
    if expr.is_number:  # a number, or a constant such as 1/√2
        return [(expr, [], [], [])]
    raise ValueError(f"cannot print {expr} as code: a layer's map must be a sum of products of "
                     "tensor entries and numbers (with sums, Piecewise, Kronecker deltas or "
                     "Inside brackets on the indices)")


def _require_indices(condition: sp.Basic, where: sp.Expr) -> None:
    if condition.has(sp.Indexed):
        raise ValueError(f"cannot print {where} as code: its condition {condition} reads a "
                         "tensor entry; conditions may test indices only")


def _extent(bound: sp.Expr, ranges: Mapping[sp.Symbol, tuple[int, int]], pick) -> int:
    """The smallest (``pick`` = min) or largest (max) value of a sum bound over the ranges of
    the indices it depends on."""
    bound = sp.sympify(bound)
    if bound.is_Integer:
        return int(bound)
    symbols = sorted(bound.free_symbols, key=str)
    if any(s not in ranges for s in symbols):
        raise ValueError(f"the sum bound {bound} depends on an index that has no range")
    grids = [range(ranges[s][0], ranges[s][1] + 1) for s in symbols]
    count = 1
    for g in grids:
        count *= len(g)
    if count > MAX_GRID:
        raise ValueError(f"the sum bound {bound} depends on {count} index points; at most "
                         f"{MAX_GRID} are evaluated")
    f = sp.lambdify(symbols, bound, "math")
    return int(pick(f(*point) for point in itertools.product(*grids)))


def _conjuncts(conditions) -> list[sp.Basic]:
    found = []
    for c in conditions:
        found += list(c.args) if isinstance(c, sp.And) else [c]
    return [c for c in found if c is not sp.true]


def _padding(condition: sp.Basic, factors: list[Factor], shapes) -> bool:
    """Whether ``condition`` only says that an index of a factor lies inside its axis: what
    reading 0 outside the tensor (zero padding) does already."""
    if not isinstance(condition, sp.Ge | sp.Le | sp.Gt | sp.Lt):
        return False
    lhs, rhs = condition.lhs, condition.rhs
    at_least = {sp.Ge: lhs - rhs, sp.Le: rhs - lhs, sp.Gt: lhs - rhs - 1,
                sp.Lt: rhs - lhs - 1}[type(condition)]  # condition: at_least >= 0 (integers)
    for f in factors:
        for e, n in zip(f.indices, shapes[f.tensor.name]):
            if sp.expand(at_least - (e - 1)) == 0 or sp.expand(at_least - (n - e)) == 0:
                return True
    return False


def _free(exprs) -> set:
    return set().union(*[sp.sympify(e).free_symbols for e in exprs])


def floor_parts(expr: sp.floor) -> tuple[sp.Expr, int]:
    """⌊X/q⌋ as (X, q) with X integer-valued and q a positive integer, printed ``(X) // q``
    (exact integer division, where a float's floor could round); ValueError otherwise."""
    numerator, denominator = sp.fraction(sp.together(expr.args[0]))
    if not (denominator.is_Integer and denominator > 0 and numerator.is_integer):
        raise ValueError(f"cannot print the index {expr} as code: a floor must be of an "
                         "integer over a positive integer")
    return numerator, int(denominator)


class IndexCodePrinter(StrPrinter):
    """Index arithmetic as Python: a floor as exact integer division, a relation as is. The
    NumPy grids and the numba loops print their conditions on top of it."""

    def _print_floor(self, expr):
        numerator, denominator = floor_parts(expr)
        return f"({self.parenthesize(numerator, PRECEDENCE['Mul'])} // {denominator})"

    def _print_Relational(self, expr):
        return f"{self._print(expr.lhs)} {expr.rel_op} {self._print(expr.rhs)}"


BATCH = sp.Symbol("batch")  # stands for the batch axis among the index symbols


def plain(index: sp.Expr, n: int, ranges: Mapping[sp.Symbol, tuple[int, int]]) -> bool:
    """Whether ``index`` runs over exactly the n entries of its axis: an einsum letter (any
    other index is gathered)."""
    return isinstance(index, sp.Symbol) and ranges.get(index) == (1, n)


# ---------------------------------------------------------------- index notation, as text


class _IndexPrinter(StrPrinter):
    def _print_Add(self, expr, order=None):
        if not expr.has(sp.Sum):
            return super()._print_Add(expr, order)
        terms = sorted(expr.args, key=lambda t: (not t.has(sp.Sum), sp.default_sort_key(t)))
        text = self._print(terms[0])
        for t in terms[1:]:
            printed = self._print(t)
            text += f" - {printed[1:]}" if printed.startswith("-") else f" + {printed}"
        return text

    def _print_Sum(self, expr):
        indices = [str(i) for i, _, _ in expr.limits]  # Σ_jk, or Σ_t_dv,s_w for long names
        names = ("".join if all(len(n) == 1 for n in indices) else ",".join)(indices)
        body = self._print(expr.function)
        return f"Σ_{names} {body if expr.function.is_Mul or expr.function.is_Atom else f'({body})'}"

    def _print_Mul(self, expr):
        coeff, rest = expr.as_coeff_Mul()
        factors = [self.parenthesize(f, 50) for f in sp.Mul.make_args(rest)]
        text = " ".join(factors)
        if coeff == 1:
            return text
        return f"-{text}" if coeff == -1 else f"{self._print(coeff)} {text}"

    def _print_Indexed(self, expr):
        return f"{self._print(expr.base)}[{', '.join(self._print(i) for i in expr.indices)}]"


def index_text(m: Map) -> str:
    """``m`` in index notation, as one line of plain text: dx[k] = Σ_j P[j, k] g[j]."""
    out = f"{m.out.name}[{', '.join(str(i) for i in m.index)}]"
    return f"{out} = {_IndexPrinter().doprint(m.formula)}"

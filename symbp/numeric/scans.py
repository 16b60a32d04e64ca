"""A scan printed step by step: a map that reads its own level one step along the last axis of
its output (``Map.own``: a recurrent layer's states, its δ through time), one column at a time.

A scan's statement is a fixed point, v = F(v): the pre map z = W s[:, t − 1] + U x[:, t] + b
with s = σ(z), or BPTT's δ = (g + Wᵀ δ[:, t + 1]) ⊙ σ'(z). ``scan`` reads the map's terms
(``maps.terms``) and checks what makes the column order solve it: every term that reads the
map's own level reads it at t + c for one sign of c ≠ 0 (c = −1 for the states, +1 for δ),
at no other index that moves with t. Then column t of F(v) reads only columns already found
when the columns are found in the order t = 1..T (c < 0) or T..1 (c > 0), so finding each
column once from its own formula gives the one solution, the same array the T sweeps of the
whole map reach (sweep k fixes step k, as ``layers.forward`` finds the entries in order).

Why the printed steps are the program: column t is F's own terms with the output's last
index fixed at t. The terms that read it are ``Part``s: the same factors, each index that
moved with t now the number t + c, so the tensor read there is one column of it; their
conditions on t (the Iverson brackets, h_0 = 0) and the reads outside the tensor (the zero
padding every printer reads as 0) are evaluated at every step, so a part is added exactly at
the steps where the whole map's term is not zero. The terms that read no own entry do not
depend on v: the NumPy module computes them once for every step (``others``: U x + b, the
map as before), the numba kernel as parts too, at each step. Nothing is hand-written: the
NumPy module (``scans_numpy``) and the numba kernel (``scans_numba``) print the parts and
``others`` with the printers of every map. ``summed_over_steps`` reads a parameter's
gradient (a sum over the steps, W's Σ_t δ_t s_(t-1)ᵀ) the same way, as products of columns.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import sympy as sp

from ..core.layers.base import Map, Tensor
from .maps import Factor, Term, Terms

STEP = sp.Symbol("step", integer=True, positive=True)  # the 1-based step t in the formulas


@dataclass(frozen=True)
class Column:
    """A tensor read at one step: ``tensor`` at position ``offset`` from the step on its axis
    ``axis`` (of its own axes), named ``name`` in a part's terms."""

    name: str
    tensor: Tensor
    axis: int
    offset: int
    own: bool  # the scan's own level (found by the scan), not an input or a parameter

    def at(self, t: str) -> str:
        """The position read, as code on the 0-based step ``t``: t - 1, t + 1, t."""
        if self.offset == 0:
            return t
        return f"{t} {'+' if self.offset > 0 else '-'} {abs(self.offset)}"


@dataclass(frozen=True)
class Part:
    """The terms of a scan that read its own level, at one step (the output's last axis fixed:
    their out shape is the output's other axes), and the 1-based steps where they are added."""

    terms: Terms
    steps: tuple[int, ...]
    columns: tuple[Column, ...]

    def guard(self, count: int, t: str = "t") -> str:
        """The steps as a condition on the 0-based step ``t`` ("" at every one of ``count``)."""
        if len(self.steps) == count:
            return ""
        first, last = self.steps[0], self.steps[-1]
        if list(self.steps) != list(range(first, last + 1)):
            return f"{t} in {tuple(s - 1 for s in self.steps)!r}"
        tests = ([f"{t} >= {first - 1}"] if first > 1 else []) + \
            ([f"{t} <= {last - 1}"] if last < count else [])
        return " and ".join(tests)


@dataclass(frozen=True)
class Scan:
    """A scan map at concrete sizes: ``others`` (the terms that read no own entry, over every
    step at once; None if there are none) and the ``parts`` that read it, step by step."""

    steps: int
    backwards: bool  # reads the step after (δ through time): found from the last step down
    entries: int  # the output's entries at one step (its other axes)
    others: Terms | None
    parts: tuple[Part, ...]

    def order(self) -> str:
        """The loop over the 0-based steps, in the order the columns are found."""
        return f"range({self.steps - 1}, -1, -1)" if self.backwards else f"range({self.steps})"


def scan(t: Terms, every_step: bool = False) -> Scan:
    """``t`` (the terms of a map whose output's last axis is the steps) as a scan: with
    ``every_step`` the terms that read no own entry are parts too, found at each step (the
    numba kernel's, which then needs no array of every step), else they are ``others``.
    A map without ``own`` is a scan with no own term. ValueError naming what does not fit."""
    m = t.map
    own_name = None if m.own is None else m.own.name
    step_index = m.index[-1]
    steps = t.out_shape[-1]
    entries = 1
    for n in t.out_shape[:-1]:
        entries *= n
    others: list[Term] = []
    own: list[Term] = []
    for term in t.terms:
        reads = [f for f in term.factors if f.tensor.name == own_name]
        (own if reads or every_step else others).append(term)
    # (no own term: at these sizes every read of the own level lies outside it, T = 1)
    grouped: dict[tuple[int, ...], list[Term]] = {}
    columns: dict[str, Column] = {}
    signs = set()
    for term in own:
        term_at, guard, read = _at_step(term, step_index, m, t, columns)
        for c in read:
            if c.own and (c.offset == 0 or c.axis != len(t.out_shape) - 1
                          or t.shapes[c.tensor.name] != t.out_shape):
                raise ValueError(f"cannot print {_shown(m)} step by step: it reads its own "
                                 "level other than one step along the last axis")
        signs |= {c.offset > 0 for c in read if c.own}
        on = tuple(s for s in range(1, steps + 1) if _holds(guard, s))
        if on:
            grouped.setdefault(on, []).append(term_at)
    if len(signs) > 1:
        raise ValueError(f"cannot print {_shown(m)} step by step: it reads its own level both "
                         "before and after a step")
    rest = dataclasses.replace(t, terms=tuple(others)) if others else None
    return Scan(steps, signs == {True}, entries, rest, _parts(t, step_index, grouped, columns))


def _parts(t: Terms, step_index: sp.Symbol, grouped: dict[tuple[int, ...], list[Term]],
           columns: dict[str, Column]) -> tuple[Part, ...]:
    """Each group of terms at one step (the terms added at the same steps) as a ``Part``:
    the map with its output's last axis dropped, the columns as tensors of their own."""
    m, out = t.map, t.map.out
    shapes, batched = dict(t.shapes), set(t.batched)
    for c in columns.values():
        shapes[c.name] = tuple(n for k, n in enumerate(t.shapes[c.tensor.name]) if k != c.axis)
        if c.tensor.name in t.batched:
            batched.add(c.name)
    shapes[out.name] = t.out_shape[:-1]
    at_step = Map(Tensor(out.name, out.base, out.axes[:-1]), m.index[:-1], m.formula, m.inputs,
                  m.params)
    ranges = {s: r for s, r in t.ranges.items() if s != step_index}
    parts = []
    for on, group in grouped.items():
        names = {f.tensor.name for term in group for f in term.factors}
        read = tuple(c for c in columns.values() if c.name in names)
        used = {name: shape for name, shape in shapes.items()
                if name in names or name == out.name or any(c.tensor.name == name for c in read)}
        parts.append(Part(Terms(at_step, tuple(group), ranges, used,
                                frozenset(batched & set(used)), t.batched_out), on, read))
    return tuple(parts)


def _at_step(term: Term, step_index: sp.Symbol, m: Map, t: Terms,
             columns: dict[str, Column]) -> tuple[Term, list[sp.Basic], list[Column]]:
    """``term`` with the output's last index at ``STEP``: each factor that read along it reads
    one column, and the conditions on the step (with the reads inside their tensors) apart."""
    factors, guard, read = [], [], []
    for f in term.factors:
        indices = [sp.sympify(i).xreplace({step_index: STEP}) for i in f.indices]
        moving = [k for k, i in enumerate(indices) if i.has(STEP)]
        if not moving:
            factors.append(Factor(f.tensor, tuple(indices)))
            continue
        offset = indices[moving[0]] - STEP
        if len(moving) > 1 or not offset.is_Integer:
            raise ValueError(f"cannot print {_shown(m)} step by step: {f.tensor.name} is read "
                             f"at {tuple(indices)}, not at the step plus a number")
        axis, c = moving[0], int(offset)
        name = f"{f.tensor.name}@{c:+d}"
        column = columns.setdefault(name, Column(name, f.tensor, axis, c, f.tensor == m.own))
        read.append(column)
        n = t.shapes[f.tensor.name][axis]
        guard += [sp.Le(1, STEP + c), sp.Le(STEP + c, n)]  # a read outside the tensor is 0
        kept = tuple(i for k, i in enumerate(indices) if k != axis)
        axes = f.tensor.axes[:axis] + f.tensor.axes[axis + 1:]
        factors.append(Factor(Tensor(name, f.tensor.base, axes), kept))
    conditions = []
    for c in term.conditions:
        moved = c.xreplace({step_index: STEP})
        if moved.free_symbols <= {STEP}:
            guard.append(moved)
        elif moved.has(STEP):
            raise ValueError(f"cannot print {_shown(m)} step by step: its condition {c} ties "
                             "the step to another index")
        else:
            conditions.append(moved)
    return dataclasses.replace(term, factors=tuple(factors), conditions=tuple(conditions)), \
        guard, read


@dataclass(frozen=True)
class StepProduct:
    """A term of a parameter's gradient that is a sum over the steps and the samples of two
    sequences, ``coeff`` Σ_t Σ_n a[n, :, t + a_offset] b[n, :, t + b_offset]ᵀ over ``steps``
    (1-based; the steps where both reads lie inside their tensors and the term's conditions
    hold): one matrix product over the rows (step, sample) of their step-major forms."""

    coeff: float
    a: str  # the tensors' names
    b: str
    a_offset: int
    b_offset: int
    steps: tuple[int, ...]


def summed_over_steps(t: Terms) -> tuple[StepProduct, ...] | None:
    """A parameter's gradient map (out[j, k], not batched) whose every term is a
    ``StepProduct`` (W's of a recurrent layer: Σ_t δ[j, t] s[k, t − 1], U's: Σ_t δ[j, t]
    x[i, t]); None for any other map (its terms are printed as loops)."""
    if t.batched_out or len(t.map.index) != 2 or not t.terms:
        return None
    found = []
    for term in t.terms:
        product = _step_product(term, t)
        if product is None:
            return None
        found.append(product)
    return tuple(found)


def _step_product(term: Term, t: Terms) -> StepProduct | None:
    if len(term.factors) != 2 or len(term.sums) != 1 or not term.coeff.is_Number:
        return None
    (summed,) = term.sums
    j, k = t.map.index
    reads: dict[sp.Symbol, tuple[str, int]] = {}
    guard: list[sp.Basic] = []
    for f in term.factors:
        shape = t.shapes[f.tensor.name]
        if f.tensor.name not in t.batched or len(f.indices) != 2:
            return None
        entry, step = (sp.sympify(i) for i in f.indices)
        offset = step - summed
        if entry not in (j, k) or t.ranges[entry] != (1, shape[0]) or not offset.is_Integer:
            return None
        reads[entry] = (f.tensor.name, int(offset))
        guard += [sp.Le(1, STEP + offset), sp.Le(STEP + offset, shape[1])]
    if set(reads) != {j, k} or any(c.free_symbols - {summed} for c in term.conditions):
        return None
    guard += [c.xreplace({summed: STEP}) for c in term.conditions]
    first, last = t.ranges[summed]
    steps = tuple(s for s in range(first, last + 1) if _holds(guard, s))
    (a, a_offset), (b, b_offset) = reads[j], reads[k]
    return StepProduct(float(term.coeff), a, b, a_offset, b_offset, steps)


def _holds(guard: list[sp.Basic], step: int) -> bool:
    return all(bool(c.xreplace({STEP: step})) for c in guard)


def _shown(m: Map) -> str:
    return f"{m.out.name}[...] = {m.formula}"

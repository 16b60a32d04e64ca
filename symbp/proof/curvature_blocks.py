"""The curvature recursion of layer kinds run on blocks of every size: the step function itself
(``core.kinds_curvature.push_curvature``, or one given in its place), not a copy of it.

Per network, the recursion's variables are entries (a_l's, each weight) and a node is one
statement. Here a variable is a whole tensor at a symbolic layer of every size (a^{(e)},
z^{(e)}, W^{(e)}, ...) and a node one layer's statement, z^{(e)} = pre(a^{(e-1)}; θ) or
a^{(e)} = post(σ(z^{(e)})) + skip(a^{(e-1)}; θ), as the kind's maps write it in index
notation (``kind_lemmas``). A ``Block`` is what the step holds where it holds a number: an
entry formula with one tuple of free indices per axis, each axis a variable's. Its products
are the step's sums over a node's entries: the axis of the node's output is contracted
(Σ over every entry, with the symbolic sizes as limits), whatever side it stands on, because
in each product the step forms (Ω_rv J, J Ω_vv J, g J, g ∂²f) exactly one factor is the node's
Jacobian or second derivative and names that output.

Ω_ru and Ω_ur are one block seen from either side: ``LiveBlocks`` turns a block to face the
key it is stored under (a block knows its axes' variables); on the diagonal (r = u), where
both sides name one variable, the scalar step stores Ω_ru and then Ω_ur as the same value
twice in a row, and the second is the first's transpose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sympy as sp

from ..core.kinds_curvature import LiveCurvature, Node
from .index_entries import fresh

Axis = tuple[sp.Symbol, tuple[sp.Symbol, ...], tuple[sp.Expr, ...]]  # variable, indices, shape


@dataclass(frozen=True, eq=False)
class Block:
    """``entry`` over ``axes``; ``out``: the node output a Jacobian or second-derivative block
    is of (its first axis), None for Ω and g."""

    entry: sp.Expr
    axes: tuple[Axis, ...]
    out: sp.Symbol | None = None

    @property
    def variables(self) -> tuple[sp.Symbol, ...]:
        return tuple(v for v, _, _ in self.axes)

    def at(self, *indices: tuple) -> sp.Expr:
        """The entry at one index tuple per axis."""
        rule = {s: i for (_, own, _), given in zip(self.axes, indices)
                for s, i in zip(own, given)}
        return self.entry.xreplace(rule)

    def renamed(self) -> Block:
        """The same block over fresh indices (so that two factors share none)."""
        rule: dict[sp.Symbol, sp.Symbol] = {}
        axes = []
        for v, own, shape in self.axes:
            new = tuple(fresh() for _ in own)
            rule.update(zip(own, new))
            axes.append((v, new, shape))
        return Block(self.entry.xreplace(rule), tuple(axes), self.out)

    @property
    def T(self) -> Block:
        if len(self.axes) != 2:
            raise ValueError(f"a block of {len(self.axes)} axes has no transpose")
        return Block(self.entry, self.axes[::-1])

    def _axis(self, v: sp.Symbol) -> int:
        if self.out == v:
            return 0
        return next(n for n, (u, _, _) in enumerate(self.axes) if u == v)

    def __mul__(self, other: Any) -> Block:
        if not isinstance(other, Block):
            return Block(self.entry * other, self.axes, self.out)
        node = other.out if other.out is not None else self.out
        if node is None:
            raise ValueError("a product of two blocks neither of which is a node's derivative")
        a, b = self.renamed(), other.renamed()
        i, k = a._axis(node), b._axis(node)
        (_, left, shape), (_, right, _) = a.axes[i], b.axes[k]
        summed = tuple(fresh() for _ in left)
        body = a.entry.xreplace(dict(zip(left, summed))) * \
            b.entry.xreplace(dict(zip(right, summed)))
        entry = sp.Sum(body, *[(s, 1, n) for s, n in zip(summed, shape)])
        return Block(entry, a.axes[:i] + a.axes[i + 1:] + b.axes[:k] + b.axes[k + 1:])

    def __rmul__(self, other: Any) -> Block:
        return Block(other * self.entry, self.axes, self.out)

    def __add__(self, other: Any) -> Block:
        if not isinstance(other, Block):
            if other == 0:
                return self
            raise ValueError(f"a block plus {other!r}")
        if other.variables != self.variables:
            if other.variables[::-1] != self.variables or len(self.axes) != 2:
                raise ValueError(f"blocks over {self.variables} and {other.variables} added")
            other = other.T
        rule = {s: t for (_, own, _), (_, theirs, _) in zip(other.axes, self.axes)
                for s, t in zip(own, theirs)}
        return Block(self.entry + other.entry.xreplace(rule), self.axes, self.out)

    __radd__ = __add__

    def __ne__(self, other: Any) -> bool:  # type: ignore[override]
        return not (other == 0 and self.entry == 0) if not isinstance(other, Block) else \
            other is not self

    def __eq__(self, other: Any) -> bool:  # type: ignore[override]
        return not self.__ne__(other)

    __hash__ = object.__hash__


class LiveBlocks(LiveCurvature):
    """``LiveCurvature`` over blocks: each stored facing its key (module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._last: tuple[Any, Any] = (None, None)

    def add(self, r: sp.Symbol, u: sp.Symbol, value: Any) -> None:
        if isinstance(value, Block):
            if r == u:
                if self._last == (value, (u, r)):  # the other side of the pair just stored
                    value = value.T
            elif value.variables == (u, r):
                value = value.T
        self._last = (value, (r, u))
        row = self.omega.setdefault(r, {})
        row[u] = value if u not in row else row[u] + value


@dataclass(frozen=True)
class Variable:
    """A tensor the recursion may hold live: its entries and its shape."""

    symbol: sp.Symbol
    entry: Callable[[tuple], sp.Expr]
    shape: tuple[sp.Expr, ...]

    def indices(self) -> tuple[sp.Symbol, ...]:
        return tuple(fresh() for _ in self.shape)

    def block(self, base: Callable[[tuple], sp.Expr], *others: Variable) -> Block:
        """A block of symbols over this variable (then ``others``): Ω^{(e)}_{jk}, g_j, ..."""
        axes = [(v.symbol, v.indices(), v.shape) for v in (self, *others)]
        return Block(base(tuple(i for _, own, _ in axes for i in own)), tuple(axes))


def node(layer: int, name: str, out: Variable, formula: Callable[[tuple], sp.Expr],
         reads: list[Variable], differentiate: Callable[[sp.Expr, sp.Expr], sp.Expr]) -> Node:
    """One layer's statement ``out = formula`` as a node of blocks: its Jacobian and second
    derivatives in each variable it reads (``differentiate`` σ' made to go on to σ'')."""
    i = out.indices()
    value = formula(i)
    jacobian, second = {}, {}
    firsts = {}
    for v in reads:
        alpha = v.indices()
        first = differentiate(value, v.entry(alpha))
        firsts[v.symbol] = (alpha, first)
        if first != 0:
            jacobian[v.symbol] = Block(first, ((out.symbol, i, out.shape), (v.symbol, alpha,
                                                                             v.shape)), out.symbol)
    for a, v in enumerate(reads):
        alpha, first = firsts[v.symbol]
        if first == 0:
            continue
        for w in reads[a:]:
            beta = w.indices()
            e = differentiate(first, w.entry(beta))
            if e != 0:
                second[(v.symbol, w.symbol)] = Block(
                    e, ((out.symbol, i, out.shape), (v.symbol, alpha, v.shape),
                        (w.symbol, beta, w.shape)), out.symbol)
    return Node(layer, name, (out.symbol,), tuple(v.symbol for v in reads), (jacobian,),
                (second,))

"""Index notation's terms: the tensors' bases, entry indices fresh or free, a vector, matrix
or tensor as the formula of its entry, and softmax as an opaque unit with its registered
Jacobian entry. ``indexed.IndexOps`` builds the recursion from these.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any, ClassVar

import sympy as sp

from ..core import registry
from ..core.built import rebuilt

W, B, Z, A = (sp.IndexedBase(name) for name in ("w", "b", "z", "a"))
DELTA, Y = sp.IndexedBase("delta"), sp.IndexedBase("y")
G = sp.IndexedBase("g")  # g^{(l)} = ∂C/∂a^{(l)}, where a layer's skip passes it back
I, J, K = sp.symbols("i j k", integer=True, positive=True)  # free entry indices


def kind_base(name: str) -> sp.IndexedBase:
    """A layer kind's parameter in index notation: W as w, b as b, P as p."""
    return {"W": W, "b": B}.get(name) or sp.IndexedBase(name.lower())


def fresh() -> sp.Dummy:
    """A new summation index; a Dummy cannot be captured by any other index."""
    return sp.Dummy("i", integer=True, positive=True)


def fresh_bound(expr: sp.Expr) -> sp.Expr:
    """Every index a sum binds renamed to a fresh one, so that no index substituted into
    ``expr`` later (a kind's own o, k, ...) is captured by one of its sums."""
    sums = list(expr.atoms(sp.Sum))
    if any(len(s.atoms(sp.Sum)) > 1 for s in sums):  # nested
        return _renamed_apart(expr, {}, {})
    # side by side, each renamed apart: one rebuild of the formula for all of them
    return expr.xreplace({s: s.xreplace({index: fresh() for index, _, _ in s.limits})
                          for s in sums}) if sums else expr


def _renamed_apart(expr: sp.Basic, renamed: dict, made: dict) -> sp.Basic:
    """What renaming the sums one at a time, each wherever it still stands as written, outer
    sums before inner ones, gives (one of the orders the sums may come in), in one rebuild: a
    sum inside one renamed keeps its own indices where it reads the outer one's (it was
    renamed with it), else it is renamed too. ``renamed``: what the sums around have renamed;
    ``made``: each sum's fresh indices, one set for every place it stands."""
    if expr in renamed:
        return renamed[expr]
    if not expr.args:
        return expr
    if isinstance(expr, sp.Sum) and not (renamed and expr.has(*renamed)):
        if expr not in made:
            made[expr] = {index: fresh() for index, _, _ in expr.limits}
        renamed = made[expr]  # an untouched sum reads none of the indices renamed around it
    args = [_renamed_apart(a, renamed, made) if isinstance(a, sp.Basic) else a
            for a in expr.args]
    return rebuilt(expr, args) if any(a is not b for a, b in zip(args, expr.args)) else expr


def replace_entries(expr: sp.Expr, bases: Container[sp.Basic] | None,
                    value: Callable[[sp.Indexed], sp.Expr | None]) -> sp.Expr:
    """``expr`` with every entry of one of ``bases`` (None: every entry) replaced by
    ``value(entry)`` where that is not None: what ``expr.replace`` with that query gives, in
    one ``xreplace`` of the entries found (``replace`` itself where an entry is indexed by
    another that changes: it goes inside out)."""
    found = [e for e in expr.atoms(sp.Indexed) if bases is None or e.base in bases]
    rule = {}
    for e in found:
        v = value(e)
        if v is not None and v != e:
            rule[e] = v
    if any(a in rule for e in found for i in e.indices for a in i.atoms(sp.Indexed)):
        return expr.replace(lambda e: isinstance(e, sp.Indexed) and (
            bases is None or e.base in bases), value)
    return expr.xreplace(rule) if rule else expr


# ---------------------------------------------------------------- quantities


@dataclass(frozen=True)
class IndexVector:
    """A column vector given by its entry formula in ``index``, of symbolic ``length``."""

    entry: sp.Expr
    index: sp.Symbol
    length: sp.Expr

    def at(self, i: sp.Expr) -> sp.Expr:
        return self.entry.xreplace({self.index: i})

    def _same(self, other: IndexVector) -> None:
        if not isinstance(other, IndexVector) or other.length != self.length:
            raise ValueError(f"cannot add a vector of length {self.length} and {other!r}")

    def __add__(self, other: IndexVector) -> IndexVector:
        self._same(other)
        return IndexVector(self.entry + other.at(self.index), self.index, self.length)

    def __sub__(self, other: IndexVector) -> IndexVector:
        return self + (-other)

    def __neg__(self) -> IndexVector:
        return -1 * self

    def __mul__(self, scalar: Any) -> IndexVector:
        scalar = sp.sympify(scalar)
        if not scalar.is_Number:
            raise TypeError(f"an index vector can only be scaled by a number, not {scalar}")
        return IndexVector(scalar * self.entry, self.index, self.length)

    __rmul__ = __mul__


@dataclass(frozen=True)
class IndexMatrix:
    """A matrix given by its entry formula in (``row``, ``col``), of symbolic ``shape``."""

    entry: sp.Expr
    row: sp.Symbol
    col: sp.Symbol
    shape: tuple[sp.Expr, sp.Expr]

    def at(self, j: sp.Expr, k: sp.Expr) -> sp.Expr:
        return self.entry.xreplace({self.row: j, self.col: k})


@dataclass(frozen=True)
class IndexTensor:
    """A tensor of several axes (channels × positions, a kernel) by its entry formula in
    ``indices``, of symbolic ``shape``; as a vector of the program, its entries row-major."""

    entry: sp.Expr
    indices: tuple[sp.Symbol, ...]
    shape: tuple[sp.Expr, ...]

    def at(self, *index: sp.Expr) -> sp.Expr:
        return self.entry.xreplace(dict(zip(self.indices, index)))

    @property
    def length(self) -> sp.Expr:
        return sp.Mul(*self.shape)


def shape_of(v: Any) -> tuple[sp.Expr, ...] | None:
    """The axes of an index vector or tensor; None for anything else."""
    if isinstance(v, IndexVector):
        return (v.length,)
    return v.shape if isinstance(v, IndexTensor) else None


def same_shape(a: tuple | None, b: tuple) -> bool:
    return a is not None and len(a) == len(b) and all(
        sp.expand(x - y) == 0 for x, y in zip(a, b))


def named(base: sp.IndexedBase, layer: sp.Expr, shape: tuple[sp.Expr, ...]) -> Any:
    """base^{(layer)} as entries in fresh indices: a vector for one axis, else a tensor."""
    index = tuple(fresh() for _ in shape)
    if len(shape) == 1:
        return IndexVector(base[layer, index[0]], index[0], shape[0])
    return IndexTensor(base[(layer, *index)], index, shape)


# ---------------------------------------------------------------- softmax, opaque


def softmax_unit(act: registry.Activation,
                 entries: Callable[[sp.Expr, sp.Expr], sp.Expr] | None = None
                 ) -> type[sp.Function]:
    """``S(z, l, j)``: entry j of ``act`` applied to z^{(l)}, opaque like σ.

    Its derivative by z^{(l')}_k is [l = l'] times the registered Jacobian entry
    (lifted to symbolic indices by ``jacobian_entry``); the Jacobian lemma ties that
    entry to the explicit formula. The entries of a^{(l)} the Jacobian reads are S's own,
    or ``entries(l, i)`` where given (a^{(l)}_i as a symbol of its own, for lemmas whose
    other side reads a^{(l)} too). A new class per call: nothing cached outlives a proof.
    """

    class Unit(sp.Function):
        nargs = 3
        registered: ClassVar[registry.Activation] = act

        def _eval_derivative(self, s: sp.Basic) -> sp.Expr:
            base, layer, j = self.args
            if isinstance(s, sp.Indexed) and s.base == base and len(s.indices) == 2:
                same_layer = sp.KroneckerDelta(layer, s.indices[0])
                return same_layer * jacobian_entry(
                    act, layer, j, s.indices[1], lambda i: type(self)(base, layer, i)
                    if entries is None else entries(layer, i))
            return sp.Integer(0)  # softmax(z^{(l)}) depends on the entries of z^{(l)} only

        def _latex(self, printer: Any) -> str:
            _, layer, j = self.args
            return (rf"\operatorname{{{act.name}}}\bigl(z^{{({printer._print(layer)})}}"
                    rf"\bigr)_{{{printer._print(j)}}}")

    Unit.__name__ = act.name
    return Unit


def jacobian_entry(act: registry.Activation, layer: sp.Expr, j: sp.Expr, k: sp.Expr,
                   a_of: Callable[[sp.Expr], sp.Expr]) -> sp.Expr:
    """∂a^{(l)}_j/∂z^{(l)}_k from the registered Jacobian, for symbolic j and k.

    The registry gives the Jacobian of a list; on two entries it gives the entry for
    j = k and for j ≠ k, joined here as [j = k] same + (1 − [j = k]) other. Sound for
    a Jacobian whose entry depends on j and k only through a_j, a_k, z_j, z_k and
    whether j = k; the theorem checks that at widths 2..4.
    """
    zj, zk, aj, ak = sp.symbols("zj zk aj ak", cls=sp.Dummy)
    matrix = act.jacobian([zj, zk], [aj, ak])
    values = {zj: Z[layer, j], zk: Z[layer, k], aj: a_of(j), ak: a_of(k)}
    same, other = matrix[0, 0].xreplace(values), matrix[0, 1].xreplace(values)
    delta = sp.KroneckerDelta(j, k)
    return delta * same + (1 - delta) * other

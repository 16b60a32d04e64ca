"""A softmax's stabilizer read exactly: the row maximum m that the printed code subtracts
before exp (softmax(s − m) = softmax(s) for every m), and its tangent.

NumPy prints m = np.max(s, axis=-1) and its tangent as the tangent at np.argmax(s). Neither
can be decided on symbols, and neither needs to be: m is read as a free symbol, one per row,
and its tangent ṁ as another (``Maxima.row``). The trace pairs m with ṁ, so every statement
after it is checked against D_v with m and ṁ as variables of their own; the primal gradient
is then compared with the δ program's with m free. Both identities hold for every m and ṁ,
in particular for the row's maximum and the code's argmax tangent: the returned tangents are
D_(v, ṁ) of a gradient that does not depend on m, so D_v of the δ program's gradient. If the
code's value did depend on m (a stabilizer subtracted in one place and not another), the
comparison with m free fails: it never proves what holds only at one m.

The numba kernel takes the maximum by a loop, ``acc = max(acc, s)``, which the exact run
reads as it is (a choice: Piecewise((a, a > b), (b, True))); its tangent is checked like any
choice's. Its value is kept free in the gradient's comparison, as NumPy's m is (an identity
for every value of it holds at the one it takes).

One fact is used, and only where it is true: the code clamps exp's argument, exp(min(0,
t − m)), so that an entry the causal mask leaves out cannot overflow (it is not in the row
whose maximum m is). For an entry t of m's row, t ≤ m, so 0 < t − m is decided false
(``Maxima.decide``): the branch the code takes at the row's maximum and at every m above
it. An entry not in the row keeps its choice (the mask multiplies it by an exact 0 later).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp

# 0 op value with value ≤ 0 known: these are decided (0 < value false, 0 >= value true)
_DECIDED = {"<": sp.false, ">=": sp.true}
_FLIPPED = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!="}


class ArgMax:
    """np.argmax over the last axis of an array of symbols: where the maximum is, not decided;
    np.expand_dims keeps it, np.take_along_axis reads it as the rows' tangents ṁ, and any
    other use (an index, arithmetic) raises."""

    def __init__(self, of: np.ndarray, expanded: bool = False):
        self.of, self.expanded = of, expanded


class Maxima:
    """The row maxima of one exact run. ``definitions`` are the trace's (a value's symbol ->
    what it was computed from); ``free(m, ṁ)`` is told of each new maximum and its tangent."""

    def __init__(self, definitions: dict | None = None,
                 free: Callable[[sp.Symbol, sp.Symbol], None] | None = None):
        self.definitions = definitions if definitions is not None else {}
        self._free = free
        self._rows: dict[tuple, tuple[sp.Symbol, sp.Symbol]] = {}
        self._below: dict[sp.Basic, frozenset] = {}  # a maximum -> the values it is at least
        self.shifts: set[sp.Symbol] = set()  # the free maxima, and the choices a decision used
        self._scales: dict[sp.Symbol, sp.Symbol] = {}  # m -> the symbol standing for e^-m
        self.decided = 0  # comparisons decided by t ≤ m

    # ---- NumPy's np.max and the tangent at np.argmax

    def maximum(self, a: np.ndarray) -> np.ndarray:
        """The maximum of each row (last axis) of ``a``, a free symbol per row."""
        return self._map(a, lambda row: self.row(row)[0])

    def rates(self, indices: ArgMax, values: Any, axis: int) -> np.ndarray:
        """np.take_along_axis(values, expand_dims(argmax(a), -1), -1): each row's ṁ."""
        a = indices.of
        if not indices.expanded or axis not in (-1, a.ndim - 1) or np.shape(values) != a.shape:
            raise ValueError("np.argmax of symbols is read only as the tangent at a row's "
                             "maximum: np.take_along_axis(R, np.expand_dims(np.argmax(a, "
                             "axis=-1), -1), axis=-1) with R of a's shape")
        return self._map(a, lambda row: self.row(row)[1])[..., None]

    def _map(self, a: np.ndarray, f) -> np.ndarray:
        out = np.empty(a.shape[:-1], dtype=object)
        for index in np.ndindex(out.shape):
            out[index] = f(tuple(a[index]))
        return out

    def row(self, entries: tuple) -> tuple[sp.Symbol, sp.Symbol]:
        """The free maximum m of a row and its tangent ṁ (the same for the same entries)."""
        found = self._rows.get(entries)
        if found is None:
            n = len(self._rows) + 1
            found = self._rows[entries] = (sp.Symbol(f"m{n}", real=True),
                                           sp.Symbol(f"R_m{n}", real=True))
            self._below[found[0]] = frozenset(
                e for e in entries if sp.sympify(e) is not sp.S.NegativeInfinity)
            self.shifts.add(found[0])
            if self._free:
                self._free(*found)
        return found

    # ---- the fact t ≤ m

    def decide(self, u: sp.Expr, op: str, w: sp.Expr) -> Any:
        """u op w decided by value ≤ 0 (value = t − m, t in m's row), or None."""
        if u == 0:
            asked, value = op, w
        elif w == 0:
            asked, value = _FLIPPED[op], u
        else:
            return None
        if asked not in _DECIDED or not self.nonpositive(value):
            return None
        self.decided += 1
        return _DECIDED[asked]

    def nonpositive(self, value: sp.Expr) -> bool:
        """Whether ``value`` is t − M (by its definition), t an entry of M's row."""
        body = self.definitions.get(value, value)
        if not body.is_Add or len(body.args) != 2:
            return False
        for t, negated in (body.args, body.args[::-1]):
            top = -negated
            if top.is_Symbol and t in self.below(top):
                self.shifts.add(top)
                return True
        return False

    def below(self, top: sp.Basic) -> frozenset:
        """What ``top`` is known to be at least: a free maximum's row, or, for a choice
        max(a, b) = Piecewise((a, a > b), (b, True)), a and b and what they are at least."""
        found = self._below.get(top)
        if found is None:
            found = frozenset()
            body = self.definitions.get(top)
            pair = _max_of(body) if isinstance(body, sp.Piecewise) else None
            if pair is not None:
                found = frozenset(pair).union(*map(self.below, pair))
            self._below[top] = found
        return found

    # ---- the primal values composed, the stabilizer cancelled where it cancels

    def stabilized(self, value: sp.Expr) -> sp.Expr:
        """``value`` (made of parts already stabilized) with e^(t − m) as e^t c_m, c_m a
        positive symbol standing for e^-m, and c_m^k taken out of a sum whose every term holds
        it: a softmax's quotient e^t c_m / (c_m Σ e^s) is then e^t / Σ e^s as SymPy builds it.
        Every step is an equality of values; where m is not cancelled, c_m stays."""
        if not self.shifts:
            return value
        if isinstance(value, sp.exp) and value.args[0].is_Add:
            terms = value.args[0].args
            shift = [a for a in terms if a in self.shifts or -a in self.shifts]
            if shift:
                rest = sp.exp(sp.Add(*[a for a in terms if a not in shift]))
                return rest * sp.Mul(*[self._scale(-a) if -a in self.shifts
                                       else 1 / self._scale(a) for a in shift])
        if value.is_Add:
            powers = [sp.Mul.make_args(a) for a in value.args]
            common = set(powers[0]).intersection(*powers[1:]) & self._powers()
            if common:
                factor = sp.Mul(*common)
                return factor * sp.Add(*[a / factor for a in value.args])
        return value

    def held(self, expr: Any) -> bool:
        """Whether ``expr`` holds a free maximum (or e^-m): a difference that does is one
        for some m, which may not be the maximum, so it does not refute."""
        free = {*self.shifts, *self._scales.values()}
        return bool(getattr(expr, "free_symbols", set()) & free)

    def _scale(self, m: sp.Symbol) -> sp.Symbol:
        if m not in self._scales:
            self._scales[m] = sp.Symbol(f"exp_minus_{m}", positive=True)
        return self._scales[m]

    def _powers(self) -> set[sp.Expr]:
        return {c ** k for c in self._scales.values() for k in (1, -1)}


def _max_of(choice: sp.Piecewise) -> tuple[sp.Basic, sp.Basic] | None:
    """(a, b) when ``choice`` is max(a, b): a where a > b (or a >= b), else b."""
    if len(choice.args) != 2 or choice.args[1][1] is not sp.true:
        return None
    (a, test), (b, _) = choice.args
    if isinstance(test, sp.Gt | sp.Ge) and (test.lhs, test.rhs) == (a, b):
        return a, b
    if isinstance(test, sp.Lt | sp.Le) and (test.lhs, test.rhs) == (b, a):
        return a, b
    return None

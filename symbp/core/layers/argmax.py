"""Max pooling as a selection: which entry of a window is its maximum, and the bracket that
picks it.

Where every window's maximum is unique (an open set whose complement has measure zero),
max pooling is a selection, a[o, t] = s[o, q(t − 1) + ρ[o, t]], with ρ the position of the
window's maximum, 1..q. There ρ is locally constant: a small change of s moves no maximum to
another entry, so ρ's derivative is 0 and C's derivative is g routed to the maximum. At a
tie C has no derivative; ρ is then the first maximum (NumPy's argmax), and g routed there is
one of C's subgradients. These functions are that reading, and no more:

- ``FirstMax(v_1, ..., v_q)``: the index of the first maximum, a number once every v_k is a
  number; its derivative by anything is 0 (locally constant where the maximum is unique);
- ``WindowArgmax(s, o, t, q)``: ρ[o, t], the ``FirstMax`` of s[o, q(t − 1) + 1..q], written
  for any window q (it becomes a ``FirstMax`` at one entry, o, t and q numbers);
- ``Chosen(r, ρ)``: the Iverson bracket [r = ρ], 1 where the entry r is the one chosen.

The provers compare expressions holding them as opaque integers: sympy.diff of a composed
cost treats them as constants (their ``fdiff`` is 0), exactly as the chain rule does where
the maximum is unique. A proof with them says "proved where every window's maximum is
unique", never more.
"""

from __future__ import annotations

from typing import Any

import sympy as sp


class FirstMax(sp.Function):
    """The index (1-based) of the first maximum of its arguments; derivative 0."""

    is_integer = True
    is_positive = True

    @classmethod
    def eval(cls, *values: sp.Expr) -> sp.Expr | None:
        if len(values) == 1:
            return sp.Integer(1)
        if not all(v.is_number and v.is_extended_real for v in values):
            return None
        best = 0  # the first maximum so far: a later value replaces it only if larger
        for k in range(1, len(values)):
            larger = (values[k] - values[best]).is_extended_positive
            if larger is None:  # not decided (an exact tie SymPy cannot see): left open
                return None
            if larger:
                best = k
        return sp.Integer(best + 1)

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.S.Zero  # locally constant where the maximum is unique

    def _latex(self, printer: Any, exp: str | None = None) -> str:
        values = ", ".join(printer._print(a) for a in self.args)
        tex = rf"\operatorname{{argmax}}\left({values}\right)"
        return tex if exp is None else f"{tex}^{{{exp}}}"


class WindowArgmax(sp.Function):
    """ρ[o, t]: the first maximum of the window s[o, q(t − 1) + 1], ..., s[o, q(t − 1) + q]
    of the IndexedBase s; a ``FirstMax`` of those entries at one entry (o, t and q numbers),
    where the map is read entry by entry. Printed ρ_{o,t} until then."""

    nargs = 4
    is_integer = True
    is_positive = True

    @classmethod
    def eval(cls, s: sp.Basic, o: sp.Expr, t: sp.Expr, q: sp.Expr) -> sp.Expr | None:
        if o.is_Integer and t.is_Integer and q.is_Integer:
            return cls.window(s, o, t, q)
        return None

    @staticmethod
    def window(s: sp.Basic, o: sp.Expr, t: sp.Expr, q: sp.Expr) -> sp.Expr:
        """The ``FirstMax`` of the window's entries (q a number)."""
        return FirstMax(*[s[o, q * (t - 1) + r] for r in range(1, int(q) + 1)])

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.S.Zero

    def _latex(self, printer: Any, exp: str | None = None) -> str:
        o, t = (printer._print(a) for a in self.args[1:3])
        tex = rf"\rho_{{{o},{t}}}"
        return tex if exp is None else f"{tex}^{{{exp}}}"


class Chosen(sp.Function):
    """[r = ρ], the Iverson bracket: 1 where entry r of a window is the one ρ chose, else 0.
    Its derivative is 0 (both sides are integers); it evaluates once both are numbers."""

    nargs = 2
    is_integer = True
    is_nonnegative = True

    @classmethod
    def eval(cls, r: sp.Expr, chosen: sp.Expr) -> sp.Expr | None:
        if r.is_Integer and chosen.is_Integer:
            return sp.Integer(int(r == chosen))
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.S.Zero

    def _latex(self, printer: Any, exp: str | None = None) -> str:
        r, chosen = (printer._print(a) for a in self.args)
        tex = rf"[{r} = {chosen}]"
        return tex if exp is None else f"{tex}^{{{exp}}}"

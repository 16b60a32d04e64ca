"""New coordinates for comparing a program's exact run with the proved expressions, in which
both are rational functions with monomial denominators (``Coordinates``).

The code computes σ(z) as 1/(1 + e^(−z)) and chooses by np.where; the proved expressions hold
the registry's opaque σ(z), σ'(z), σ''(z). Both are rewritten, each node replaced by one of
equal value, shared subexpressions once:

- an opaque activation (and its σ', σ'') becomes its registered formula;
- e^(−k) becomes (1 − s)/s and e^k becomes s/(1 − s), s = 1/(1 + e^(−k)) a positive symbol,
  one per k (an exponent up to its sign): sigmoid's 1/(1 + e^(−z)) is then s, its
  derivatives polynomials in s; but for the e^k that ``kept`` names (attention's row
  entries, which ``softmax_rows.RowsExact`` turns into its own coordinates, its row sums
  monomials where s/(1 − s) would multiply every denominator by each 1 − s);
- Piecewise((a, c), (b, True)) becomes b + h (a − b), h a symbol standing for the indicator
  of c, one per condition (a Piecewise of more branches is this nested; one without a last
  branch that holds everywhere is refused).

Why "equal" stays a proof (as in ``softmax_rows``): the rewritten expressions G satisfy
G(ξ, u(ξ)) = F(ξ), u the new symbols at the values they stand for (s in (0, 1), h in {0, 1}).
``Exact`` proves the rewritten difference zero as a rational function of independent ξ and u,
so it vanishes at u = u(ξ) wherever its denominators (powers of s and 1 − s, and those of
F) do not. Forgetting relations (h² = h, two exponents that are equal written differently)
can only leave a true identity unproved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy as sp

from ..core.functions import Opaque


class Coordinates:
    """One rewriting, shared by both sides of the comparisons that use it."""

    def __init__(self, kept: Callable[[sp.Expr], bool] | None = None) -> None:
        self._kept = kept  # e^u left as it is: a softmax row's entry, which the session reads
        self._memo: dict[sp.Basic, sp.Expr] = {}
        self._logistic: dict[sp.Expr, sp.Symbol] = {}
        self._indicator: dict[sp.Basic, sp.Symbol] = {}

    def __call__(self, expr: Any) -> Any:
        if isinstance(expr, sp.MatrixBase):
            return expr.applyfunc(self)
        found = self._memo.get(expr)
        if found is not None:
            return found
        if not expr.args:
            out = expr
        elif isinstance(expr, sp.Piecewise):
            out = self._piecewise(expr)
        else:
            args = [self(a) for a in expr.args]
            formula = type(expr).formula if isinstance(expr, Opaque) else None
            if formula is not None:
                out = self(formula(args[0]))
            elif isinstance(expr, sp.exp):
                out = self._exp(args[0])
            elif any(a is not b for a, b in zip(args, expr.args)):
                out = expr.func(*args)
            else:
                out = expr
        self._memo[expr] = out
        return out

    def introduced(self, expr: Any) -> bool:
        """Whether ``expr`` holds a symbol of these coordinates: a difference that does may
        vanish by a relation they forget, so it does not refute."""
        new = {*self._logistic.values(), *self._indicator.values()}
        return bool(getattr(expr, "free_symbols", set()) & new)

    def _exp(self, u: sp.Expr) -> sp.Expr:
        if self._kept is not None and self._kept(u):
            return sp.exp(u)
        if u.could_extract_minus_sign():
            s = self._symbol(self._logistic, -u, "logistic")
            return (1 - s) / s
        s = self._symbol(self._logistic, u, "logistic")
        return s / (1 - s)

    def _piecewise(self, expr: sp.Piecewise) -> sp.Expr:
        *branches, (last, always) = expr.args
        if always is not sp.true:
            raise ValueError(f"a Piecewise without a last branch that holds everywhere: "
                             f"{str(expr)[:80]}")
        out = self(last)
        for value, condition in reversed(branches):
            h = self._symbol(self._indicator, self(condition), "indicator", positive=None)
            out = out + h * (self(value) - out)
        return out

    @staticmethod
    def _symbol(table: dict, key: sp.Basic, prefix: str, positive: bool | None = True
                ) -> sp.Symbol:
        if key not in table:  # s in (0, 1) is positive; h in {0, 1} is not
            table[key] = sp.Symbol(f"{prefix}{len(table) + 1}", positive=positive)
        return table[key]

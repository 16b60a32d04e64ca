"""The operators of the vector forms (``vector``): each says what it computes, its entries
from its operands' entries (object arrays of SymPy expressions, a vector a column); how it
prints is ``printing.vector``'s, one ``_print_`` method each. Those over positions
(convolution, pooling) are ``conv_operators``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

SIGMA, SIGMA_PRIME = sp.Function("sigma"), sp.Function("sigma_prime")  # any elementwise σ


@dataclass(frozen=True)
class Context:
    """What a form is evaluated on: every operand's entries, the sizes, the step t."""

    operands: Mapping[sp.Symbol, Any]  # name -> object array (a vector a column)
    sizes: Mapping[sp.Symbol, int]
    step: int | None = None


class Op(sp.Function):
    """An operator of the vector forms: ``value`` gives its entries from its operands'."""

    @classmethod
    def eval(cls, *args: Any) -> None:  # never evaluated by SymPy: only by ``value``
        return None

    def value(self, args: list[Any], at: Context) -> Any:  # pragma: no cover
        raise NotImplementedError


class Plus(Op):
    """a + b + ...; a ``Neg`` term prints as a minus. Columns broadcast over positions (+ b)."""

    def value(self, args: list[Any], at: Context) -> Any:
        total = args[0]
        for a in args[1:]:
            total = total + a
        return total


class Neg(Op):
    nargs = 1

    def value(self, args: list[Any], at: Context) -> Any:
        return -args[0]


class Dot(Op):
    """The matrix product A B (a number times a matrix where one side is 1 × 1 or a scalar)."""

    nargs = 2

    def value(self, args: list[Any], at: Context) -> Any:
        a, b = args
        if _scalar(a) or _scalar(b):
            return _number(a) * b if _scalar(a) else a * _number(b)
        return np.array([[sp.Add(*[a[i, k] * b[k, j] for k in range(a.shape[1])])
                          for j in range(b.shape[1])] for i in range(a.shape[0])], dtype=object)


class T(Op):
    """Aᵀ."""

    nargs = 1

    def value(self, args: list[Any], at: Context) -> Any:
        return args[0].T


class Had(Op):
    """A ⊙ B, entry by entry."""

    nargs = 2

    def value(self, args: list[Any], at: Context) -> Any:
        return args[0] * args[1]


class Over(Op):
    """A / c, c a number (or 1 × 1)."""

    nargs = 2

    def value(self, args: list[Any], at: Context) -> Any:
        return args[0] / _number(args[1])


class Sigma(Op):
    """σ(A), entry by entry."""

    nargs = 1

    def value(self, args: list[Any], at: Context) -> Any:
        return _each(SIGMA, args[0])


class SigmaPrime(Op):
    """σ'(A), entry by entry."""

    nargs = 1

    def value(self, args: list[Any], at: Context) -> Any:
        return _each(SIGMA_PRIME, args[0])


class Named(Op):
    """A constant shown by its name (ε) and computed as its value."""

    nargs = 2

    def value(self, args: list[Any], at: Context) -> Any:
        return args[1]


class Ones(Op):
    """1, the column of n ones."""

    nargs = 1

    def value(self, args: list[Any], at: Context) -> Any:
        return np.full((int(args[0]), 1), sp.Integer(1), dtype=object)


class SqNorm(Op):
    """‖A‖², the sum of its squared entries (1 × 1)."""

    nargs = 1

    def value(self, args: list[Any], at: Context) -> Any:
        return np.array([[sp.Add(*[e**2 for e in args[0].ravel()])]], dtype=object)


class Root(Op):
    """√A, entry by entry (of a number: 1 × 1)."""

    nargs = 1

    def value(self, args: list[Any], at: Context) -> Any:
        if _scalar(args[0]):
            return np.array([[sp.sqrt(_number(args[0]))]], dtype=object)
        return _each(sp.sqrt, args[0])


class Div(Op):
    """A ⊘ B, entry by entry (a batch norm's x̂ = (x − μ 1ᵀ) ⊘ (s 1ᵀ))."""

    nargs = 2

    def value(self, args: list[Any], at: Context) -> Any:
        a, b = args
        if a.shape != b.shape:
            raise ValueError(f"⊘ of a {a.shape} and a {b.shape} array")
        return a / b


class RowSum(Op):
    """Each row's sum, a column: Σ_t δ[o, t]; rowsum(M)."""

    nargs = 1

    def value(self, args: list[Any], at: Context) -> Any:
        m = args[0]
        return np.array([[sp.Add(*row)] for row in m], dtype=object)


class RowSoftmax(Op):
    """P[t, s] = [s ≤ t] e^(S[t, s]) / Σ_r [r ≤ t] e^(S[t, r]), the mask only when causal."""

    nargs = 2

    def value(self, args: list[Any], at: Context) -> Any:
        scores, causal = args[0], bool(args[1])
        rows, cols = scores.shape
        out = np.empty((rows, cols), dtype=object)
        for t in range(rows):
            seen = [s for s in range(cols) if not causal or s <= t]
            total = sp.Add(*[sp.exp(scores[t, s]) for s in seen])
            for s in range(cols):
                out[t, s] = sp.exp(scores[t, s]) / total if s in seen else sp.Integer(0)
        return out


class Step(Op):
    """A sequence at step t + offset (a column), zero outside its steps: s_(t-1), a_t."""

    nargs = 2

    def value(self, args: list[Any], at: Context) -> Any:
        seq, offset = args[0], int(args[1])
        if at.step is None:
            raise ValueError(f"{self} is read outside a step")
        u = at.step + offset
        if 1 <= u <= seq.shape[1]:
            return seq[:, u - 1: u]
        return np.full((seq.shape[0], 1), sp.Integer(0), dtype=object)


class Last(Op):
    """A sequence's last column, s_T."""

    nargs = 1

    def value(self, args: list[Any], at: Context) -> Any:
        return args[0][:, -1:]


class AtLast(Op):
    """[t = T] g: g at the last of ``steps`` steps, zero at the others."""

    nargs = 2

    def value(self, args: list[Any], at: Context) -> Any:
        g, steps = args[0], int(args[1])
        if at.step is None:
            raise ValueError(f"{self} is read outside a step")
        return g if at.step == steps else np.full(g.shape, sp.Integer(0), dtype=object)


class StepSum(Op):
    """Σ_(t = first)^T of one step's value, T = ``steps``."""

    nargs = 3

    def value(self, args: list[Any], at: Context) -> Any:  # evaluated by ``value`` itself
        raise NotImplementedError


def _scalar(a: Any) -> bool:
    return not isinstance(a, np.ndarray) or a.shape == (1, 1)


def _number(a: Any) -> Any:
    return a[0, 0] if isinstance(a, np.ndarray) else a


def _each(f: Callable[[Any], Any], a: Any) -> Any:
    return np.vectorize(f, otypes=[object])(a)

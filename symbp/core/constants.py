"""The constants a program records, exact: a number (``exact``, the rational the generated
code uses to the last bit) and a constant array as rows of them (``mask_rows``).
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction
from typing import Any

import sympy as sp

from .program import ProgramError


def is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number | sp.Number) and not isinstance(value, bool)


def exact(value: Any, what: str) -> sp.Rational:
    """``value`` as an exact rational: the number the generated code uses, to the last bit."""
    if isinstance(value, sp.Rational):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ProgramError(f"{what} must be a real number, got {value!r}")
    if not math.isfinite(value):
        raise ProgramError(f"{what} must be finite, got {value!r}")
    return sp.Rational(Fraction(value))  # type: ignore[call-overload]  # a float: exact


def mask_rows(mask: Any, v: Any) -> tuple[tuple[sp.Rational, ...], ...]:
    """A constant array of ``v``'s (concrete) shape as rows of exact numbers (``v`` a
    ``recorder.Ref``)."""
    rows_n, cols_n = v.shape
    if not (isinstance(rows_n, int) and isinstance(cols_n, int)):
        raise ProgramError(f"v * M: {v.name} has a symbolic shape; a constant array fixes the "
                           "widths, so it cannot stand for every width")
    try:
        matrix = sp.Matrix(mask.tolist() if hasattr(mask, "tolist") else mask)
    except Exception:  # anything SymPy cannot read as a matrix
        raise ProgramError(f"v * M takes a number or a constant array, got "
                           f"{type(mask).__name__}") from None
    if matrix.shape == (1, rows_n) and cols_n == 1:
        matrix = matrix.T
    if matrix.shape != (rows_n, cols_n):
        raise ProgramError(f"v * M: the array has shape {matrix.shape}, {v.name} has "
                           f"{(rows_n, cols_n)}")
    return tuple(tuple(exact(matrix[r, c], "an entry of M") for c in range(cols_n))
                 for r in range(rows_n))

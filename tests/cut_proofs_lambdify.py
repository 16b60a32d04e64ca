"""sympy.lambdify for the tests' numeric oracles, without its two walks of the whole tree.

Given a Matrix or an expression, lambdify walks every path of it twice before printing, for its
symbols and for implemented functions (``_imp_``). A derivation's Hessian shares subexpressions
across its entries, so the walks took most of the time: lambdify of the three Hessians of
test_kinds_second_order's residual network took 4.1 CPU-s, 0.5 without them. Given the entries
as a list, and ``use_imps=False``, it prints the same code from the same expressions: only the
walks are skipped. A name the code would then not know (an opaque function left after
``explicit``) fails the call; it cannot change a value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp


def lambdified(args: Any, expr: Any, modules: str, **options: Any):
    """``sympy.lambdify(args, expr, modules)``: a Matrix comes back as a NumPy array of floats
    of its shape, an expression as its value."""
    if isinstance(expr, sp.MatrixBase):
        f = sp.lambdify(args, list(expr), modules=modules, use_imps=False, **options)
        shape = expr.shape
        return lambda *values: np.array(f(*values), dtype=float).reshape(shape)
    if isinstance(expr, list):
        return sp.lambdify(args, expr, modules=modules, use_imps=False, **options)
    f = sp.lambdify(args, [expr], modules=modules, use_imps=False, **options)
    return lambda *values: f(*values)[0]

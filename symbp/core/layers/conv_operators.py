"""The operators of the vector forms over positions (``operators`` has the rest):
cross-correlation ``Star``, a kernel flipped (``Flip``), the full convolution back
(``FullConv``), and pooling forward and back (``AvgPool``, ``AvgPoolT``, ``MaxPool``,
``MaxPoolT``); a convolution layer's forms are written with them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from .argmax import Chosen, FirstMax
from .operators import Context, Op


class Star(Op):
    """Cross-correlation over positions with left padding p (zero outside the input):
    K ⋆ x, K (C_out × C_in × k) on x (C_in × N), gives z[o, t] = Σ_c Σ_s K[o, c, s]
    x[c, t + s − 1 − p] for t = 1..n; δ ⋆ x, δ (C_out × n) on x, gives the kernel's shape,
    [o, c, s] = Σ_t δ[o, t] x[c, t + s − 1 − p] for s = 1..n."""

    nargs = 4

    def value(self, args: list[Any], at: Context) -> Any:
        a, x, p, n = args[0], args[1], int(args[2]), int(args[3])

        def seen(c: int, u: int) -> Any:  # x[c, u], 0-based u; zero outside
            return x[c, u] if 0 <= u < x.shape[1] else sp.Integer(0)

        if a.ndim == 3:
            c_out, c_in, k = a.shape
            return np.array([[sp.Add(*[a[o, c, s] * seen(c, t + s - p) for c in range(c_in)
                                       for s in range(k)]) for t in range(n)]
                             for o in range(c_out)], dtype=object)
        c_out, positions = a.shape
        return np.array([[[sp.Add(*[a[o, t] * seen(c, t + s - p) for t in range(positions)])
                           for s in range(n)] for c in range(x.shape[0])]
                         for o in range(c_out)], dtype=object)


class Flip(Op):
    """The kernel reversed along its positions: flip(K)[o, c, s] = K[o, c, k + 1 − s]."""

    nargs = 1

    def value(self, args: list[Any], at: Context) -> Any:
        return args[0][:, :, ::-1]


class FullConv(Op):
    """F ∗_full δ at left padding p over n input positions: [c, u] = Σ_o Σ_s F[o, c, s]
    δ[o, u + s − k + p], δ zero outside its positions (the full convolution)."""

    nargs = 4

    def value(self, args: list[Any], at: Context) -> Any:
        f, d, p, n = args[0], args[1], int(args[2]), int(args[3])
        c_out, c_in, k = f.shape

        def seen(o: int, u: int) -> Any:
            return d[o, u] if 0 <= u < d.shape[1] else sp.Integer(0)

        return np.array([[sp.Add(*[f[o, c, s] * seen(o, u + s + 1 - k + p) for o in range(c_out)
                                   for s in range(k)]) for u in range(n)]
                         for c in range(c_in)], dtype=object)


class AvgPool(Op):
    """avgpool_q(s)[o, t] = (1/q) Σ_r s[o, q(t − 1) + r]: non-overlapping windows of q."""

    nargs = 2

    def value(self, args: list[Any], at: Context) -> Any:
        q, s = int(args[0]), args[1]
        rows, cols = s.shape
        return np.array([[sp.Add(*s[o, q * t: q * t + q]) / q for t in range(cols // q)]
                         for o in range(rows)], dtype=object)


class AvgPoolT(Op):
    """avgpool_qᵀ g: [o, u] = g[o, ⌊(u − 1)/q⌋ + 1] / q, g spread over its window."""

    nargs = 2

    def value(self, args: list[Any], at: Context) -> Any:
        q, g = int(args[0]), args[1]
        rows, cols = g.shape
        return np.array([[g[o, u // q] / q for u in range(cols * q)] for o in range(rows)],
                        dtype=object)


class MaxPool(Op):
    """maxpool_q(s)[o, t] = s[o, q(t − 1) + ρ[o, t]], ρ the window's first maximum: written
    Σ_r [r = ρ] s[o, q(t − 1) + r] (``argmax``), exact where every maximum is unique."""

    nargs = 2

    def value(self, args: list[Any], at: Context) -> Any:
        q, s = int(args[0]), args[1]
        rows, cols = s.shape

        def pooled(o: int, t: int) -> Any:
            window = list(s[o, q * t: q * t + q])
            chosen = FirstMax(*window)
            return sp.Add(*[Chosen(r, chosen) * e for r, e in enumerate(window, start=1)])

        return np.array([[pooled(o, t) for t in range(cols // q)] for o in range(rows)],
                        dtype=object)


class MaxPoolT(Op):
    """maxpool_qᵀ g (at s): [o, u] = g[o, ⌊(u − 1)/q⌋ + 1] [u is its window's ρ], g routed to
    the first maximum of each window of s."""

    nargs = 3

    def value(self, args: list[Any], at: Context) -> Any:
        q, s, g = int(args[0]), args[1], args[2]
        rows, cols = g.shape

        def routed(o: int, u: int) -> Any:
            start = q * (u // q)
            return g[o, u // q] * Chosen(u - start + 1, FirstMax(*s[o, start: start + q]))

        return np.array([[routed(o, u) for u in range(cols * q)] for o in range(rows)],
                        dtype=object)

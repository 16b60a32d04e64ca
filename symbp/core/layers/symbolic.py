"""The sizes of a layer at a symbolic layer index: what the general theorem writes n_l, c_l for.

Every size a kind has at layer e of the theorem is one of these families at e (a free
symbol for that layer), or follows from its input's shape: a kind's ``Maps.symbolic(e,
shape_in)`` says which. The output shapes of consecutive layers then agree by construction.
"""

from __future__ import annotations

import sympy as sp

_SIZE = {"integer": True, "positive": True}


def _family(name: str) -> sp.IndexedBase:
    """Sizes c_l, m_l, ...: the label a plain symbol, so that renaming an index c (a channel)
    in a formula never renames the family c."""
    return sp.IndexedBase(sp.Symbol(name), **_SIZE)


WIDTH = sp.IndexedBase("n", **_SIZE)  # WIDTH[l] = n_l, the entries of a vector layer
CHANNELS = _family("c")  # c_l, the channels of a layer of channels × positions
LENGTH = _family("m")  # m_l, its positions
KERNEL = _family("kappa")  # κ_l, a kernel's size where it is free
POOL = _family("q")  # q_l, a pooling window
KEYS = _family("k")  # k_l, the width of an attention layer's queries and keys
FAMILIES = (WIDTH, CHANNELS, LENGTH, KERNEL, POOL, KEYS)


def input_shape(rank: int, at: sp.Expr | int = 0) -> tuple[sp.Expr, ...]:
    """The network's input at a symbolic size: n_0 entries, or c_0 channels of m_0 positions
    (labelled ``at`` instead of 0 where the layers are L - K + 1, ..., L)."""
    if rank == 1:
        return (WIDTH[at],)
    if rank == 2:
        return (CHANNELS[at], LENGTH[at])
    raise ValueError(f"an input of {rank} axes has no symbolic shape; 1 or 2 axes")

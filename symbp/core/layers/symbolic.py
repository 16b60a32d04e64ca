"""The sizes of a layer at a symbolic layer index: what the general theorem writes n_l for."""

from __future__ import annotations

import sympy as sp

WIDTH = sp.IndexedBase("n", integer=True, positive=True)  # WIDTH[l] = n_l, a layer's entries

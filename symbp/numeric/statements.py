"""What a trace records: one ``Statement`` per array the generated code computes, and the
code's names of a layer's parameters (``array_name``), clear of the names it gives its own
arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# names the generated code gives its own arrays: a parameter of one of these names is
# written name_l rather than name + l, so it never clashes with them
RESERVED = frozenset({"a", "g", "s", "t", "u", "v", "x", "y", "z", "delta", "ones", "batch",
                      "np", "math", "numba", "acc", "out", "given", "single"})


def array_name(name: str, l: int) -> str:
    """The code's name of parameter ``name`` of layer l: W2, b2, P2 (K_2 for a name the code
    uses itself)."""
    return f"{name}_{l}" if name in RESERVED or not name.isidentifier() else f"{name}{l}"


@dataclass(frozen=True)
class Statement:
    """One step: ``target = code`` in NumPy, the equation it computes, and its expression.

    ``kind`` is "delta" (a stored (batch, n) array such as δ_l), "weight" or "bias";
    ``value`` is the SymPy matrix expression in the column convention (n × batch).
    """

    target: str
    code: str
    math: str
    kind: str
    value: Any
    width: int
    before: tuple[str, ...] = ()  # NumPy lines that come first (a scan's loop over the steps)

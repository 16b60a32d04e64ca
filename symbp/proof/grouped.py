"""Steps a program binds at many layers (and depths), relabelled at a symbolic layer l and
grouped by their normal form: equal steps, one lemma; and the claim a group's lemma makes.
Shared by the second-order theorem and the H v theorem."""

from __future__ import annotations

import time
from typing import Any

import sympy as sp

from ..core.status import Status, worst
from .claims import Claim
from .curvature_indexed import KINDS, IndexCross, IndexRow
from .general import Outcome
from .index_entries import I, IndexMatrix, J, K
from .indexed import generic
from .sums import normal


def relabel(value: Any, layer: sp.Expr) -> Any:
    """``value`` (an index formula, or a tuple of them) with ``layer`` written as l."""
    f = lambda e: generic(sp.sympify(e), layer)  # noqa: E731
    if isinstance(value, tuple):
        return tuple(relabel(v, layer) for v in value)
    if isinstance(value, IndexCross):
        return IndexCross({k: f(e) for k, e in value.entries.items()}, value.row, f(value.length))
    if isinstance(value, IndexRow):
        return IndexRow({k: f(e) for k, e in value.entries.items()})
    if isinstance(value, IndexMatrix):
        return IndexMatrix(f(value.entry), value.row, value.col, tuple(map(f, value.shape)))
    return type(value)(f(value.entry), value.index, f(value.length))


def group_key(value: Any) -> str:
    """The group of ``value``: its entries' normal forms (a cross block's at each kind of
    parameter)."""
    parts: list[sp.Expr] = []
    for part in value if isinstance(value, tuple) else (value,):
        if isinstance(part, IndexCross):
            parts += [part.at(k, I) for k in KINDS]
        elif isinstance(part, IndexRow):
            parts += list(part.entries.values())
        elif isinstance(part, IndexMatrix):
            parts.append(part.at(J, K))
        else:
            parts.append(part.at(K))
    return sp.srepr([normal(p, {}) for p in parts])


def group_claim(title: str, name: str, text: str, tex: str,
                outcomes: list[tuple[str, Outcome]], places: list[str],
                started: float) -> Claim:
    """The claim of one group's lemma: proved when every identity is, taken at ``places``."""
    status = worst(o.status for _, o in outcomes)
    bad = next(((w, o) for w, o in outcomes if o.status != Status.PROVED), None)
    hows = "; ".join(f"{w}: {o.how}" if w else o.how for w, o in outcomes)
    where = "; ".join(places[:3]) + ("" if len(places) <= 3 else f"; and {len(places) - 3} more")
    return Claim(f"{title}: {text}, for every width", tex, "general", status,
                 f"{hows}; taken at {where}", name=f"{title} {name}",
                 residual="" if bad is None else f"{bad[0]}: {bad[1].residual}".lstrip(": "),
                 entry=None if bad is None else bad[1].entry,
                 seconds=time.perf_counter() - started)

"""The general theorem's trace grouped into lemmas: each step the recursion takes, with the
truth it must equal, into the group of the equal steps at other layers and cases (one lemma
each, ``traced``).

Two steps are one lemma when their sides have the same normal forms (``sums.normal``). A
layer kind's steps are first compared as written, up to the names of their summation indices
(all Dummy, ``index_entries.fresh``): the same step taken at another layer or in another case of the
recursion is most often that, and then no normal form is computed (the costly part of
grouping: for attention, sums over the row softmax's Jacobian). Where a step is not written as
any group's, it is compared with each group by normal form, left sides first, each normal form
computed once and only when compared. A step written as another up to a renaming of its sums'
indices is the same identity, so the lemma proved for one is proved for the other; as the normal
form names bound indices canonically, such steps have one normal form, and the groups are
those the normal forms alone make (the same lemmas, claim for claim).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from . import kind_lemmas
from .indexed import DEPTH, LAYER, generic
from .row_softmax import opaque
from .sums import normal


@dataclass
class Group:
    """The places where the recursion takes one generic step, and that step's entry formula."""

    expr: sp.Expr | None
    places: list[str] = field(default_factory=list)
    problem: str = ""  # why the traced quantity is not what it should be
    identity: Any = None  # for a layer kind: the identity itself (recursion = chain rule)
    rhs: sp.Expr | None = None  # for a layer kind: the first identity's truth, and
    forms: list[str | None] = field(default_factory=lambda: [None, None])  # the normal
    # forms of its sides, as text, each once another identity is compared with them
    written: set[str] = field(default_factory=set)  # its identities' texts (``_group_of``)


Groups = dict[str, dict[str, Group]]


def add_identity(groups: Groups, kind: str, e: sp.Expr, found: tuple, truth: sp.Expr,
                 ranges: dict, where: str) -> None:
    """One bound quantity and its truth, relabelled to the generic layer, into its group."""
    entry, problem = found
    layer = None if sp.sympify(e) == DEPTH else e
    place = f"layer {e} ({where})"
    table = groups.setdefault(kind, {})
    if entry is None:
        table.setdefault(place, Group(None, problem=f"{place}: {problem}")).places.append(place)
        return
    lhs, rhs = (x if layer is None else generic(x, layer) for x in (opaque(entry), truth))
    relabel = {} if layer is None else _layer_map(layer)
    ranges = {k: (a, sp.sympify(b).xreplace(relabel)) for k, (a, b) in ranges.items()}
    group = _group_of(table, lhs, rhs)
    group.identity = kind_lemmas.identity(lhs, rhs, ranges)
    group.places.append(place)


def _group_of(table: dict[str, Group], lhs: sp.Expr, rhs: sp.Expr) -> Group:
    """The group of the identity lhs = rhs: the one it is, up to the names of its summation
    indices, else the one whose sides have its normal forms (``sums.normal``, each computed
    only when compared: the right sides only where the left ones are equal), else a new one."""
    written = _renamed_text(sp.srepr(lhs) + "|" + sp.srepr(rhs))
    for group in table.values():
        if written in group.written:
            return group
    forms: list[str | None] = [None, None]
    for group in table.values():
        if all(_form(group.forms, (group.expr, group.rhs), n) == _form(forms, (lhs, rhs), n)
               for n in (0, 1)):
            group.written.add(written)
            return group
    group = table[written] = Group(lhs, rhs=rhs, forms=forms)
    group.written.add(written)
    return group


def _form(forms: list[str | None], sides: tuple, n: int) -> str:
    """The normal form of side n, as text, computed once."""
    if forms[n] is None:
        forms[n] = sp.srepr(normal(sides[n], {}))
    return forms[n]  # type: ignore[return-value]


_DUMMY = re.compile(r"Dummy\('[^']*'[^()]*?dummy_index=(\d+)\)")


def _renamed_text(text: str) -> str:
    """SymPy's text of an expression with its Dummy indices numbered in the order they first
    appear: equal texts are one expression up to a one-to-one renaming of those indices
    (every sum index is a Dummy, ``index_entries.fresh``), so one identity."""
    numbers: dict[str, str] = {}

    def number(match: re.Match) -> str:
        said = match.group(0)
        renamed = numbers.setdefault(said, str(len(numbers)))
        return said[:match.start(1) - match.start(0)] + renamed + ")"

    return _DUMMY.sub(number, text)


def _layer_map(layer: sp.Expr) -> dict:
    layer = sp.sympify(layer)
    constant = layer.as_coeff_Add()[0] if layer.is_Add else sp.Integer(0)
    base = layer - constant
    return {base: LAYER - constant} if base in (DEPTH, LAYER) and (base == DEPTH or constant) \
        else {}


def add(table: dict[str, Group], found: tuple[sp.Expr | None, str], layer: Any,
        where: str) -> None:
    """One step at ``layer`` (None: the output layer's δ, which stays at L) into its group."""
    entry, problem = found
    expr = entry if entry is None or layer is None else generic(entry, layer)
    place = f"layer {layer if layer is not None else DEPTH} ({where})"
    problem = f"{place}: {problem}" if problem else ""
    key = problem or sp.srepr(normal(expr, {}))
    table.setdefault(key, Group(expr, problem=problem)).places.append(place)

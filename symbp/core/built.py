"""Rebuilding a SymPy expression from new arguments without asking SymPy what is known.

A prover writes a formula out at numbers: every tensor entry, Kronecker delta and sum of
it is rebuilt thousands of times with integer indices. SymPy's own constructors then
re-derive each entry's assumptions (an ``Indexed`` deduces its facts anew, and compares
its sorted facts whenever a cache lookup meets an equal copy) and ask ``(i - j).is_zero``
of two integers. Here an entry is built once per process and shared, as SymPy shares what
its cached constructors build, and a delta of two integers is 1 or 0 as SymPy's own
``KroneckerDelta.eval`` says. Every result is the object SymPy would build, equal and of
the same structure: only the work of building it again is saved.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

import sympy as sp

_KNOWN = 1 << 14  # entries kept: a bound on memory; a theorem's instances build a few thousand


def entry(base: sp.IndexedBase, indices: Iterable) -> sp.Indexed:
    """``base[indices]``, one shared object for each base object and indices (ints as
    Integers). Keyed by the base object itself, not by an equal one: SymPy's equality does
    not see a base's offset or strides, which its code printers do."""
    key = tuple(sp.Integer(i) if type(i) is int else i for i in indices)
    if not all(isinstance(i, sp.Basic) for i in key):
        return sp.Indexed(base, *key)  # what SymPy makes of it (a float, a string): its own
    return _entry(base, id(base), key)


@functools.lru_cache(maxsize=_KNOWN)
def _entry(base: sp.IndexedBase, identity: int, indices: tuple[sp.Basic, ...]) -> sp.Indexed:
    return sp.Indexed(base, *indices)  # the key holds base: its id is not reused meanwhile


def rebuilt(expr: sp.Basic, args: list) -> sp.Basic:
    """``expr.func(*args)``: a tensor entry shared (``entry``), a Kronecker delta of two
    integers its value, anything else SymPy's own constructor."""
    func = expr.func
    if func is sp.Indexed and isinstance(args[0], sp.IndexedBase):
        return entry(args[0], args[1:])
    if func is sp.KroneckerDelta and len(args) == 2:
        i, j = args
        if _integer(i) and _integer(j):
            return sp.S.One if int(i) == int(j) else sp.S.Zero
    return func(*args)


def _integer(value: object) -> bool:
    return type(value) is int or isinstance(value, sp.Integer)


def replaced(expr: sp.Basic, rule: Mapping, done: dict | None = None) -> sp.Basic:
    """``expr.xreplace(rule)``, each distinct subexpression rebuilt once (``done``: those
    seen, with the rule): a formula written out repeats its parts many times."""
    return _replaced(expr, rule, {} if done is None else done)[0] if rule else expr


def _replaced(expr: sp.Basic, rule: Mapping, done: dict) -> tuple[sp.Basic, bool]:
    if expr in rule:
        return rule[expr], True
    if expr in done:
        return done[expr]
    args, changed = [], False
    for a in expr.args:
        if isinstance(a, sp.Basic):
            value, moved = _replaced(a, rule, done)
            args.append(value)
            changed |= moved
        else:
            args.append(a)
    done[expr] = found = (rebuilt(expr, args), True) if changed else (expr, False)
    return found

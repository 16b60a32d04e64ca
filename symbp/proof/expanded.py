"""``sp.expand`` with every distinct subexpression expanded once.

SymPy's ``expand`` applies each hint by a walk down the whole tree, and a walk does not
remember a part it met before: the lemmas of a norm or of attention repeat a sum, a root or a
row of weights many times, and each copy was expanded again (a third of a layer-norm theorem's
time). ``expand`` below is the same walk, hint for hint and in SymPy's order, with what each
distinct part (by content) gave remembered for the rest of the walk: its result is the one
``sp.expand`` gives (``tests/test_proof_caches.py`` checks it on the lemmas' own shapes).
"""

from __future__ import annotations

import functools

import sympy as sp

HINTS = {"power_base": True, "power_exp": True, "mul": True, "log": True,
         "multinomial": True, "basic": True}  # sp.expand's defaults
ORDER = sorted(HINTS, key=lambda h: "mulz" if h == "mul" else h)  # multinomial before mul
AGAIN = ("multinomial", "mul", "log")  # applied again until nothing changes, as SymPy does


@functools.lru_cache(maxsize=4096)
def expand(expr: sp.Expr) -> sp.Expr:
    """``sp.expand(expr)`` (every default hint, deep), each distinct part expanded once."""
    if not isinstance(expr, sp.Expr):
        return sp.expand(expr)
    for hint in ORDER:
        expr = _walk(expr, f"_eval_expand_{hint}", {})[0]
    while True:
        was = expr
        for hint in AGAIN:
            expr = _walk(expr, f"_eval_expand_{hint}", {})[0]
        if expr == was:
            return expr


def _walk(expr: sp.Basic, hint: str, seen: dict) -> tuple[sp.Basic, bool]:
    """SymPy's ``Expr._expand_hint``: the arguments first, then the node; (result, changed)."""
    if not isinstance(expr, sp.Basic):  # SymPy lets a node hold a non-Basic argument
        return expr, False
    found = seen.get(expr)
    if found is not None:
        return found
    node, hit = expr, False
    args = getattr(expr, "args", ())
    if args and not expr.is_Atom:
        new = []
        for arg in args:
            value, moved = _walk(arg, hint, seen)
            hit |= moved
            new.append(value)
        if hit:
            node = expr.func(*new)
    result = node, hit
    method = getattr(node, hint, None)
    if method is not None:
        value = method(**HINTS)
        if value != node:
            result = value, True
    seen[expr] = result
    return result

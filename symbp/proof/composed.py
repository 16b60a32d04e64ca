"""Replacing inside a composed expression: a rule applied once per distinct node of a deep DAG,
a sum among the rule's keys found inside a larger sum too, and whether maps applied to the
layer below's composition build the same tree. ``construction`` checks the composed forward
pass with these.
"""

from __future__ import annotations

import sympy as sp


def built_alike(got: list, want: list, values: dict) -> bool:
    """Whether ``want`` with the layer's inputs and pre-activations set to their composed
    values is ``got``, node for node: the maps applied to the layer below's composition
    build the same expression (equal trees are equal). This is where the replacement cannot
    look: SymPy spreads a number over a sum (x/2 of a skip multiplies a_(l-1)'s terms)."""
    return len(got) == len(want) and all(
        g == w.xreplace(values) for g, w in zip(got, want))


def replaced_once(e: sp.Basic, rule: dict, memo: dict[int, sp.Basic],
                  sums: dict[sp.Basic, list] | None = None) -> sp.Basic:
    """``e.xreplace(rule)``, each distinct subexpression visited once (a composed expression
    is a deep DAG whose tree, which xreplace walks, is exponential in the depth).

    A sum in ``rule`` is found inside a larger sum too (``sums``, from ``sums_among``): SymPy
    flattens σ(z) + a_(l-1) into one Add with a_(l-1)'s own terms, so a skip's input is
    never a node of the layer's output."""
    if e in rule:
        return rule[e]
    if not e.args:
        return e
    key = id(e)
    if key not in memo:
        args = [replaced_once(a, rule, memo, sums) for a in e.args]
        changed = any(new is not old for new, old in zip(args, e.args))
        if sums and e.is_Add:
            args, found = _sums_in(list(args), sums)
            changed = changed or found
        memo[key] = e.func(*args) if changed else e
    return memo[key]


def sums_among(rule: dict) -> dict[sp.Basic, list]:
    """The sums among ``rule``'s keys, indexed by their first term: (terms, replacement)."""
    found: dict[sp.Basic, list] = {}
    for key, value in rule.items():
        if isinstance(key, sp.Add):
            found.setdefault(key.args[0], []).append((key.args, value))
    return found


def _sums_in(args: list, sums: dict[sp.Basic, list]) -> tuple[list, bool]:
    """``args`` (a sum's terms) with every whole sum of ``sums`` among them replaced."""
    found = False
    for term in list(args):
        for terms, value in sums.get(term, ()):
            if term in args and all(args.count(t) >= terms.count(t) for t in set(terms)):
                for t in terms:
                    args.remove(t)
                args.append(value)
                found = True
                break
    return args, found

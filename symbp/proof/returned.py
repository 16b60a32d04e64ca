"""The routes exactly as ``Derivation.grad`` returns them, compared with the recursion's
gradient: entry by entry and exactly (``expand``), or at random points (``random``, a screen).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import sympy as sp

from ..core import layers
from ..core.derivation import Derivation, substitute_in_order
from . import lemmas
from .claims import Claim
from .exact import Exact, evaluate_at_random
from .settle import ROUTES, Work, describe, fail, label, replayed, rows, short, tex

Compare = Callable[[sp.Matrix, sp.Matrix], "tuple[tuple[int, int] | None, str] | None"]


def plan_routes(d: Derivation, work: Work, how: str) -> None:
    for l, wrt in rows(d):
        for route in ROUTES:
            work.plan(route, l, wrt, f"{route} = recursion for {label(wrt, l)}",
                      rf"\text{{{route}}} = \text{{recursion}} \text{{ for }} {tex(wrt, l)}",
                      how)


def compare_routes(d: Derivation, work: Work, compare: Compare, passed: str) -> None:
    """Expansion and direct, as ``d.grad`` returns them, against the recursion's gradient.

    An exact comparison also ties the recursion's gradient as ``d.grad`` returns it
    to the steps the lemmas proved, composed with the prover's own forward pass; a
    mismatch fails the recursion claim.
    """
    claims = {(c.kind, c.layer, c.parameter): c for c in work.claims}
    own = None
    if passed == "proved":
        try:
            own = composed_steps(d)
        except Exception:  # the recursion does not run: its claims have failed already
            own = None
    for l, wrt in rows(d):
        try:
            reference = d.grad(l, "recursion", wrt)
            if own is not None:
                _tie(claims[("recursion", l, wrt)], compare, reference, own(l, wrt))
                work.tied.add(id(claims[("recursion", l, wrt)]))
        except Exception as error:  # a broken recursion fails the comparison, not the prover
            reference, failure = None, describe(error)
        for route in ROUTES:
            work.check_time()
            claim = claims[(route, l, wrt)]
            started = time.perf_counter()
            if reference is None:
                fail(claim, None, failure, "the recursion's gradient")
                continue
            try:
                found = compare(d.grad(l, route, wrt), reference)
            except Exception as error:  # a route that cannot be built, or shapes that differ
                found = (None, describe(error))
            claim.seconds = time.perf_counter() - started
            if found is None:
                claim.status = passed
            else:
                fail(claim, *found)
        work.tick(f"layer {l}, {wrt}")


def composed_steps(d: Derivation):
    """The recursion's gradient from its traced steps, in x, y, W and b, by the prover's own
    forward pass z_l = W_l a_{l-1} + b_l, a_l = σ_l(z_l), or each layer's kind's maps (not
    the derivation's)."""
    trace = replayed(d)
    mapping: dict[sp.Symbol, sp.Expr] = {}
    a = list(d.x)
    for r in d.net.resolved:
        l, act = r.index, d.net.activation(r.index)
        if r.kind.name == "dense":
            z = lemmas.affine(d, l, a)
            a = act.apply(z)
        else:
            z, a = layers.forward(r, a, d.layer_parameters(l), act.apply)
        mapping.update({**dict(zip(d.z_symbols(l), z)), **dict(zip(d.a_symbols(l), a))})
    for l in range(d.L, 0, -1):  # g_l, where a skip binds it, before δ_l, which reads it
        if l in trace.grads:
            mapping.update(zip(d.grad_symbols(l), trace.grads[l].xreplace(mapping)))
        if l in trace.deltas:
            substitute_in_order(list(d.delta_symbols(l)), list(trace.deltas[l]), mapping)

    def composed(l: int, wrt: str) -> sp.Matrix:
        return trace.param_grads[(l, wrt)].xreplace(mapping)

    return composed


def _tie(claim: Claim, compare: Compare, returned: sp.Matrix, composed: sp.Matrix) -> None:
    if claim.status == "failed":
        return
    found = compare(returned, composed)
    if found is not None:
        fail(claim, *found, "grad(l, 'recursion') is not the composition of the proved steps")


def exactly(session: Exact) -> Compare:
    def compare(route: sp.Matrix, reference: sp.Matrix):
        found = session.first_difference(route, reference)
        return None if found is None else (found[0], short(found[1]))

    return compare


def at_random_points(rng: random.Random, points: int, session: Exact) -> Compare:
    def compare(route: sp.Matrix, reference: sp.Matrix):
        if route.shape != reference.shape:
            return None, f"shapes differ: {route.shape} and {reference.shape}"
        cols = reference.shape[1]
        for _ in range(points):
            values = evaluate_at_random([*route, *reference], rng, session)  # one point for both
            for n, (a, b) in enumerate(zip(values[: len(route)], values[len(route):])):
                if a is not None and b is not None and a != b:
                    return (n // cols + 1, n % cols + 1), f"{a - b} at a random point"
        return None

    return compare

"""The prover: exact arguments about the three routes, reported as the claims actually checked.

Every exact method proves, for each layer l and parameter W_l, b_l:

``recursion = ∂C/∂W_l``  by per-layer lemmas: the recursion's δ_L is ∂C/∂z_L,
            each δ step is the chain rule of z_{l+1} = W_{l+1} σ(z_l) + b_{l+1},
            and δ_l a_{l-1}ᵀ, δ_l are ∂C/∂W_l, ∂C/∂b_l; by induction from the
            output down, the recursion is the gradient at any depth;

plus the function lemmas σ'(z) = (formula) and ∂C/∂a_L = (registered gradient).
Then the methods differ in what else they claim:

``expand``  also "expansion = recursion" and "direct = recursion": the routes
            exactly as ``Derivation.grad`` returns them, compared entry by
            entry as polynomials over the opaque σ(z), σ'(z) (so for every σ).
``local``   nothing else: the expansion and the direct route are not compared,
            and every report says so.
``random``  evaluates the route differences exactly at random rational points:
            a screen. Its claims are "screened", never "proved".
``auto``    ``expand`` while the routes are small enough to compare within the
            size limit, ``local`` above it; its summary says which it made.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import sympy as sp

from ..core.deadline import Deadline, TimedOut, check_seconds, deadline
from ..core.derivation import PARAMETERS, Derivation
from ..core.recursion import Recursion, run_recursion
from . import lemmas
from .claims import Claim, Failure, Proof, Row
from .exact import Exact, evaluate_at_random
from .function_lemmas import function_lemmas
from .layer_lemmas import layer_lemmas

__all__ = ["METHODS", "Claim", "Failure", "Proof", "Row", "choose_method", "expansion_size",
           "prove"]

METHODS = ("auto", "expand", "local", "random")
EXPAND_LIMIT = 6_000  # estimated product terms above which auto chooses "local" (~2 s here)
BRUTE_FORCE_LIMIT = 100_000  # past this, expand and random refuse (~20 s here at 74,000)
ROUTES = ("expansion", "direct")  # the routes compared with the recursion
HOW = {"local": "by per-layer lemmas", "expand": "by exact comparison of the routes",
       "tied": "by per-layer lemmas, with grad's recursion checked against them"}
PENDING = "timed out"  # a claim's status until it is decided: what a timeout leaves behind

Progress = Callable[[str, int, int], None]  # (what, done, total)


def expansion_size(d: Derivation) -> int:
    """Estimated product terms in the fully expanded gradients (the paths of influence)."""
    n = d.net.widths
    total, paths = 0, 1
    for l in range(d.L, 0, -1):
        total += (n[l] * n[l - 1] + n[l]) * paths
        paths *= n[l]
    return total


def choose_method(d: Derivation, method: str, limit: int | None = BRUTE_FORCE_LIMIT) -> str:
    """Resolve ``auto``; refuse a brute-force method whose estimated size is past ``limit``."""
    return _choose(d, method, limit)[0]


def _choose(d: Derivation, method: str, limit: int | None) -> tuple[str, str]:
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    size = expansion_size(d)
    if method == "auto":
        if size <= EXPAND_LIMIT:
            return "expand", ""
        return "local", (f"auto: about {size:,} product terms, above the {EXPAND_LIMIT:,} it "
                         "compares; --method expand compares the routes")
    if method != "local" and limit is not None and size > limit:
        raise ValueError(
            f"method {method!r} would expand about {size:,} product terms (limit {limit:,}); "
            f"use method 'local', which proves the recursion at any depth by per-layer lemmas"
        )
    return method, ""


def _check_arguments(d, points, seed, limit, progress) -> None:
    if not isinstance(d, Derivation):
        raise ValueError(f"prove() needs a symbp.Derivation, got {type(d).__name__}")
    for name, value, low in (("points", points, 1), ("limit", limit, 1)):
        if value is None and name == "limit":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer of at least {low}; got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer; got {seed!r}")
    if progress is not None and not callable(progress):
        raise ValueError(f"progress must be None or a function (what, done, total); "
                         f"got {progress!r}")


class _Work:
    """The claims being settled, the time they take, and the progress reported."""

    def __init__(self, timeout: float | None, progress: Progress | None, total: int):
        self.limit = Deadline(timeout)
        self.progress, self.total, self.done = progress, total, 0
        self.claims: list[Claim] = []
        self.session = Exact()  # atoms and checks shared by every comparison of one proof
        self.tied: set[int] = set()  # recursion claims checked against grad's recursion

    def tick(self, what: str, steps: int = 1) -> None:
        self.done += steps
        if self.progress:
            self.progress(what, self.done, self.total)

    def check_time(self) -> None:  # off the main thread no signal interrupts SymPy
        self.limit.left()

    def plan(self, kind: str, l: int, wrt: str, statement: str, latex: str, how: str) -> Claim:
        claim = Claim(statement, latex, kind, PENDING, how, layer=l, parameter=wrt,
                      name=_label(wrt, l))
        self.claims.append(claim)
        return claim


def prove(d: Derivation, method: str = "auto", *, timeout: float | None = None,
          points: int = 3, seed: int = 0, limit: int | None = BRUTE_FORCE_LIMIT,
          progress: Progress | None = None) -> Proof:
    """Prove what ``method`` can about ``d``'s routes; the Proof lists exactly those claims.

    ``timeout`` (seconds) bounds the whole proof: claims not settled by then are
    "timed out", never "proved" or "failed". ``limit`` caps the estimated size of
    a brute-force method (``expand``, ``random``); ``points`` is the number of
    random points of the screen, ``seed`` its seed; ``progress(what, done,
    total)`` is called as layers are finished.
    """
    _check_arguments(d, points, seed, limit, progress)
    timeout = check_seconds(timeout)
    chosen, note = _choose(d, method, limit)
    exact = chosen != "random"
    work = _Work(timeout, progress, (d.L if exact else 0) + (2 * d.L if chosen != "local" else 0))
    proof = Proof(chosen, work.claims, network=repr(d.net), note=note)
    if exact:
        _plan_recursion(d, work, HOW["tied" if chosen == "expand" else "local"])
    if chosen != "local":
        _plan_routes(d, work, HOW["expand"] if exact else f"by a random screen at {points} "
                     "points")
    try:
        with deadline(timeout):
            proof.fingerprint = _fingerprint(d)
            if exact:
                proof.lemmas = function_lemmas(d.net)
                work.claims += [_function_claim(lem) for lem in proof.lemmas]
                proof.lemmas += _prove_recursion(d, work)
            if chosen == "expand":
                try:
                    _compare_routes(d, work, _exactly(work.session), "proved")
                except TimedOut:
                    if method != "auto":
                        raise
                    # auto falls back: the route claims it could not finish are not made,
                    # and a recursion claim not yet tied to grad says only what was checked
                    work.claims[:] = [c for c in work.claims if c.kind not in ROUTES]
                    for c in work.claims:
                        if c.kind == "recursion" and id(c) not in work.tied:
                            c.how = HOW["local"]
                    proof.method = "local"
                    proof.note = "auto: the routes were not compared within the timeout"
            elif chosen == "random":
                _compare_routes(d, work, _at_random_points(random.Random(seed), points,
                                                           work.session), "screened")
    except TimedOut:  # a BaseException: never caught as a failure on the way
        pass
    proof.seconds = work.limit.elapsed
    return proof


def _fingerprint(d: Derivation) -> str:
    """The fingerprint of the program proved; "" when the recursion cannot be recorded."""
    try:
        return d.program.fingerprint
    except Exception:  # a recursion that cannot be recorded fails its claims below
        return ""


def replayed(d: Derivation) -> Recursion:
    """The program's steps in layered symbols, replayed here from ``d.program`` (the very
    statements the code generators print), not taken from ``d.recursion``."""
    return run_recursion(d, d.program)


def _label(wrt: str, l: int) -> str:
    return f"dC/d{wrt}_{l}"


def _tex(wrt: str, l: int) -> str:
    return rf"\partial C/\partial {wrt}_{{{l}}}"


def _rows(d: Derivation):
    for l in range(d.L, 0, -1):
        for wrt in _parameters(d, l):
            yield l, wrt


def _parameters(d: Derivation, l: int) -> tuple[str, ...]:
    """Layer l's parameters: W and b, and what else its kind has (a projection P)."""
    return PARAMETERS if d.net.dense else tuple(d.net.resolved[l - 1].parameters)


def _function_claim(lem: lemmas.Lemma) -> Claim:
    return Claim(lem.statement, lem.latex, "function", "proved" if lem.holds else "failed",
                 "by exact comparison with the explicit formula", name=lem.name,
                 entry=lem.entry, residual=lem.residual, seconds=lem.seconds)


# ---------------------------------------------------------------- recursion = gradient


def _plan_recursion(d: Derivation, work: _Work, how: str) -> None:
    for l, wrt in _rows(d):
        work.plan("recursion", l, wrt, f"recursion = {_label(wrt, l)}",
                  rf"\text{{recursion}} = {_tex(wrt, l)}", how)


def _prove_recursion(d: Derivation, work: _Work) -> list[lemmas.Lemma]:
    """The per-layer lemmas, and from them each recursion claim (by induction from layer L)."""
    claims = {(c.layer, c.parameter): c for c in work.claims if c.kind == "recursion"}
    try:
        trace = replayed(d)
    except Exception as error:  # a recursion that crashes fails its claims; it is no crash here
        for claim in claims.values():
            _fail(claim, None, _describe(error), "the recursion runs")
        return []
    found: list[lemmas.Lemma] = []
    broken: lemmas.Lemma | None = None  # the first δ (or g) lemma that failed, from L down
    for l in range(d.L, 0, -1):
        work.check_time()
        started = time.perf_counter()
        names = _parameters(d, l)
        if d.net.dense:
            steps = [lemmas.delta_lemma(d, trace, l, work.session)]
            params = [lemmas.parameter_lemma(d, trace, l, wrt, work.session) for wrt in names]
        else:  # any kind: the chain rule through the layer's own maps
            found_here = layer_lemmas(d, trace, l, work.session)
            steps, params = found_here[: -len(names)], found_here[-len(names):]
        found += [*steps, *params]
        if broken is None:
            broken = next((step for step in steps if not step.holds), None)
        share = (time.perf_counter() - started) / len(names)
        for wrt, param in zip(names, params):
            claim = claims[(l, wrt)]
            claim.seconds = share
            culprit = broken or (None if param.holds else param)
            if culprit is None:
                claim.status = "proved"
            else:
                _fail(claim, culprit.entry, culprit.residual,
                      f"lemma {culprit.name} ({culprit.statement})")
        work.tick(f"layer {l}")
    return found


def _fail(claim: Claim, entry, residual: str, culprit: str = "") -> None:
    claim.status, claim.entry, claim.residual, claim.culprit = "failed", entry, residual, culprit


# ---------------------------------------------------------------- the routes as returned

Compare = Callable[[sp.Matrix, sp.Matrix], "tuple[tuple[int, int] | None, str] | None"]


def _plan_routes(d: Derivation, work: _Work, how: str) -> None:
    for l, wrt in _rows(d):
        for route in ROUTES:
            work.plan(route, l, wrt, f"{route} = recursion for {_label(wrt, l)}",
                      rf"\text{{{route}}} = \text{{recursion}} \text{{ for }} {_tex(wrt, l)}",
                      how)


def _compare_routes(d: Derivation, work: _Work, compare: Compare, passed: str) -> None:
    """Expansion and direct, as ``d.grad`` returns them, against the recursion's gradient.

    An exact comparison also ties the recursion's gradient as ``d.grad`` returns it
    to the steps the lemmas proved, composed with the prover's own forward pass; a
    mismatch fails the recursion claim.
    """
    claims = {(c.kind, c.layer, c.parameter): c for c in work.claims}
    own = None
    if passed == "proved":
        try:
            own = _composed_steps(d)
        except Exception:  # the recursion does not run: its claims have failed already
            own = None
    for l, wrt in _rows(d):
        try:
            reference = d.grad(l, "recursion", wrt)
            if own is not None:
                _tie(claims[("recursion", l, wrt)], compare, reference, own(l, wrt))
                work.tied.add(id(claims[("recursion", l, wrt)]))
        except Exception as error:  # a broken recursion fails the comparison, not the prover
            reference, failure = None, _describe(error)
        for route in ROUTES:
            work.check_time()
            claim = claims[(route, l, wrt)]
            started = time.perf_counter()
            if reference is None:
                _fail(claim, None, failure, "the recursion's gradient")
                continue
            try:
                found = compare(d.grad(l, route, wrt), reference)
            except Exception as error:  # a route that cannot be built, or shapes that differ
                found = (None, _describe(error))
            claim.seconds = time.perf_counter() - started
            if found is None:
                claim.status = passed
            else:
                _fail(claim, *found)
        work.tick(f"layer {l}, {wrt}")


def _composed_steps(d: Derivation):
    """The recursion's gradient from its traced steps, in x, y, W and b, by the prover's own
    forward pass z_l = W_l a_{l-1} + b_l, a_l = σ_l(z_l) (not the derivation's)."""
    trace = replayed(d)
    mapping: dict[sp.Symbol, sp.Expr] = {}
    a = list(d.x)
    for l in d.layers:
        z = lemmas.affine(d, l, a)
        a = d.net.activation(l).apply(z)
        mapping.update({**dict(zip(d.z_symbols(l), z)), **dict(zip(d.a_symbols(l), a))})
    for l in range(d.L, 0, -1):
        if l in trace.deltas:
            mapping.update(zip(d.delta_symbols(l), trace.deltas[l].xreplace(mapping)))

    def composed(l: int, wrt: str) -> sp.Matrix:
        return (trace.weight if wrt == "W" else trace.bias)[l].xreplace(mapping)

    return composed


def _tie(claim: Claim, compare: Compare, returned: sp.Matrix, composed: sp.Matrix) -> None:
    if claim.status == "failed":
        return
    found = compare(returned, composed)
    if found is not None:
        _fail(claim, *found, "grad(l, 'recursion') is not the composition of the proved steps")


def _exactly(session: Exact) -> Compare:
    def compare(route: sp.Matrix, reference: sp.Matrix):
        found = session.first_difference(route, reference)
        return None if found is None else (found[0], _short(found[1]))

    return compare


def _at_random_points(rng: random.Random, points: int, session: Exact) -> Compare:
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


def _short(expr, limit: int = 160) -> str:
    text = str(expr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(error: Exception) -> str:
    return _short(f"{type(error).__name__}: {error}")

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
``construction``  the same two claims at any size, for the routes as built: the
            chain's factors, their order and its first and last factors
            against their lemmas, the composed forward pass layer by layer
            against the network's maps, the parameters differentiated by;
            then associativity and the chain rule (through the recursion's
            own lemmas) give the two equalities (``proof.construction``).
``local``   nothing else: the expansion and the direct route are not compared,
            and every report says so.
``random``  evaluates the route differences exactly at random rational points:
            a screen. Its claims are "screened", never "proved".
``auto``    ``expand`` while the expanded routes are small (up to EXPAND_LIMIT
            estimated product terms), ``construction`` above; its summary says
            which it made.

Why not ``construction`` always: it proves the routes as symbp builds them, and grad's
values follow from them by symbp's own code (a product, a substitution, ``differentiate``);
``expand`` compares grad's values themselves, whatever code made them, so where it is
cheap it is the stronger of the two. A class that replaces that code (a ``grad`` of its
own) gets the construction's route claims only where its values are small enough to be
compared exactly; above that, its routes are reported not compared.
"""

from __future__ import annotations

import random
import time

from ..core.deadline import TimedOut, check_seconds, stopping
from ..core.derivation import Derivation
from ..core.limits import magnitude
from . import kind_factors, returned
from .claims import Claim, Failure, Proof, Row, lemma_claim
from .construction import Construction, Problem, chain_text, unchecked_code
from .function_lemmas import function_lemmas
from .recursion_claims import plan_recursion, prove_recursion
from .settle import (
    ROUTES,
    Progress,
    Work,
    describe,
    fail,
    label,
    rows,
    short,
    tex,
)
from .vector_forms import vector_form_claims

__all__ = ["METHODS", "Claim", "Failure", "Proof", "Row", "choose_method", "expansion_size",
           "prove"]

METHODS = ("auto", "expand", "construction", "local", "random")
EXPAND_LIMIT = 6_000  # estimated product terms above which auto chooses "construction"
#                       (expand takes ~2 s here at that size)
BRUTE_FORCE_LIMIT = 100_000  # past this, expand and random refuse (~20 s here at 74,000)
HOW = {"local": "by per-layer lemmas", "expand": "by exact comparison of the routes",
       "tied": "by per-layer lemmas, with grad's recursion checked against them",
       "expansion": "by construction: the chain's factors proved equal to their lemmas "
                    "(dC/da_L, then J_σ(z_m) W_m for m = L, ..., l+1 in that order, then "
                    "J_σ(z_l) dz_l/dW_l), then associativity and the recursion's lemmas",
       "direct": "by construction: the composed cost proved to be the layer maps and the cost, "
                 "layer by layer, differentiated by W_l, b_l; then the chain rule, as in the "
                 "recursion's lemmas",
       # a network with layers of other kinds: each factor from its kind's VJPs
       "expansion kinds": "by construction: the chain's factors proved equal to their lemmas "
                          "(dC/da_L, then da_m/da_(m-1) for m = L, ..., l+1 in that order, "
                          "then da_l/dθ_l, each from layer m's kind: J_σ(z_m) times the "
                          "coefficients of its VJPs, plus its skip's), then associativity and "
                          "the recursion's lemmas",
       "direct kinds": "by construction: the composed cost proved to be the layer maps (each "
                       "kind's) and the cost, layer by layer, differentiated by each parameter; "
                       "then the chain rule, as in the recursion's lemmas",
       "grad": "; grad's value compared exactly"}


def expansion_size(d: Derivation) -> int:
    """Estimated product terms in the fully expanded gradients (the paths of influence)."""
    n = d.net.widths
    total, paths = 0, 1
    for l in range(d.L, 0, -1):
        paths *= d.net.resolved[l - 1].paths_through_time  # 1 but inside a recurrent layer
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
        chosen = next((r.kind for r in d.net.resolved if r.kind.auto_method), None)
        if chosen is not None:
            if chosen.auto_method == "expand" and limit is not None and size > limit:
                return "local", (f"auto: local, as the {chosen.name} layers ask past "
                                 f"{limit:,} product terms to expand")
            return chosen.auto_method, (f"auto: {chosen.auto_method}, as the "
                                        f"{chosen.name} layers ask")
        if size <= EXPAND_LIMIT:
            return "expand", ""
        return "construction", (f"auto: {_about(size)} product terms, above the "
                                f"{EXPAND_LIMIT:,} it expands, so by construction")
    if method in ("expand", "random") and limit is not None and size > limit:
        raise ValueError(
            f"method {method!r} would expand {_about(size)} product terms (limit {limit:,}); "
            f"use method 'construction', which proves the same claims at any size from how the "
            f"routes are built" + ("" if not any(r.maps.pre.own for r in d.net.resolved) else
                                   " (for a recurrent layer, the recursion's claims only)"))
    return method, ""


def _about(size: int) -> str:
    text = magnitude(size)
    return text if text.startswith("about") else f"about {text}"


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


def scopes(net) -> list[str]:
    """Where a proof of each layer holds, when its kind says it is less than everywhere."""
    return [f"layer {r.index}: {text}" for r in net.resolved
            if r.kind.holds_where is not None and (text := r.kind.holds_where(r.layer))]


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
    exact, compares, tie = chosen != "random", chosen != "local", False
    if chosen == "construction":
        unchecked = unchecked_code(d)
        tie = bool(unchecked) and expansion_size(d) <= EXPAND_LIMIT
        if unchecked and not tie:
            compares = False
            note = "; ".join(filter(None, [note, (
                f"{unchecked} is not symbp's: what grad returns need not be the routes as "
                "constructed, and they are too large to compare exactly")]))
    untaken = [(r.index, why) for r in d.net.resolved if (why := kind_factors.untaken(r))]
    if chosen == "construction" and compares and untaken:
        compares = False  # its chain factors are not its VJPs' coefficients at this size
        note = "; ".join(filter(None, [note, (
            f"layer {untaken[0][0]} {untaken[0][1]}, which the construction does not take: "
            "the routes are not compared; method expand compares them where they are small "
            "enough")]))
    note = "; ".join(filter(None, [note, *scopes(d.net)]))
    work = Work(timeout, progress, (d.L if exact else 0) + (2 * d.L if compares else 0))
    proof = Proof(chosen, work.claims, network=repr(d.net), note=note)
    if exact:
        plan_recursion(d, work, HOW["tied" if chosen == "expand" else "local"])
    if chosen == "construction" and compares:
        _plan_construction(d, work, tie)
    elif compares:
        returned.plan_routes(d, work, HOW["expand"] if exact else
                             f"by a random screen at {points} points")
    with stopping(timeout) as own:  # TimedOut: a BaseException, never taken for a failure
        proof.fingerprint = _fingerprint(d)
        if exact:
            proof.lemmas = function_lemmas(d.net)
            work.claims += [lemma_claim(lem) for lem in proof.lemmas]
            proof.lemmas += prove_recursion(d, work)
        if not d.net.dense:  # the forms the kinds document shows (a dense one shows none)
            work.claims += vector_form_claims(d, work.session)
        if chosen in ("expand", "construction") and compares:
            try:
                if chosen == "expand":
                    returned.compare_routes(d, work, returned.exactly(work.session), "proved")
                else:
                    _construct_routes(d, work, tie)
            except TimedOut:
                if method != "auto" or not own.sooner:
                    raise
                _fall_back(proof, work)
        elif chosen == "random":
            screen = returned.at_random_points(random.Random(seed), points, work.session)
            returned.compare_routes(d, work, screen, "screened")
    proof.seconds = work.limit.elapsed
    return proof


def _fall_back(proof: Proof, work: Work) -> None:
    """auto out of time: the route claims it could not finish are not made, and a recursion
    claim not yet tied to grad says only what was checked."""
    work.claims[:] = [c for c in work.claims if c.kind not in ROUTES]
    for c in work.claims:
        if c.kind == "recursion" and id(c) not in work.tied:
            c.how = HOW["local"]
    proof.method = "local"
    proof.note = "auto: the routes were not compared within the timeout"


def _fingerprint(d: Derivation) -> str:
    """The fingerprint of the program proved; "" when the recursion cannot be recorded."""
    try:
        return d.program.fingerprint
    except Exception:  # a recursion that cannot be recorded fails its claims below
        return ""


# ---------------------------------------------------------------- the routes by construction


def _plan_construction(d: Derivation, work: Work, tie: bool) -> None:
    tied = HOW["grad"] if tie else ""
    for l, wrt in rows(d):
        chain = chain_text(d.L, l, wrt)
        work.plan("expansion", l, wrt,
                  f"expansion = recursion for {label(wrt, l)}: the chain {chain}, factor by "
                  "factor (not its expanded product)",
                  rf"\text{{expansion}} = \text{{recursion}} \text{{ for }} {tex(wrt, l)}",
                  HOW["expansion" if d.net.dense else "expansion kinds"] + tied)
        work.plan("direct", l, wrt,
                  f"direct = recursion for {label(wrt, l)}: the composed cost and the "
                  f"parameters {wrt}_{l} it is differentiated by (not the derivative written "
                  "out)",
                  rf"\text{{direct}} = \text{{recursion}} \text{{ for }} {tex(wrt, l)}",
                  HOW["direct" if d.net.dense else "direct kinds"] + tied)


def _construct_routes(d: Derivation, work: Work, tie: bool) -> None:
    """Each route claim: its construction checked, and the recursion claim it rests on proved
    (with ``tie``, grad's value also compared exactly with the route as constructed)."""
    claims = {(c.kind, c.layer, c.parameter): c for c in work.claims}
    built = Construction(d, work.session, work.check_time)
    check = {"expansion": built.expansion, "direct": built.direct}
    for l, wrt in rows(d):
        recursion = claims[("recursion", l, wrt)]
        for route in ROUTES:
            work.check_time()
            claim = claims[(route, l, wrt)]
            started = time.perf_counter()
            problem = check[route](l, wrt)
            if problem is None and tie:
                problem = _tie_route(d, built, l, wrt, route)
            claim.seconds = time.perf_counter() - started
            if problem is not None:
                fail(claim, problem.entry, problem.residual, problem.culprit)
            elif recursion.status == "failed":
                fail(claim, recursion.entry, recursion.residual,
                      recursion.culprit or f"the claim {recursion.statement}")
            elif recursion.status == "proved":
                claim.status = "proved"
        work.tick(f"layer {l}, {wrt}")


def _tie_route(d: Derivation, built: Construction, l: int, wrt: str, route: str):
    """grad's value (a class with a grad of its own) against the route as constructed by
    symbp's code, exactly; a Problem where they differ, else None."""
    try:
        returned = d.grad(l, route, wrt)
        if route == "expansion":
            chain = d.chain_rule(l)
            made = (chain.weight if wrt == "W" else chain.bias).xreplace(d.composition)
        else:
            made = d.direct_route(l).gradient(wrt)
        if returned.shape != made.shape:
            raise ValueError(f"shapes differ: {returned.shape} and {made.shape}")
        found = next(((n, r) for n, (a, b) in enumerate(zip(returned, made)) if a != b
                      for r in [built.session.residual(a, b)] if isinstance(r, str) or r != 0),
                     None)  # entries that are the same expression are not compared
        if found is None:
            return None
        where: tuple[int, int] | None = (found[0] // made.cols + 1, found[0] % made.cols + 1)
        residual = found[1]
    except Exception as error:  # a grad that cannot run, or a shape that differs
        where, residual = None, describe(error)
    return Problem(where, short(residual), f"grad({l}, {route!r}) is not the route constructed")



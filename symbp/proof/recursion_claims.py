"""The claims "recursion = ∂C/∂θ_l", one per layer and parameter: planned, then proved
from the per-layer lemmas (the δ steps and the parameter lemmas, or a kind's chain rule
through its own maps) by induction from the output layer down.
"""

from __future__ import annotations

import time

from ..core.derivation import Derivation
from . import lemmas
from .layer_lemmas import layer_lemmas
from .settle import Work, describe, fail, label, parameters, replayed, rows, tex


def plan_recursion(d: Derivation, work: Work, how: str) -> None:
    for l, wrt in rows(d):
        work.plan("recursion", l, wrt, f"recursion = {label(wrt, l)}",
                  rf"\text{{recursion}} = {tex(wrt, l)}", how)


def prove_recursion(d: Derivation, work: Work) -> list[lemmas.Lemma]:
    """The per-layer lemmas, and from them each recursion claim (by induction from layer L)."""
    claims = {(c.layer, c.parameter): c for c in work.claims if c.kind == "recursion"}
    try:
        trace = replayed(d)
    except Exception as error:  # a recursion that crashes fails its claims; it is no crash here
        for claim in claims.values():
            fail(claim, None, describe(error), "the recursion runs")
        return []
    found: list[lemmas.Lemma] = []
    broken: lemmas.Lemma | None = None  # the first δ (or g) lemma that failed, from L down
    for l in range(d.L, 0, -1):
        work.check_time()
        started = time.perf_counter()
        names = parameters(d, l)
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
                fail(claim, culprit.entry, culprit.residual,
                      f"lemma {culprit.name} ({culprit.statement})")
        work.tick(f"layer {l}")
    return found

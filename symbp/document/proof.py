"""The proof section as plain data: the per-layer checks, the lemmas, the method and the status."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.naming import vector_latex as vec
from ..proof.claims import CHECKS, Proof
from .steps import slash

MAX_FAILURES = 5  # failures listed in the document; the proof report has them all


@dataclass(frozen=True)
class ProofRow:
    layer: int
    parameter: str  # LaTeX, inline: \partial C/\partial W_{2}
    results: list[str]  # one per check: proved | failed | screened | not checked
    seconds: str  # "" unless timings


@dataclass(frozen=True)
class LemmaItem:
    name: str  # plain text
    statement: str  # LaTeX
    holds: bool
    layer: str  # plain text, "" for a function lemma
    seconds: str  # "" unless timings


@dataclass(frozen=True)
class ProofPart:
    method: str  # expand | local | random
    status: str  # proved | failed | screened | timed out
    holds: bool
    checks: list[str]  # LaTeX column heads: \text{expansion} - \text{recursion}, ...
    rows: list[ProofRow]
    lemmas: list[LemmaItem]
    failures: list[str]  # plain text, the first MAX_FAILURES
    failure_count: int
    seconds: str  # "" unless timings
    timings: bool



def proof_part(proof: Proof, timings: bool) -> ProofPart:
    """The proof section's data; times only with ``timings``, as "0.123 s"."""

    def seconds(s: float) -> str:
        return f"{s:.3f} s" if timings else ""

    rows = [ProofRow(r.layer, slash("C", vec(r.parameter, r.layer)),
                     [r.checks.get(c, "not compared") for c in CHECKS.values()], seconds(r.seconds))
            for r in proof.rows]
    lemmas = [LemmaItem(lem.name, lem.latex, lem.holds,
                        "" if lem.layer is None else str(lem.layer), seconds(lem.seconds))
              for lem in proof.lemmas]
    heads = list(CHECKS)  # recursion, expansion, direct
    return ProofPart(
        method=proof.method, status=proof.status, holds=proof.holds, checks=heads,
        rows=rows, lemmas=lemmas, failures=[str(f) for f in proof.failures[:MAX_FAILURES]],
        failure_count=len(proof.failures),
        seconds=seconds(proof.seconds), timings=timings,
    )

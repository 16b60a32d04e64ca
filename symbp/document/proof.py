"""The proof section as plain data: exactly the claims the proof made, and how it made them.

Every sentence that depends on the proof is decided here; the template only lays
it out. Strings marked "mixed" are text with inline math (``$...$``) and no
other markup, valid in both LaTeX and Markdown as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..core.naming import vector_latex as vec
from ..proof.claims import CHECKS, ROUTE_KINDS, Claim, Proof
from ..proof.prove import HOW
from .checks import title
from .steps import slash
from .text import iverson

MAX_FAILURES = 5  # failures listed in the document; the proof report has them all
INLINE_GLYPHS = 32  # a lemma longer than this is displayed: inline math never breaks, and a
#                     375 px phone holds about 40 symbols of it in a line
SEVERITY = ("failed", "timed out", "not compared", "screened", "proved")  # worst first

CLAIM_TEXT = {  # mixed: what each kind of route claim says, for every layer
    "recursion": r"$\text{recursion} = \partial C/\partial W_l$ and "
                 r"$\partial C/\partial b_l$ for every layer $l$",
    "recursion kinds": r"$\text{recursion} = \partial C/\partial \theta_l$ for every parameter "
                       r"$\theta_l$ of every layer $l$",
    "expansion": r"$\text{expansion} = \text{recursion}$ for every layer",
    "direct": r"$\text{direct} = \text{recursion}$ for every layer",
}
HOW_TEXT = {  # mixed: the prover's line on how it settled a route claim, as a sentence
    HOW["local"]: "by per-layer lemmas",
    HOW["expand"]: "by exact comparison of the routes",
    HOW["tied"]: "by per-layer lemmas, with the recursion the derivation returns checked "
                 "against them",
    HOW["expansion"]: (
        r"by construction: each factor of the chain rule, $\partial C/\partial a_L$, then the "
        r"Jacobian of $\sigma_m$ times $W_m$ for $m = L, \dots, l+1$ in that order, then "
        r"$\partial a_l/\partial W_l$, proved equal to its lemma; then associativity of the "
        r"matrix product and the recursion's lemmas"),
    HOW["direct"]: (
        r"by construction: the composed cost proved, layer by layer, to be "
        r"$z_l = W_l a_{l-1} + b_l$, $a_l = \sigma_l(z_l)$ and the cost of $a_L$, differentiated "
        r"by $W_l$ and $b_l$; then the chain rule, as in the recursion's lemmas"),
    HOW["expansion kinds"]: (
        r"by construction: each factor of the chain rule, $\partial C/\partial a_L$, then "
        r"$\partial a_m/\partial a_{m-1}$ for $m = L, \dots, l+1$ in that order, then "
        r"$\partial a_l/\partial \theta_l$, proved equal to its lemma, each read from its "
        r"layer's kind (the Jacobian of $\sigma_m$ times the kind's vector-Jacobian products, "
        r"plus its skip's); then associativity of the matrix product and the recursion's lemmas"),
    HOW["direct kinds"]: (
        "by construction: the composed cost proved, layer by layer, to be each kind's maps and "
        "the cost, differentiated by each parameter; then the chain rule, as in the recursion's "
        "lemmas"),
}
TIED_TEXT = "; the values the derivation returns compared exactly"  # for HOW["grad"]
METHOD_TEXT = {  # mixed: how each method settles its claims
    "expand": (
        r"Each route's gradient, exactly as the derivation returns it, is written out in "
        r"terms of the input, the target and the parameters, with $\sigma$ and $\sigma'$ kept "
        r"as unknown functions. Every entry of each difference is brought to a canonical "
        r"polynomial form over those functions, in which zero is recognisable, and each one "
        r"reduces to exactly $0$. The recursion is also proved to be the gradient by the "
        r"per-layer lemmas below."),
    "construction": (
        r"The routes are not written out; each is checked by how it is built, in layered "
        r"symbols. Every factor of the chain rule $\partial C/\partial a_L \cdot \partial a_L/"
        r"\partial a_{L-1} \cdots \partial a_l/\partial W_l$ is proved equal to its lemma "
        r"(the cost's derivative; the Jacobian of $\sigma_m$ times $W_m$, in the order "
        r"$m = L, \dots, l+1$; the Jacobian of $\sigma_l$ times $\partial z_l/\partial W_l$), "
        r"and the composed cost is proved, layer by layer, to be $z_l = W_l a_{l-1} + b_l$, "
        r"$a_l = \sigma_l(z_l)$ and the cost of $a_L$, differentiated by $W_l$ and $b_l$. By "
        r"associativity of the matrix product and the chain rule, the per-layer lemmas of "
        r"the recursion below then give both equalities, for a network of any size; the "
        r"recursion itself is proved to be the gradient by those lemmas."),
    "local": (
        r"The full expressions grow quickly with depth, so instead of building them symbp "
        r"proves small lemmas, one layer at a time: the output error $\delta_L$ is "
        r"$\partial C/\partial z_L$, each error step is the chain rule for "
        r"$z_{l+1} = W_{l+1}\sigma(z_l) + b_{l+1}$, and $\delta_l a_{l-1}^{T}$ and $\delta_l$ "
        r"are $\partial C/\partial W_l$ and $\partial C/\partial b_l$. By induction over the "
        r"layers, from the output down, the recursion is the gradient for a network of any "
        r"depth. This method does not compare the expansion or the direct route with it, and "
        r"claims nothing about them."),
    "random": (
        r"The differences between the routes were evaluated exactly, in rational arithmetic, "
        r"at random points. A nonzero value would have been a counterexample; zeros at a few "
        r"points are only evidence, so every claim of this method is screened, not proved."),
}
GENERIC_TEXT = (  # mixed: why an exact proof with σ unknown covers every activation
    r"Because $\sigma$ is left unknown during the comparison, what is proved holds for every "
    r"differentiable activation. A concrete activation enters only through its own "
    r"one-variable lemma, proved separately below.")


@dataclass(frozen=True)
class ClaimItem:
    text: str  # mixed
    status: str  # proved | failed | screened | not compared | timed out
    how: list[tuple[bool, str]]  # (is_math, text) parts: sentences with math, never a log line


@dataclass(frozen=True)
class ProofRow:
    cells: list[str]  # layer and gradient (LaTeX, inline, in $...$)
    results: list[str]  # one status per route kind: recursion, expansion, direct
    time: list[str]  # ["0.123 s"] with timings, else []


@dataclass(frozen=True)
class LemmaItem:
    name: str  # plain text
    title: str  # mixed: what the lemma is about, "the error $\delta_{2}$"
    statement: str  # LaTeX
    status: str  # proved | failed
    took: str  # plain text: " in 0.123 s" with timings, else ""
    block: bool  # the statement has rows (cases): a display, never inline


@dataclass(frozen=True)
class ProofPart:
    method: str  # expand | local | random | ...
    status: str  # proved | failed | screened | timed out | not proved
    holds: bool
    result: str  # plain text: what the proof established, in a sentence or two
    claims: list[ClaimItem]
    method_text: str  # mixed
    columns: str  # the per-layer table's column spec, e.g. "clccc"
    head: list[str]  # its column heads (plain text)
    rows: list[ProofRow]
    lemmas: list[LemmaItem]
    failures: list[str]  # plain text, the first MAX_FAILURES
    failure_count: int
    seconds: str  # "" unless timings
    timings: bool


def proof_part(proof: Proof, timings: bool, dense: bool = True,
               where: list[str] | None = None) -> ProofPart:
    """The proof section's data; times only with ``timings``, as "0.123 s". ``dense``: the
    network is of dense layers only, whose parameters are all W_l and b_l; ``where``: where
    the layers' proofs hold, when less than everywhere (``prove.scopes``)."""

    def seconds(s: float) -> str:
        return f"{s:.3f} s" if timings else ""

    rows = [ProofRow([str(r.layer), "$" + slash("C", vec(r.parameter, r.layer)) + "$"],
                     [r.checks[c] for c in CHECKS.values()], [seconds(r.seconds)] * timings)
            for r in proof.rows]
    lemmas = [LemmaItem(lem.name, title(lem.name), iverson(lem.latex),
                        "proved" if lem.holds else "failed",
                        f" in {seconds(lem.seconds)}" if timings else "",
                        "\\\\" in lem.latex or _glyphs(lem.latex) > INLINE_GLYPHS)
              for lem in proof.lemmas]
    exact = proof.method in ("expand", "construction", "local")
    return ProofPart(
        method=proof.method, status=proof.status, holds=proof.holds,
        result=result_sentence(proof, dense) + _where(proof, where or []),
        claims=claim_items(proof, dense),
        method_text=METHOD_TEXT.get(proof.method, "") + (" " + GENERIC_TEXT if exact else ""),
        columns="clccc" + "r" * timings, head=["Layer", "Gradient", *CHECKS] + ["Time"] * timings,
        rows=rows, lemmas=lemmas, failures=[str(f) for f in proof.failures[:MAX_FAILURES]],
        failure_count=len(proof.failures), seconds=seconds(proof.seconds), timings=timings,
    )


def claim_items(proof: Proof, dense: bool = True) -> list[ClaimItem]:
    """One item per kind of route claim (not compared when none was made), then the lemmas."""
    items = []
    for kind in ROUTE_KINDS:
        text = CLAIM_TEXT[f"{kind} kinds" if kind == "recursion" and not dense else kind]
        mine = [c for c in proof.claims if c.kind == kind]
        if not mine:
            items.append(ClaimItem(text, "not compared",
                                   [(False, f"the method {proof.method} does not compare it")]))
        else:
            items.append(ClaimItem(text, _worst(mine), _how(mine)))
    functions = [c for c in proof.claims if c.kind == "function"]
    if functions:
        items.append(ClaimItem("the lemmas of the activations and the cost", _worst(functions),
                               _how(functions)))
    items += [ClaimItem(f"${c.latex}$", c.status, [(False, c.how)])
              for c in proof.claims if c.kind not in ROUTE_KINDS and c.kind != "function"]
    return items


def result_sentence(proof: Proof, dense: bool = True) -> str:
    """Plain text: what was established, and what was not claimed."""
    every = "every weight matrix and every bias vector" if dense else "every parameter"
    made = [k for k in ROUTE_KINDS if any(c.kind == k for c in proof.claims)]
    missing = [k for k in ROUTE_KINDS if k not in made and k != "recursion"]
    status = proof.status
    if status == "proved" and not missing:
        return ("All three routes give the same gradients: the recursion is the gradient, and "
                f"the expansion and the direct route equal it, for {every}.")
    if status == "proved":
        routes, many = " and the ".join(missing), len(missing) > 1
        return (f"The recursion is the gradient for {every}. "
                f"The {routes} route {'were' if many else 'was'} not compared with it, and "
                f"nothing is claimed about {'them' if many else 'it'}.")
    if status == "screened":
        return "A random screen found no disagreement, but a screen is evidence, not a proof."
    if status == "failed":
        return (f"Not every claim was proved: {len(proof.failures)} of "
                f"{len(proof.claims)} claims failed.")
    if status == "timed out":
        done = sum(c.proved for c in proof.claims)
        return (f"The proof ran out of time: {done} of {len(proof.claims)} claims were proved "
                "before that, and the rest are marked timed out.")
    return "No claim was proved."


def _where(proof: Proof, where: list[str]) -> str:
    """Plain text: where a proof that holds holds, when its layers say less than everywhere."""
    if proof.status != "proved" or not where:
        return ""
    return " This holds where each layer's proof does: " + "; ".join(where) + "."


def _glyphs(latex: str) -> int:
    """About how many symbols ``latex`` shows in a line (a command one, a fraction's parts
    side by side): an upper bound of its width, enough to tell a long formula."""
    shown = re.sub(r"\\(frac|left|right|[bB]igg?[lr]|operatorname|text|mathrm)\b", "", latex)
    return len(re.sub(r"\\,|[{}^_ ]", "", re.sub(r"\\[A-Za-z]+", "x", shown)))


def _worst(claims: list[Claim]) -> str:
    return min((c.status for c in claims), key=SEVERITY.index)


def _how(claims: list[Claim]) -> list[tuple[bool, str]]:
    hows = " / ".join(dict.fromkeys(_how_text(c.how) for c in claims))
    proved = sum(c.proved for c in claims)
    text = hows if proved in (0, len(claims)) else f"{hows}; {proved} of {len(claims)} proved"
    return [(n % 2 == 1, part) for n, part in enumerate(text.split("$")) if part]


def _how_text(how: str) -> str:
    """The prover's line as mixed text: a sentence with math where the way is known here;
    any other line (a random screen's) has no ``$`` and reads as it is."""
    tied = how.endswith(HOW["grad"])
    base = how[:-len(HOW["grad"])] if tied else how
    if base not in HOW_TEXT:
        return how.replace("$", "")
    return HOW_TEXT[base] + (TIED_TEXT if tied else "")

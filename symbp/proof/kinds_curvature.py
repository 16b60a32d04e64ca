"""The second-order prover for networks of layer kinds, per network (kind "curvature").

Every claim compares two computations exactly, entry by entry, and says which:

- ``program H l,m``: the δ program differentiated along each parameter p of θ_m (forward
  over reverse, seeded with v = e_p) = SymPy's second derivatives of the composed cost,
  block (l, m) for l <= m (the blocks below are their transposes, second derivatives
  commuting);
- ``Hv <name><l>``: the R-operator on the δ program along a symbolic v: its derivative by
  each v_p is column p of SymPy's Hessian and it vanishes at v = 0, so (a polynomial in v)
  it is H v for every v;
- ``Hv code <name><l>``: the generated NumPy module's ``_tangent`` (what its hvp, hessian and
  gauss_newton run), its printed text run exactly on symbols, = that proved H v
  (``kinds_code``; not claimed when the caller gives no module text, nor for attention);
- ``recursion H l,m``: the curvature recursion (``core.kinds_curvature``: H_C at the split
  passed back node by node over the network's graph, with the residual terms) = SymPy's
  second derivatives, block (l, m) for l <= m;
- ``G l,m``: Jᵀ H_C J with J's columns from the forward tangent statements = Jᵀ H_C J with
  J from SymPy's derivatives of the composed split s; ``recursion G l,m``: the same recursion
  without its residual terms = that Jᵀ H_C J;
- the function lemmas (σ', σ'', the cost's Hessian), H_C positive semidefinite for every
  width, hence G (vᵀ G v = (J v)ᵀ H_C (J v)).

Nothing here reads a dense lemma. The claims hold for this network, and the summary says so;
for every size see ``kinds_second_theorem`` (residual, conv1d, recurrent, attention, layer norm
and batch norm at the network's depth).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sympy as sp

from ..core import curvature
from ..core.built import replaced
from ..core.deadline import check_seconds, stopping
from ..core.kinds_second_order import KindsSecondDerivation
from ..core.routes import differentiate
from ..core.status import Status, worst
from .claims import Claim, Proof, lemma_claim, time_claim
from .exact import Exact
from .function_lemmas import function_lemmas
from .gauss_newton import cost_psd_claims
from .kinds_code import Printed, code_claims, note
from .softmax_rows import RowsExact

METHODS = ("auto", "expand")
KIND = "curvature"
SCOPE = ("three routes compared: direct (SymPy's second derivatives of the composed cost), "
         "program (the R-operator on the delta program) and recursion (curvature "
         "backpropagated over the graph); proved for this network only (for every size: symbp "
         "prove --order 2 --general, dense layers at every depth, residual, conv1d, recurrent, "
         "attention, layer norm and batch norm layers at the network's depth)")


def prove_kinds_second_order(d: KindsSecondDerivation, method: str = "auto", *,
                             timeout: float | None = None,
                             progress: Callable[[str, int, int], None] | None = None,
                             lemmas: Callable[[KindsSecondDerivation], list] | None = None,
                             printed: Printed | None = None) -> Proof:
    """Prove ``d``'s Hessian, H v and Gauss–Newton blocks by exact comparison of the routes;
    ``lemmas`` gives the second-order function lemmas (σ'', the cost's Hessian), ``printed``
    the generated module's text (``kinds_code``: the printed hvp program against H v)."""
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)} "
                         "(a network of layer kinds is proved by comparing its routes)")
    timeout = check_seconds(timeout)
    started = time.perf_counter()
    claims: list[Claim] = []
    why = note(d, printed)
    proof = Proof("expand", claims, network=repr(d.net), note=SCOPE + (f"; {why}" if why else ""))
    session = RowsExact(d.composed_cost())  # attention's softmax rows, in their coordinates

    def tick(what: str, done: int) -> None:
        if progress:
            progress(what, done, 4)

    with stopping(timeout) as limit:
        proof.fingerprint = _fingerprint(d)
        found = function_lemmas(d.net) + (lemmas(d) if lemmas else [])
        claims += [lemma_claim(lem) for lem in found]
        proof.lemmas = found
        tick("lemmas", 1)
        claims += _blocks(d, session, "hessian", "program")
        claims += _blocks(d, session, "hessian", "recursion")
        tick("Hessian", 2)
        hv = _hvp_claims(d, session)
        claims += hv + code_claims(d, printed, hv, session)
        tick("H v", 3)
        gauss = _blocks(d, session, "gauss_newton", "program")
        psd = cost_psd_claims(d.net.cost_entry)
        claims += [*gauss, *_blocks(d, session, "gauss_newton", "recursion"), *psd,
                   _g_psd(d, psd[-1], gauss)]
        tick("Gauss-Newton", 4)
    if limit.stopped:
        claims.append(time_claim(KIND, timeout))
    proof.seconds = time.perf_counter() - started
    return proof


def _fingerprint(d: KindsSecondDerivation) -> str:
    try:
        return d.program.fingerprint
    except Exception:  # a program that cannot be recorded fails its claims below
        return ""


def _compare(name, text, tex, left, right, how, session: Exact, l=None) -> Claim:
    started = time.perf_counter()
    try:
        found = session.first_difference(left() if callable(left) else left,
                                         right() if callable(right) else right)
    except Exception as error:  # a route that cannot be built fails its claim
        found = (None, f"{type(error).__name__}: {error}")
    claim = Claim(text, tex, KIND, "proved" if found is None else "failed", how, layer=l,
                  name=name, seconds=time.perf_counter() - started)
    if found is not None:
        claim.entry, claim.residual = found[0], str(found[1])[:300]
    return claim


# (matrix, route compared with "direct") → the claim's title, its text and its LaTeX
WHAT = {
    ("hessian", "program"): (
        "program H", "the delta program differentiated along each parameter (forward over "
        "reverse) = d2C/d theta_{l} d theta_{m} by SymPy",
        r"\mathcal{{R}}_{{e_q}}\Bigl\{{\frac{{\partial C}}{{\partial \theta_{{{l}}}}}"
        r"\Bigr\}}_{{q \in \theta_{{{m}}}}} = \frac{{\partial^2 C}}{{\partial "
        r"\theta_{{{l}}}\, \partial \theta_{{{m}}}}}"),
    ("hessian", "recursion"): (
        "recursion H", "the curvature recursion (H_C at the split passed back node by node over "
        "the graph, J^T Omega J plus the residual terms sum_i g_i d2f_i) = d2C/d theta_{l} "
        "d theta_{m} by SymPy",
        r"\bigl(\textstyle\sum_{{\text{{nodes}}}} J^{{T}} \Omega J + \sum_i g_i\, "
        r"\partial^2 f_i\bigr)_{{\theta_{{{l}}} \theta_{{{m}}}}} = \frac{{\partial^2 C}}"
        r"{{\partial \theta_{{{l}}}\, \partial \theta_{{{m}}}}}"),
    ("gauss_newton", "program"): (
        "G", "J^T H_C J with J from the forward tangent statements = J^T H_C J with J from "
        "SymPy's derivatives of s, block ({l}, {m})",
        r"\bigl(\dot{{J}}^{{T}} H_C \dot{{J}}\bigr)_{{\theta_{{{l}}} \theta_{{{m}}}}}"
        r" = \bigl(J^{{T}} H_C J\bigr)_{{\theta_{{{l}}} \theta_{{{m}}}}}"),
    ("gauss_newton", "recursion"): (
        "recursion G", "the curvature recursion without its residual terms = J^T H_C J with J "
        "from SymPy's derivatives of s, block ({l}, {m})",
        r"\bigl(\textstyle\sum_{{\text{{nodes}}}} J^{{T}} \Omega J\bigr)_{{\theta_{{{l}}} "
        r"\theta_{{{m}}}}} = \bigl(J^{{T}} H_C J\bigr)_{{\theta_{{{l}}} \theta_{{{m}}}}}"),
}


def _blocks(d: KindsSecondDerivation, session: Exact, name: str, route: str) -> list[Claim]:
    """Block (l, m), l <= m, of ``route`` against "direct"."""
    title, text, tex = WHAT[(name, route)]
    get = d.hessian if name == "hessian" else d.gauss_newton
    claims = []
    for l in d.layers:
        for m in range(l, d.L + 1):
            claims.append(_compare(
                f"{title} {l},{m}", f"block ({l}, {m}): " + text.format(l=l, m=m),
                tex.format(l=l, m=m), lambda l=l, m=m: get(l, m, route),
                lambda l=l, m=m: get(l, m, "direct"), "exact comparison, entry by entry",
                session, l))
    return claims


def _hvp_claims(d: KindsSecondDerivation, session: Exact) -> list[Claim]:
    """R-operator = H v for every v: zero at v = 0, and ∂/∂v_p of it = column p of H."""
    try:
        result = d.hvp()
        H = d.hessian(route="direct")
    except Exception as error:  # a route that cannot be built fails its claims
        return [Claim(f"Hv {l}: the R-operator runs", "", KIND, "failed", "the program is "
                      "replayed", name=f"Hv {l}", layer=l,
                      residual=f"{type(error).__name__}: {error}"[:300]) for l in d.layers]
    v = d.direction()
    zero = dict.fromkeys(v, 0)
    done: dict = {}  # shared by every layer's entries (vanishes_at_zero)
    claims = []
    at = 0
    for l in d.layers:
        for wrt in d.layer_parameters(l):
            entries = list(result[wrt][l - 1])
            rows = H[at:at + len(entries), :]
            at += len(entries)
            derivatives = sp.Matrix([[differentiate(e, vp) for vp in v] for e in entries])
            claim = _compare(f"Hv {wrt}{l}", f"R-operator on the delta program = H v for "
                             f"(H v)_{wrt}_{l}, for every direction v",
                             rf"\mathcal{{R}}_v\Bigl\{{\frac{{\partial C}}{{\partial "
                             rf"{wrt}_{{{l}}}}}\Bigr\}} = (H v)_{{{wrt}_{{{l}}}}}",
                             derivatives, rows,
                             "exact: its derivative by each v_p is column p of SymPy's "
                             "Hessian, entry by entry; it vanishes at v = 0; a polynomial in v "
                             "with these is H v for every v", session, l)
            claim.parameter = wrt
            vanishes_at_zero(claim, entries, zero, session, done)
            claims.append(claim)
    return claims


def vanishes_at_zero(claim: Claim, entries: list, zero: dict, session: Exact,
                     done: dict) -> None:
    """The R-operator claim's other half: H v is 0 at v = 0 (``zero``), else a ``claim``
    proved by its derivatives in v fails, naming the entry. ``done``: the parts the entries
    share, each set to v = 0 once (xreplace would walk a shared part in every entry)."""
    at_zero = session.first_difference(sp.Matrix([replaced(e, zero, done) for e in entries]),
                                       sp.zeros(len(entries), 1))
    if claim.proved and at_zero is not None:
        claim.status, claim.entry = Status.FAILED, at_zero[0]
        claim.residual = f"at v = 0 it is {at_zero[1]}, not 0"[:300]


def _g_psd(d: KindsSecondDerivation, hc: Claim, blocks: list[Claim]) -> Claim:
    status = worst([hc.status, *(c.status for c in blocks)])
    return Claim(f"the Gauss-Newton matrix is positive semidefinite "
                 f"{curvature.TARGETS_TEXT[d.net.cost]}",
                 r"v^{T} G\, v = (J v)^{T} H_C\, (J v) \ge 0", KIND, status,
                 "vᵀ G v = (J v)ᵀ H_C (J v) >= 0: G is Jᵀ H_C J with J = ds/dtheta (the G "
                 "blocks) and H_C PSD", name="G PSD",
                 culprit=next((c.label for c in [hc, *blocks] if not c.proved), ""))

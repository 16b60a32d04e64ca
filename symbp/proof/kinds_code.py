"""The printed hvp program proved, for networks of layer kinds: claims "Hv code <name><l>"
(the NumPy module's ``_tangent``) and "Hv numba <name><l>" (the numba module's kernel
``_tangent_kernel``, its Python body: the statements numba compiles).

``hvp`` in the generated NumPy module runs ``_tangent``: grad's statements, each after the
tangent ``numeric.tangents`` prints for it by rules of calculus over the printed text. Those
rules are not proved one by one; instead the function as printed is run exactly
(``code_exact``) on one sample, x, y, every parameter and the direction v as SymPy symbols,
and checked statement by statement (``code_trace``), so that no composed second-order entry
is ever expanded:

(a) every tangent statement against D_v of its primal statement, entry by entry, each value
    the two read a fresh symbol: an identity of one statement's size;
(b) the primal gradient the function computes (the values its returned tangents are paired
    with), composed (first order only), against the δ program's gradient, entry by entry;
(c) by induction over the statements, (a) makes each returned tangent D_v of its primal
    value, by (b) D_v of the δ program's gradient: its R-operator, which the "Hv <name><l>"
    claims prove to be H v for every v.

A claim is proved only when (a) holds for every statement its entries rest on, (b) for its
entries, and its "Hv" claim is proved: then the printed program computes H v, exactly, for
this network and one sample (a batch is a sum over its samples, which ``_tangent`` forms by
the same statements). Both sides are read in the coordinates of ``code_coordinates`` (a
choice an indicator, sigmoid a symbol). The kernel's own ``_exp`` and ``_tanh`` (e^t and tanh
to a few ulp, by range reduction) are read as exp and tanh, and its ``_softplus`` as
log(1 + e^u), which its body max(u, 0) + log1p(e^-|u|) is for every real u.

The module text comes from the caller (``printed``: proof sits below numeric, which prints
it); the claims name the fingerprint of the ``_tangent`` they ran (``code_fingerprint``), and
a generated module says its hvp is proved only when its own ``_tangent`` has that fingerprint
(``code_proved``). Without the text (``symbp.prove`` as a library call gives none) and for the
kinds of ``NOT_READ`` no claim is made, and the proof's note says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import sympy as sp

from ..core.kinds_second_order import KindsSecondDerivation
from ..core.status import Status, worst
from .claims import Claim, Proof
from .code_coordinates import Coordinates
from .code_exact import Run, code_fingerprint, exact_function
from .code_trace import PREFIX, Instrument, Trace, told
from .exact import Exact
from .softmax_rows import RowsExact

KIND = "curvature"
# flavour -> the function hvp, hessian and gauss_newton run, the claims' title, what it is
FLAVORS = {"numpy": ("_tangent", "Hv code", "the printed NumPy hvp program"),
           "numba": ("_tangent_kernel", "Hv numba",
                     "the printed numba hvp kernel's Python body (what numba compiles)")}
Printed = Callable[[KindsSecondDerivation, str], str]  # (d, flavor) -> the module's text


# what printed code is not read exactly yet (layer kinds, and max pooling), and why
NOT_READ = {"max pooling": "each window's maximum is chosen by comparing its entries, which "
                           "the exact run cannot decide on symbols"}


def not_read(d: KindsSecondDerivation) -> str:
    """Why the printed hvp program of ``d`` is not compared ("" when it is)."""
    pooled = ["max pooling"] if any(layer.get("pool") == "max" for layer in d.net.layers) else []
    found = next((k for k in (*d.net.kinds, *pooled) if k in NOT_READ), None)
    return "" if found is None else f"the printed hvp program is not compared ({found}: " \
        f"{NOT_READ[found]})"


def note(d: KindsSecondDerivation, printed: Printed | None) -> str:
    """What the proof's note says of the printed hvp program."""
    if printed is None:
        return "the printed hvp program was not given to the prover: no claim on it"
    return not_read(d)


def code_claims(d: KindsSecondDerivation, printed: Printed | None, proved: list[Claim],
                session: Exact | None = None) -> list[Claim]:
    """One claim per parameter and flavour: the printed tangent program run exactly = the
    proved H v; ``proved`` holds the "Hv <name><l>" claims each one rests on."""
    if printed is None or not_read(d):  # no claim made (the proof's note says why)
        return []
    session = session or RowsExact(d.composed_cost())
    # shared: both flavours and H v in the same coordinates; attention's rows the session's
    coordinates = Coordinates(session.reads if isinstance(session, RowsExact) else None)
    rests = {c.name: c for c in proved}
    return [claim for flavor in FLAVORS
            for claim in _flavor_claims(d, printed, flavor, rests, session, coordinates)]


def _flavor_claims(d: KindsSecondDerivation, printed: Printed, flavor: str,
                   rests: dict[str, Claim], session: Exact,
                   coordinates: Coordinates) -> list[Claim]:
    function, title, what = FLAVORS[flavor]
    started = time.perf_counter()
    trace = Trace(dict(zip(d.parameters(), d.direction())), session, coordinates)
    run = Run(trace.maxima)
    try:
        source = printed(d, flavor)
        fingerprint = code_fingerprint(source, function)
        instrument = Instrument(function)
        rates = _run(d, exact_function(source, function, run, instrument, trace.hooks()))
        primal = _primal(d, instrument.returns, trace.locals)
        failure = ""
    except Exception as error:  # code that cannot be run exactly fails every claim
        fingerprint, rates, primal = "", {}, {}
        failure = f"{type(error).__name__}: {error}"[:300]
    claims, how = [], _how(run, trace.checks, flavor)
    tex = function.replace("_", r"\_")
    for l in d.layers:
        for name in d.layer_parameters(l):
            claim = Claim(f"{what} ({function}, code {fingerprint or '?'}) run exactly = the "
                          f"proved H v for (H v)_{name}_{l}",
                          rf"\texttt{{{tex}}}(v)_{{{name}_{{{l}}}}} = "
                          rf"(H v)_{{{name}_{{{l}}}}}",
                          KIND, Status.FAILED, how, layer=l,
                          parameter=name, name=f"{title} {name}{l}")
            claims.append(claim)
            if failure:
                claim.residual = failure
                continue
            try:
                found = _difference(d, l, name, rates[(l, name)], primal[(l, name)], trace)
            except Exception as error:  # a rewriting refused: not decided
                found = ((1, 1), f"not decided: {type(error).__name__}: {error}")
            if found is not None:
                claim.entry, claim.residual = found[0], found[1][:300]
                continue
            rest = rests.get(f"Hv {name}{l}")
            claim.status = worst([rest.status if rest else Status.NOT_COMPARED])
            if not claim.proved:
                claim.culprit = f"Hv {name}{l}"
    if claims:
        claims[0].seconds = time.perf_counter() - started
    return claims


def _difference(d: KindsSecondDerivation, l: int, name: str, rates: list[sp.Expr],
                primal: list[sp.Expr], trace: Trace) -> tuple[tuple[int, int], str] | None:
    """The first entry where the returned tangent is not proved (H v)_name_l, and why: (a)
    the checks it rests on (a tangent in doubt, or not the one paired with the primal entry),
    or (b) the primal entry, composed, is not the δ program's gradient entry."""
    found = []
    for k, (t, r) in enumerate(zip(primal, rates)):
        reason = trace.check(t, r)
        if reason:
            found.append(((k + 1, 1), reason))
            break
    wanted = sp.Matrix(list(d.grad(l, "recursion", name)))
    gradient = trace.session.first_difference(
        trace.coordinates(sp.Matrix(trace.expanded(primal))), trace.coordinates(wanted))
    if gradient is not None:
        shown = str(gradient[1])
        if trace.coordinates.introduced(gradient[1]) or trace.maxima.held(gradient[1]):
            # refused, not refuted (a relation the coordinates forget; some m, not the max)
            shown = f"not decided: a difference in the new coordinates: {shown}"
        found.append((gradient[0], told("the printed gradient against the delta program's:",
                                        shown)))
    return min(found, key=lambda f: f[0]) if found else None


def _primal(d: KindsSecondDerivation, returns: list[str], names: dict
            ) -> dict[tuple[int, str], list[sp.Expr]]:
    """The primal value of each returned tangent (R_dW1's is dW1), as ``_run`` lists them."""
    keys = [(r.index, name) for r in d.net.resolved for name in r.parameters]
    found = {}
    for key, returned in zip(keys, returns):
        if not returned.startswith(PREFIX) or returned[len(PREFIX):] not in names:
            raise ValueError(f"the returned {returned} is not the tangent of a value of the "
                             "program")
        value = names[returned[len(PREFIX):]]
        found[key] = [sp.sympify(e) for e in np.asarray(value, dtype=object).ravel()]
    return found


def _how(run: Run, checks: int, flavor: str) -> str:
    capped = (f"; exp's overflow cap (709) read as not binding in {run.capped} comparisons"
              if run.capped else "")
    maxima = (f"; a softmax's row maxima read as free symbols (NumPy's np.max m, the tangent "
              "at its argmax another; numba's running max kept free in the gradient's "
              f"comparison), {run.maxima.decided} comparisons 0 < t - m decided false for t "
              "in m's row (code_maxima)" if run.maxima.shifts else "")
    kernel = ("; the kernel's _exp and _tanh (e^t and tanh to a few ulp) read as exp and "
              "tanh, its _softplus as log(1 + e^u), which its body is exactly"
              if flavor == "numba" else "")
    return (f"exact, statement by statement: the module's {FLAVORS[flavor][0]} called on NumPy "
            "object arrays of SymPy symbols (one sample x, y; theta; v), float literals as the "
            "rationals they print, np.exp and the other functions as SymPy's, a choice as the "
            f"Piecewise of its branches{capped}{maxima}{kernel}, each value written bound to a "
            f"fresh symbol; each tangent statement = D_v of its primal statement ({checks} "
            "entries, code_trace), the primal gradient composed = the delta program's, so the "
            "returned tangents are its R-operator (new coordinates: code_coordinates)")


def _run(d: KindsSecondDerivation, tangent) -> dict[tuple[int, str], list[sp.Expr]]:
    """What ``tangent`` returns for each parameter, as a list in its row-by-row order."""
    x = np.array([list(d.x)], dtype=object)
    y = np.array([list(d.y)], dtype=object)
    direction = dict(zip(d.parameters(), d.direction()))
    params, rates, keys = [], [], []
    for r in d.net.resolved:
        for name, shape in r.parameters.items():
            M = d.layer_parameters(r.index)[name]
            params.append(np.array(list(M), dtype=object).reshape(shape))
            rates.append(np.array([direction[p] for p in M], dtype=object).reshape(shape))
            keys.append((r.index, name))
    returned = tangent(x, y, *params, *rates)
    return {key: [sp.sympify(e) for e in np.asarray(value, dtype=object).ravel()]
            for key, value in zip(keys, returned)}


def flavor_claims(proof: Proof, flavor: str) -> list[Claim]:
    """The claims of ``proof`` on the printed tangent program of ``flavor``."""
    title = FLAVORS[flavor][1]
    return [c for c in proof.claims if c.name.startswith(title + " ")]


def code_proved(proof: Proof, source: str, flavor: str = "numpy") -> str:
    """The fingerprint of the tangent program of ``source`` (a module of ``flavor``) when
    ``proof`` proves it computes H v (every claim on it proved, of that fingerprint); ""
    otherwise."""
    function = FLAVORS[flavor][0]
    claims = flavor_claims(proof, flavor)
    try:
        fingerprint = code_fingerprint(source, function)
    except ValueError:
        return ""
    if claims and all(c.proved and f"code {fingerprint})" in c.statement for c in claims):
        return fingerprint
    return ""

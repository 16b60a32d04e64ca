"""The second-order prover: the Hessian, H v and the Gauss–Newton matrix of one network,
reported as the claims actually checked (kind "curvature").

Every method proves, by per-layer lemmas (``curvature_lemmas``) and induction from the
output down, that

- the curvature program's block row l is ∂²C/∂θ_l ∂θ_(≥l) (``H row l``; the rows below the
  diagonal are their transposes, second derivatives commuting);
- the Gauss–Newton program's block row l is that of Jᵀ H_C J (``G row l``);
- the R-operator program's (H v)_(W_l), (H v)_(b_l) are D_v ∂C/∂W_l, D_v ∂C/∂b_l, which is
  H v for every direction v (``Hv W_l``, ``Hv b_l``);

plus the function lemmas (σ', σ'', the cost's gradient and Hessian) and, for the cost,
that H_C is positive semidefinite for every width (hence G is), and the K-FAC gap over a
batch. ``expand`` also compares the routes as ``SecondDerivation`` returns them, exactly:
direct = recursion for every block, R-operator = H v (its derivative by each v_p is a column
of H, and it vanishes at v = 0; it is a polynomial in v, so it is H v for every v),
Gauss–Newton = Jᵀ H_C J from SymPy's derivatives, H − G = the residual term, and the
Kronecker factors of G's diagonal blocks. ``local`` makes none of those claims: they
are "not compared", and the summary says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sympy as sp

from ..core import curvature, limits
from ..core.deadline import check_seconds, stopping
from ..core.functions import softmax_formula
from ..core.kinds_second_order import KindsSecondDerivation
from ..core.routes import differentiate
from ..core.second_order import SecondDerivation
from ..core.status import worst
from . import curvature_lemmas as cl
from .claims import Claim, Proof, lemma_claim, time_claim
from .exact import Exact
from .function_lemmas import function_lemmas
from .gauss_newton import batch_gap_claim, cost_psd_claims, kronecker_claims, residual_claims
from .kinds_code import Printed
from .kinds_curvature import prove_kinds_second_order, vanishes_at_zero
from .lemmas import Lemma, _check, delta_lemma
from .prove import prove as prove_first

METHODS = ("auto", "expand", "local")
EXPAND_LIMIT = 300  # estimated paths × parameters above which auto chooses "local"
KIND = "curvature"


def expansion_size(d: SecondDerivation) -> int:
    """Paths of influence times parameters: how the composed second derivatives grow."""
    n = d.net.widths
    paths = 1
    for l in range(1, d.L):
        paths *= n[l]
    return paths * d.params_from(1)


def choose_method(d: SecondDerivation, method: str) -> str:
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    if method == "auto":
        return "expand" if expansion_size(d) <= EXPAND_LIMIT else "local"
    return method


def prove_second_order(d: SecondDerivation, method: str = "auto", *,
                       timeout: float | None = None,
                       progress: Callable[[str, int, int], None] | None = None,
                       printed: Printed | None = None) -> Proof:
    """Prove what ``method`` can about ``d``'s Hessian, H v and Gauss–Newton matrix (a
    network of layer kinds: by ``kinds_curvature``, per network, with ``printed`` the
    generated module's text, whose hvp program it proves too)."""
    if isinstance(d, KindsSecondDerivation):
        return prove_kinds_second_order(d, method, timeout=timeout, progress=progress,
                                        lemmas=second_function_lemmas, printed=printed)
    if not isinstance(d, SecondDerivation):
        raise ValueError("prove_second_order() needs a derivation of order 2 "
                         f"(symbp.derive(net, order=2)), got {type(d).__name__}")
    limits.check_symbolic_hessian(d.net.widths)
    chosen = choose_method(d, method)
    timeout = check_seconds(timeout)
    started = time.perf_counter()
    claims: list[Claim] = []
    note = "" if method != "auto" or chosen == "expand" else (
        f"auto: about {expansion_size(d):,} paths × parameters, above the {EXPAND_LIMIT:,} "
        "it compares; --method expand compares the routes")
    proof = Proof(chosen, claims, network=repr(d.net), note=note)
    session = Exact()
    steps = 4 if chosen == "expand" else 2

    def tick(what: str, done: int) -> None:
        if progress:
            progress(what, done, steps)

    with stopping(timeout) as limit:
        proof.fingerprint = _fingerprint(d)
        lemmas = function_lemmas(d.net) + second_function_lemmas(d)
        claims += [lemma_claim(lem) for lem in lemmas]
        proof.lemmas = lemmas
        claims += _by_lemmas(d, session, proof.lemmas)
        tick("lemmas", 1)
        psd = cost_psd_claims(d.net.cost_entry)
        claims += [*psd, batch_gap_claim(), _g_psd(d, psd[-1], claims)]
        tick("structure", 2)
        if chosen == "expand":
            claims += _compare_routes(d, session)
            tick("routes", 3)
            claims += kronecker_claims(d, session) + residual_claims(d, session)
            tick("Gauss-Newton", 4)
    if limit.stopped:
        claims.append(time_claim(KIND, timeout))
    proof.seconds = time.perf_counter() - started
    return proof


def _fingerprint(d: SecondDerivation) -> str:
    try:
        return d.fingerprint
    except Exception:  # a program that cannot be recorded fails its claims below
        return ""


# ---------------------------------------------------------------- function lemmas


def second_function_lemmas(d: SecondDerivation | KindsSecondDerivation) -> list[Lemma]:
    """σ'' = d/dz σ' (and σ'' in a = σ(z), as the code computes it) for each concrete
    elementwise activation; the cost's Hessian term against its formula; softmax_ce's
    Hessian in z against its formula through the explicit softmax."""
    found: list[Lemma] = []
    z, a, y = sp.Dummy("z"), sp.Symbol("a"), sp.Symbol("y")
    for name in dict.fromkeys(d.net.activations):
        act = d.net.activation(d.net.activations.index(name) + 1)
        if not act.elementwise or act.formula is None or act.derivative is None:
            continue
        forms = curvature.second(act)
        truth = sp.diff(sp.sympify(act.derivative(z)), z)
        assert forms.formula is not None
        found.append(_check(f"{name}''", f"{name}''(z) = d/dz {name}'(z)",
                            rf"{act.latex}''(z) = \frac{{d}}{{dz}} {act.latex}'(z)",
                            sp.sympify(forms.formula(z)), truth))
        if forms.of_output is not None:
            found.append(_check(f"{name}'' in a", f"{name}''(z) in a = {name}(z)",
                                rf"{act.latex}''(z) = {sp.latex(forms.of_output(a))}, \quad "
                                rf"a = {act.latex}(z)",
                                sp.sympify(forms.of_output(act.formula(z))), truth))
    cost = d.net.cost_entry
    n = d.net.widths[-1]
    if curvature.absorbs_output(cost):
        zs = sp.symbols(f"z1:{n + 1}")
        ys = sp.symbols(f"y1:{n + 1}")
        p = softmax_formula(zs)
        C = cost.formula(p, list(ys))
        truth_m = sp.Matrix(n, n, lambda j, k: sp.diff(C, zs[int(j)], zs[int(k)]))
        found.append(_check(f"{cost.name} Hessian in z (n={n})",
                            "(sum y)(diag(a) - a a^T) = d2C/dz2 through the explicit softmax",
                            r"\Bigl(\sum_j y_j\Bigr)\bigl(\operatorname{diag}(a) - a\, a^{T}"
                            r"\bigr) = \frac{\partial^2 C}{\partial z^2}",
                            curvature.output_curvature_in_z(cost, p, list(ys)), truth_m))
    else:
        term = curvature.cost_hessian_term(cost)(a, y)
        terms = cost.formula([a], [y])
        found.append(_check(f"{cost.name} Hessian term", f"d/da of the registered {cost.name} "
                            "gradient term = d2/da2 of the cost's term",
                            rf"h(a, y) = {sp.latex(term)} = \frac{{\partial^2 C}}"
                            r"{\partial a^2}", sp.sympify(term), sp.diff(terms, a, a)))
    return found


# ---------------------------------------------------------------- by lemmas


def _by_lemmas(d: SecondDerivation, session: Exact, found: list[Lemma]) -> list[Claim]:
    """The three programs' claims by per-layer lemmas and induction from the output down."""
    claims: list[Claim] = []
    for name, title, residual in (("hessian", "H", True), ("gauss_newton", "G", False)):
        try:
            t = d.trace(name)
        except Exception as error:  # a program that does not run fails its claims
            claims += [_broken(f"{title} row {l}", error) for l in d.layers]
            continue
        broken: Lemma | None = None
        for l in range(d.L, 0, -1):
            layer = ([delta_lemma(d, t, l, session)] if residual else []) + [
                cl.curvature_lemma(d, t, l, residual, session),
                cl.cross_lemma(d, t, l, residual, session)]
            row = cl.row_lemma(d, t, l, session)
            found += [*layer, row]
            broken = broken or next((lem for lem in layer if not lem.holds), None)
            claims.append(_rests_on(f"{title} row {l}", _row_text(title, l),
                                    rf"{title}_{{\theta_{{{l}}} \theta_{{\ge {l}}}}}",
                                    broken or (None if row.holds else row), l))
    try:
        t = d.trace("hvp")
    except Exception as error:
        return claims + [_broken(f"Hv {w}{l}", error) for l in d.layers for w in "Wb"]
    forward = [cl.tangent_lemma(d, t, l, session) for l in d.layers]
    found += forward
    broken = next((lem for lem in forward if not lem.holds), None)
    for l in range(d.L, 0, -1):
        layer = [delta_lemma(d, t, l, session), cl.tangent_delta_lemma(d, t, l, session)]
        found += layer
        broken = broken or next((lem for lem in layer if not lem.holds), None)
        for wrt in "Wb":
            out = cl.hvp_lemma(d, t, l, wrt, session)
            found.append(out)
            claims.append(_rests_on(
                f"Hv {wrt}{l}", f"R-operator: (H v)_{wrt}_{l} = D_v dC/d{wrt}_{l}, for every "
                "direction v", rf"(H v)_{{{wrt}_{{{l}}}}} = D_v \frac{{\partial C}}"
                rf"{{\partial {wrt}_{{{l}}}}}", broken or (None if out.holds else out), l))
    return claims


def _row_text(title: str, l: int) -> str:
    if title == "H":
        return f"curvature program: block row {l} = d2C/d theta_{l} d theta_(>={l})"
    return f"Gauss-Newton program: block row {l} = (J^T H_C J)_(theta_{l}, theta_(>={l}))"


def _rests_on(name: str, text: str, tex: str, culprit: Lemma | None, l: int) -> Claim:
    claim = Claim(text, tex, KIND, "proved" if culprit is None else "failed",
                  "by per-layer lemmas and induction from the output layer down", layer=l,
                  name=name)
    if culprit is not None:
        claim.entry, claim.residual = culprit.entry, culprit.residual
        claim.culprit = f"lemma {culprit.name} ({culprit.statement})"
    return claim


def _broken(name: str, error: Exception) -> Claim:
    return Claim(f"{name}: the program runs", "", KIND, "failed", "the program is replayed",
                 name=name, residual=f"{type(error).__name__}: {error}"[:300])


def _g_psd(d: SecondDerivation, hc: Claim, claims: list[Claim]) -> Claim:
    rows = [c for c in claims if c.name.startswith("G row")]
    status = worst([hc.status, *(c.status for c in rows)])
    return Claim(f"the Gauss-Newton matrix is positive semidefinite "
                 f"{curvature.TARGETS_TEXT[d.net.cost]}",
                 r"v^{T} G\, v = (J v)^{T} H_C\, (J v) \ge 0", KIND, status,
                 "vᵀ G v = (J v)ᵀ H_C (J v) >= 0, by G = Jᵀ H_C J (the G rows) and H_C PSD",
                 name="G PSD", culprit=next((c.label for c in [hc, *rows] if not c.proved), ""))


# ---------------------------------------------------------------- the routes, compared


def _compare(name, text, tex, left, right, how, session: Exact, l=None) -> Claim:
    started = time.perf_counter()
    try:
        found = session.first_difference(left, right)
    except Exception as error:  # a route that cannot be built fails its claim
        found = (None, f"{type(error).__name__}: {error}")
    claim = Claim(text, tex, KIND, "proved" if found is None else "failed", how, layer=l,
                  name=name, seconds=time.perf_counter() - started)
    if found is not None:
        claim.entry, claim.residual = found[0], str(found[1])[:300]
    return claim


def _compare_routes(d: SecondDerivation, session: Exact) -> list[Claim]:
    claims = []
    for l in d.layers:
        for m in range(l, d.L + 1):
            for name, route in (("hessian", "H"), ("gauss_newton", "G")):
                get = d.hessian if name == "hessian" else d.gauss_newton
                try:
                    left, right = get(l, m, "direct"), get(l, m, "recursion")
                except Exception as error:  # a route that cannot be built
                    claims.append(_broken(f"direct {route} {l},{m}", error))
                    continue
                what = ("d2C/d theta_{l} d theta_{m}" if route == "H" else
                        "J^T H_C J from SymPy's derivatives of s").format(l=l, m=m)
                claims.append(_compare(
                    f"direct {route} {l},{m}", f"direct = recursion for {route} block "
                    f"({l}, {m}): {what}", rf"{route}^{{\text{{direct}}}}_{{\theta_{{{l}}} "
                    rf"\theta_{{{m}}}}} = {route}^{{\text{{recursion}}}}_{{\theta_{{{l}}} "
                    rf"\theta_{{{m}}}}}", left, right, "exact comparison, entry by entry",
                    session, l))
    claims += _rop_claims(d, session)
    return claims


def _rop_claims(d: SecondDerivation, session: Exact) -> list[Claim]:
    """R-operator = H v for every v: zero at v = 0, and ∂/∂v_p of it = column p of H."""
    try:
        result = d.hvp()
        H = d.hessian()
    except Exception as error:
        return [_broken(f"rop {w}{l}", error) for l in d.layers for w in "Wb"]
    v = d.direction()
    zero = dict.fromkeys(v, 0)
    done: dict = {}  # shared by every layer's entries (vanishes_at_zero)
    claims = []
    for l in d.layers:
        for wrt, part in (("W", result["W"][l - 1]), ("b", result["b"][l - 1])):
            entries = list(part)
            first = d.offset(l) + (0 if wrt == "W" else len(d.weights(l)))
            rows = H[first:first + len(entries), :]
            derivatives = sp.Matrix([[differentiate(e, vp) for vp in v] for e in entries])
            claim = _compare(f"rop {wrt}{l}", f"R-operator = H v for (H v)_{wrt}_{l}, for "
                             "every direction v",
                             rf"\mathcal{{R}}_v\Bigl\{{\frac{{\partial C}}{{\partial "
                             rf"{wrt}_{{{l}}}}}\Bigr\}} = (H v)_{{{wrt}_{{{l}}}}}",
                             derivatives, rows,
                             "exact: its derivative by each v_p is column p of H (the "
                             "recursion's), entry by entry; it vanishes at v = 0; a polynomial "
                             "in v with these is H v for every v", session, l)
            vanishes_at_zero(claim, entries, zero, session, done)
            claims.append(claim)
    return claims


def prove(d, method: str = "auto", *, order: int | None = None, **options) -> Proof:
    """``symbp.prove``: the first-order proof (``proof.prove.prove``) of a ``Derivation``, or
    the second-order proof (``prove_second_order``) of a derivation of order 2; ``order``
    asks for one of them (1 for the gradients of an order-2 derivation)."""
    wanted = getattr(d, "order", 1) if order is None else order
    if isinstance(wanted, bool) or wanted not in (1, 2):
        raise ValueError(f"unknown order {wanted!r}; choose one of: 1, 2")
    if wanted == 1:
        return prove_first(d, method, **options)
    unknown = [k for k in options if k not in ("timeout", "progress", "printed")]
    if unknown:
        raise ValueError(f"second order takes no option {unknown[0]!r}; it takes timeout, "
                         "progress and printed")
    return prove_second_order(d, method, **options)

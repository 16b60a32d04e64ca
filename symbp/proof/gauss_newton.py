"""The Gauss–Newton matrix and its structure: H_C positive semidefinite, H = G where the
residual vanishes, and the Kronecker factors of G's diagonal blocks.

- **H_C is PSD**, for every width, by an exact argument, never by eigenvalues. A cost
  written unit by unit has ∂²C/∂a_j ∂a_k = [j = k] h(a_j, y_j) (a symbolic identity), and
  h ≥ 0 is read off h's formula by ``nonnegative``: a sum of products of squares and of
  factors the targets make nonnegative. Softmax with cross-entropy, in z: its Hessian is
  (Σ_m y_m)([j = k] p_j − p_j p_k), which is the Gram form
  Σ_i p_i (e_i − p)(e_i − p)ᵀ + p pᵀ (1 − Σ_i p_i), and Σ_i p_i = 1 for softmax; with
  p_i > 0 and Σ y ≥ 0, vᵀ H_C v = (Σ y) Σ_i p_i ((e_i − p)ᵀ v)² ≥ 0.
- **G is PSD**: vᵀ G v = (J v)ᵀ H_C (J v), from G = Jᵀ H_C J (proved per network).
- **H − G is the residual** Σ_j (∂C/∂s_j) ∂²s_j/∂θ², so H = G wherever ∂C/∂s = 0, and on the
  output layer's own block when σ_L'' = 0 (identity) or the cost absorbs σ_L.
- **K-FAC**: G_(W_l W_l) = (B_lᵀ H_C B_l) ⊗ (a_(l-1) a_(l-1)ᵀ) for one sample, B_l = ∂s/∂z_l,
  W_l row by row (column by column, the vec of the literature, it is (a aᵀ) ⊗ (Bᵀ H_C B));
  over a batch of B samples its gap to the product of the sums is, exactly,
  Σ_s Ω_s ⊗ A_s − (1/B)(Σ_s Ω_s) ⊗ (Σ_t A_t) = (1/(2B)) Σ_(s,t) (Ω_s − Ω_t) ⊗ (A_s − A_t).
"""

from __future__ import annotations

import copy
import time
from functools import cache

import sympy as sp

from ..core import curvature, registry
from ..core.routes import differentiate, local_jacobian
from ..core.second_order import SecondDerivation
from ..core.status import worst
from .claims import Claim
from .exact import Exact
from .general import Identity, check
from .index_entries import A, J, K, Y, Z, fresh, softmax_unit
from .indexed import DEPTH, WIDTH

# ---------------------------------------------------------------- nonnegative, read off a formula


def nonnegative(expr: sp.Expr, known: tuple[sp.Expr, ...] = ()) -> str:
    """"" when ``expr`` is ≥ 0 wherever it is defined, read off its form: a nonnegative
    number, a ``known`` nonnegative expression, an even power, e^u, a sum or product of
    such, a sum over a range of such; else the first part that is not seen to be."""
    if expr.is_Number:
        return "" if expr >= 0 else f"{expr} < 0"
    if expr in known or isinstance(expr, sp.exp):
        return ""
    if expr.is_Pow:
        base, exponent = expr.args
        if exponent.is_Integer and int(exponent) % 2 == 0:
            return ""
        return nonnegative(base, known)
    if expr.is_Add or expr.is_Mul or isinstance(expr, sp.Sum):
        parts = [expr.function] if isinstance(expr, sp.Sum) else list(expr.args)
        return next((r for r in (nonnegative(p, known) for p in parts) if r), "")
    return f"{expr} is not seen to be nonnegative"


def _claim(name, text, tex, status, how, started, residual="", entry=None) -> Claim:
    return Claim(text, tex, "curvature", status, how, name=name, residual=residual[:300],
                 entry=entry, seconds=time.perf_counter() - started)


def _symbolic(name, text, tex, identity: Identity, widths=(1, 2, 3, 4)) -> Claim:
    started = time.perf_counter()
    outcome = check(identity, widths)
    return _claim(name, text, tex, outcome.status, outcome.how, started, outcome.residual,
                  outcome.entry)


# ---------------------------------------------------------------- H_C is PSD


def cost_psd_claims(cost: registry.Cost) -> list[Claim]:
    """H_C positive semidefinite for every width, with the targets ``curvature.TARGETS``
    names; the last claim is the PSD statement, its status the worst of its premises'."""
    if curvature.absorbs_output(cost):
        premises = _softmax_ce_premises(cost)
        how = ("vᵀ H_C v = (Σ_m y_m) Σ_i p_i ((e_i - p)ᵀ v)^2, a nonnegatively weighted sum of "
               "squares, by the claims above")
    else:
        premises = _per_unit_premises(cost)
        how = "vᵀ H_C v = Σ_j h(a_j, y_j) v_j^2, a sum of nonnegative terms, by the claims above"
    status = worst(c.status for c in premises)
    where = curvature.TARGETS_TEXT[cost.name]
    split = "z_L" if curvature.absorbs_output(cost) else "a_L"
    return [*premises, Claim(
        f"the {cost.name} cost's Hessian in {split} is positive semidefinite {where}, for "
        "every width", r"v^{T} H_C\, v \ge 0 \quad \text{for every } v", "curvature",
        status, how, name="H_C PSD",
        culprit=next((c.label for c in premises if not c.proved), ""))]


def _per_unit_premises(cost: registry.Cost) -> list[Claim]:
    started = time.perf_counter()
    terms = registry.per_unit(cost)
    assert terms is not None
    h = curvature.cost_hessian_term(cost)
    j = fresh()
    C = sp.Sum(sp.sympify(terms[0](A[DEPTH, j], Y[j])), (j, 1, WIDTH[DEPTH]))
    second = C.diff(A[DEPTH, J]).diff(A[DEPTH, K])
    identity = Identity(second, sp.KroneckerDelta(J, K) * h(A[DEPTH, J], Y[J]),
                        {J: (1, WIDTH[DEPTH]), K: (1, WIDTH[DEPTH])}, [WIDTH[DEPTH]])
    diagonal = _symbolic(f"{cost.name} Hessian",
                         f"the {cost.name} cost's Hessian is diagonal: d2C/da_j da_k = "
                         "[j = k] h(a_j, y_j), h = d/da of the registered gradient term",
                         r"\frac{\partial^2 C}{\partial a_j\, \partial a_k} = [j = k]\, "
                         r"h(a_j, y_j)", identity)
    a, y = sp.Symbol("a"), sp.Symbol("y")
    term = sp.sympify(h(a, y))
    known = tuple(sp.sympify(f(y)) for f in curvature.TARGETS[cost.name])
    reason = nonnegative(term, known)
    started = time.perf_counter()
    sign = _claim("h nonnegative", f"h(a, y) = {term} >= 0 {curvature.TARGETS_TEXT[cost.name]}",
                  rf"h(a, y) = {sp.latex(term)} \ge 0",
                  "failed" if reason else "proved",
                  "read off its form: a sum of products of even powers and of factors the "
                  "targets make nonnegative (exact)", started, reason)
    return [diagonal, sign]


def _softmax_ce_premises(cost: registry.Cost) -> list[Claim]:
    assert cost.output is not None
    act = registry.ACTIVATIONS[cost.output]
    unit = softmax_unit(act)
    L, n = DEPTH, WIDTH[DEPTH]
    i, m = fresh(), fresh()
    p = lambda e: unit(Z, L, e)  # noqa: E731
    C = sp.Sum(sp.sympify(cost.formula([p(i)], [Y[i]])), (i, 1, n))
    total = sp.Sum(Y[m], (m, 1, n))
    ranges = {J: (1, n), K: (1, n)}
    hessian = _symbolic(f"{cost.name} Hessian in z",
                        f"the {cost.name} cost's Hessian in z is (sum_m y_m)([j = k] p_j - "
                        "p_j p_k), p = softmax(z), for every width",
                        r"\frac{\partial^2 C}{\partial z_j\, \partial z_k} = \Bigl(\sum_m y_m"
                        r"\Bigr)\bigl([j = k]\, p_j - p_j p_k\bigr)",
                        Identity(C.diff(Z[L, J]).diff(Z[L, K]),
                                 total * (sp.KroneckerDelta(J, K) * p(J) - p(J) * p(K)),
                                 ranges, [n]))
    q = sp.IndexedBase("p")
    r = fresh()
    gram = _symbolic("Gram form",
                     "[j = k] p_j - p_j p_k = sum_i p_i ([i = j] - p_j)([i = k] - p_k) + "
                     "p_j p_k (1 - sum_i p_i), for any p and every width",
                     r"[j = k]\, p_j - p_j p_k = \sum_i p_i \bigl([i = j] - p_j\bigr)"
                     r"\bigl([i = k] - p_k\bigr) + p_j p_k \Bigl(1 - \sum_i p_i\Bigr)",
                     Identity(sp.KroneckerDelta(J, K) * q[J] - q[J] * q[K],
                              sp.Sum(q[r] * (sp.KroneckerDelta(r, J) - q[J])
                                     * (sp.KroneckerDelta(r, K) - q[K]), (r, 1, n))
                              + q[J] * q[K] * (1 - sp.Sum(q[m], (m, 1, n))),
                              ranges, [n]))
    explicit = lambda e: sp.exp(Z[L, e]) / sp.Sum(sp.exp(Z[L, m]), (m, 1, n))  # noqa: E731
    ones = _symbolic("softmax sums to one", "sum_i softmax_i(z) = 1, for every width",
                     r"\sum_i \frac{e^{z_i}}{\sum_m e^{z_m}} = 1",
                     Identity(sp.Sum(explicit(i), (i, 1, n)), sp.Integer(1), {}, [n]))
    started = time.perf_counter()
    reason = nonnegative(explicit(J)) or nonnegative(total, (Y[m],))
    sign = _claim("weights nonnegative", "p_i = e^(z_i) / sum_m e^(z_m) >= 0, and sum_m y_m >= 0 "
                  "for targets y_m >= 0", r"p_i = \frac{e^{z_i}}{\sum_m e^{z_m}} \ge 0, \quad "
                  r"\sum_m y_m \ge 0", "failed" if reason else "proved",
                  "read off the formulas: exponentials and sums of them, the targets' sum "
                  "(exact)", started, reason)
    return [hessian, gram, ones, sign]


# ---------------------------------------------------------------- per network


def _compare(name, text, tex, left, right, how, session: Exact) -> Claim:
    started = time.perf_counter()
    try:
        found = session.first_difference(left, right)
    except Exception as error:  # a block that cannot be formed fails its claim
        found = (None, f"{type(error).__name__}: {error}")
    status = "proved" if found is None else "failed"
    return _claim(name, text, tex, status, how, started,
                  "" if found is None else str(found[1]), None if found is None else found[0])


def kronecker_claims(d: SecondDerivation, session: Exact) -> list[Claim]:
    """Per layer: G_(W_l W_l) (Jᵀ H_C J from SymPy's derivatives) equals
    (B_lᵀ H_C B_l) ⊗ (a_(l-1) a_(l-1)ᵀ), B_l = ∂s/∂z_l from the layers' local Jacobians."""
    claims = []
    H = d.split_hessian()
    for l in d.layers:
        B = _split_by_z(d, l)
        Om = B.T * H * B
        a = d.composed_a(l - 1)
        kron = sp.kronecker_product(Om, a * a.T)
        n, m = d.net.widths[l], d.net.widths[l - 1]
        G = d.gauss_newton(l, l, "direct")[: n * m, : n * m]
        claims.append(_compare(
            f"K-FAC {l}", f"G_(W_{l} W_{l}) = (B_{l}^T H_C B_{l}) kron (a_{l - 1} a_{l - 1}^T) "
            "for one sample, W row by row",
            rf"G_{{W_{{{l}}} W_{{{l}}}}} = \bigl(B_{{{l}}}^{{T}} H_C B_{{{l}}}\bigr) \otimes "
            rf"\bigl(a_{{{l - 1}}}\, a_{{{l - 1}}}^{{T}}\bigr)", G, kron,
            "exact comparison, entry by entry, of Jᵀ H_C J with the Kronecker product", session))
    return claims


def _split_by_z(d: SecondDerivation, l: int) -> sp.Matrix:
    """B_l = ∂s/∂z_l, composed: the local Jacobians ∂a_m/∂a_(m-1) of layers L..l+1 and
    ∂a_l/∂z_l, each from its layer's own map (∂z_L/∂a_(L-1) = W_L where the cost absorbs σ_L)."""
    L = d.L
    absorbed = curvature.absorbs_output(d.net.cost_entry)
    row = sp.eye(d.net.widths[L])
    for m in range(L, l, -1):
        row = row * (d.weights(m) if m == L and absorbed else
                     local_jacobian(d, m, d.a_symbols(m - 1)))
    if not (l == L and absorbed):
        z = d.z_symbols(l)
        row = row * sp.Matrix(d.net.activation(l).apply(list(z))).jacobian(z).xreplace(
            dict(zip(d.net.activation(l).apply(list(z)), d.a_symbols(l))))
    return row.xreplace(d.composition)


def batch_gap_claim() -> Claim:
    """The K-FAC gap over a batch of B samples, symbolic in B (kept per process: it reads
    nothing of a network; each call returns its own copy)."""
    return copy.deepcopy(_batch_gap())


@cache
def _batch_gap() -> Claim:
    B = sp.Symbol("B", integer=True, positive=True)
    N, M = sp.Symbol("N", integer=True, positive=True), sp.Symbol("M", integer=True, positive=True)
    Om, Ac = sp.IndexedBase("Omega"), sp.IndexedBase("A")
    J2, K2 = sp.symbols("j2 k2", integer=True, positive=True)
    s, t = fresh(), fresh()

    def o(x):
        return Om[x, J, J2]

    def a(x):
        return Ac[x, K, K2]

    lhs = (sp.Sum(o(s) * a(s), (s, 1, B))
           - sp.Sum(o(s) * a(t), (s, 1, B), (t, 1, B)) / B)
    rhs = sp.Sum((o(s) - o(t)) * (a(s) - a(t)), (s, 1, B), (t, 1, B)) / (2 * B)
    identity = Identity(lhs, rhs, {J: (1, N), J2: (1, N), K: (1, M), K2: (1, M)}, [B, N, M])
    return _symbolic("K-FAC gap",
                     "over a batch of B samples, sum_s Omega_s kron A_s - (1/B)(sum_s Omega_s) "
                     "kron (sum_t A_t) = (1/(2B)) sum_(s,t) (Omega_s - Omega_t) kron (A_s - A_t),"
                     " for every B (zero for B = 1)",
                     r"\sum_s \Omega_s \otimes A_s - \frac{1}{B} \Bigl(\sum_s \Omega_s\Bigr) "
                     r"\otimes \Bigl(\sum_t A_t\Bigr) = \frac{1}{2B} \sum_{s,t} "
                     r"(\Omega_s - \Omega_t) \otimes (A_s - A_t)", identity, (1, 2, 3))


def residual_claims(d: SecondDerivation, session: Exact) -> list[Claim]:
    """H − G = Σ_j (∂C/∂s_j) ∂²s_j/∂θ² block by block (so H = G where ∂C/∂s = 0), and H = G on
    the output layer's own block when the residual vanishes there."""
    claims = []
    s, g = d.split(), _split_gradient(d)
    acts = [d.net.activation(l) for l in d.layers]
    for l in d.layers:
        for m in range(l, d.L + 1):
            rows, cols = d.parameters(l), d.parameters(m)
            first = [[curvature.curving(differentiate(sj, p), acts) for p in rows] for sj in s]
            residual = sp.Matrix([[sp.Add(*[
                g[j] * curvature.plain(differentiate(first[j][i], q)) for j in range(len(s))])
                for q in cols] for i in range(len(rows))])
            difference = d.hessian(l, m, "direct") - d.gauss_newton(l, m, "direct")
            claims.append(_compare(
                f"H - G {l},{m}", f"H - G = sum_j (dC/ds_j) d2s_j/(d theta_{l} d theta_{m})",
                rf"H_{{\theta_{{{l}}} \theta_{{{m}}}}} - G_{{\theta_{{{l}}} \theta_{{{m}}}}} "
                r"= \sum_j \frac{\partial C}{\partial s_j}\, \frac{\partial^2 s_j}"
                rf"{{\partial \theta_{{{l}}}\, \partial \theta_{{{m}}}}}",
                difference, residual, "exact comparison of the direct routes' blocks", session))
    if vanishing_output_residual(d):
        L, act = d.L, d.net.activation(d.L)
        H = d.hessian(L, L)
        formula = curvature.second(act).formula if act.elementwise else None
        explicit = formula is not None  # σ_L'' = 0: its formula, not the opaque σ''
        if formula is not None:
            opaque = curvature.second(act).function
            H = H.replace(lambda e: isinstance(e, opaque), lambda e: formula(*e.args))
        claims.append(_compare(
            "H = G output", f"H = G on the block of theta_{L} (the residual vanishes there)",
            rf"H_{{\theta_{{{L}}} \theta_{{{L}}}}} = G_{{\theta_{{{L}}} \theta_{{{L}}}}}",
            H, d.gauss_newton(L, L), "exact comparison of the two programs' blocks, with "
            f"sigma_{L}'' = 0 written out" if explicit else
            "exact comparison of the two programs' blocks", session))
    return claims


def vanishing_output_residual(d: SecondDerivation) -> bool:
    """Whether ∂²s/∂θ_L² = 0: s = z_L (the cost absorbs σ_L) or σ_L'' = 0 exactly."""
    if curvature.absorbs_output(d.net.cost_entry):
        return True
    act = d.net.activation(d.L)
    formula = curvature.second(act).formula
    return formula is not None and sp.sympify(formula(sp.Symbol("z"))) == 0


def _split_gradient(d: SecondDerivation) -> list[sp.Expr]:
    """∂C/∂s composed, from the cost's formula (s = a_L, or z_L through softmax)."""
    s = d.split()
    if curvature.absorbs_output(d.net.cost_entry):
        z = sp.symbols(f"s1:{len(s) + 1}", cls=sp.Dummy)
        act = d.net.activation(d.L)
        Cz = d.net.cost_entry.formula(act.apply(list(z)), list(d.y))
        return [differentiate(Cz, zj).xreplace(dict(zip(z, s))) for zj in z]
    a = sp.symbols(f"s1:{len(s) + 1}", cls=sp.Dummy)
    C = d.net.cost_entry.formula(list(a), list(d.y))
    return [differentiate(C, aj).xreplace(dict(zip(a, s))) for aj in a]

"""The identities of matrix calculus behind backpropagation, each checked on its own.

The matrix chapter derives the recursion again in matrix form, with shapes; every
identity it displays points to a claim here or in the general theorem. In index
notation, for symbolic widths (``general.check``: symbolic, then at widths 1..4):

- ``diag``          ∂σ(z_j)/∂z_k = [j = k] σ'(z_j): the Jacobian of σ is diag(σ'(z));
- ``hadamard``      Σ_k [j = k] σ'(z_j) v_k = σ'(z_j) v_j: diag(σ'(z)) v = v ⊙ σ'(z);
- ``softmax matrix`` the registered softmax Jacobian is diag(a) − a aᵀ;
- ``linear``        ∂z_j/∂a_k = w_jk: the Jacobian of z = W a + b by a is W;
- ``third-order``   ∂z_i/∂w_jk = [i = j] a_k: the third-order tensor ∂z/∂W;
- ``batch step``, ``batch weights``, ``batch biases``: for a batch of B examples (B
  symbolic), Δ_l = (Δ_{l+1} W_{l+1}) ⊙ σ'(Z_l), ∂C/∂W_l = Δ_lᵀ A_{l-1}, ∂C/∂b_l = Δ_lᵀ 1.

The vec/Kronecker form needs index arithmetic (entry (k−1) n + j of vec(W)) that the
index notation does not have, so ``vec``, ``kronecker`` and ``kronecker contraction`` are
checked at every pair of widths 1..4 only, and say so.
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Callable

import sympy as sp

from ..core import registry
from .claims import Claim, Proof
from .exact import first_difference
from .general import WIDTHS, Identity, check
from .index_entries import A, B, J, K, W, Z, jacobian_entry
from .indexed import LAYER, WIDTH

I = sp.Symbol("i", integer=True, positive=True)
S = sp.Symbol("s", integer=True, positive=True)  # an example of the batch
BATCH = sp.Symbol("B", integer=True, positive=True)
ZB, AB, DB, BB = (sp.IndexedBase(n) for n in ("Z", "A", "Delta", "b"))  # batch matrices
V = sp.IndexedBase("v")
BATCH_WIDTHS = WIDTHS[:3]  # three sizes at once (B, n_l, n_l±1): 1..3 each keeps it quick


def _fresh() -> sp.Dummy:
    return sp.Dummy("i", integer=True, positive=True)


def _symbolic(name: str, text: str, tex: str, identity: Identity,
              widths: tuple[int, ...] = WIDTHS) -> Claim:
    started = time.perf_counter()
    outcome = check(identity, widths)
    return Claim(text, tex, "general", outcome.status, outcome.how, name=name,
                 entry=outcome.entry, residual=outcome.residual,
                 seconds=time.perf_counter() - started)


def diag_claim(act: registry.Activation) -> Claim:
    l = LAYER
    identity = Identity(act.function(Z[l, J]).diff(Z[l, K]),
                        sp.KroneckerDelta(J, K) * act.prime(Z[l, J]),
                        {J: (1, WIDTH[l]), K: (1, WIDTH[l])}, [WIDTH[l]])
    return _symbolic("diag", "the Jacobian of an elementwise activation is diag(sigma'(z))",
                     r"\frac{\partial \sigma(z_j)}{\partial z_k} = [j = k]\,\sigma'(z_j)",
                     identity)


def hadamard_claim(act: registry.Activation) -> Claim:
    l, k = LAYER, _fresh()
    product = sp.Sum(sp.KroneckerDelta(J, k) * act.prime(Z[l, J]) * V[k], (k, 1, WIDTH[l]))
    identity = Identity(product, V[J] * act.prime(Z[l, J]), {J: (1, WIDTH[l])}, [WIDTH[l]])
    return _symbolic("hadamard", "diag(sigma'(z)) v = v * sigma'(z), entry by entry",
                     r"\sum_{k=1}^{n_l} [j = k]\,\sigma'(z_j)\, v_k = v_j\, \sigma'(z_j)",
                     identity)


def softmax_matrix_claim(act: registry.Activation) -> Claim:
    l = LAYER
    matrix = sp.KroneckerDelta(J, K) * A[l, J] - A[l, J] * A[l, K]
    registered = jacobian_entry(act, l, J, K, lambda i: A[l, i])
    identity = Identity(registered, matrix, {J: (1, WIDTH[l]), K: (1, WIDTH[l])}, [WIDTH[l]])
    return _symbolic("softmax matrix",
                     f"the registered {act.name} Jacobian is diag(a) - a a^T",
                     r"\bigl(\operatorname{diag}(a) - a\,a^{T}\bigr)_{jk} "
                     r"= [j = k]\, a_j - a_j a_k",
                     identity)


def _z(l: sp.Expr, i: sp.Expr) -> sp.Expr:
    m = _fresh()
    return sp.Sum(W[l, i, m] * A[l - 1, m], (m, 1, WIDTH[l - 1])) + B[l, i]


def linear_claim() -> Claim:
    l = LAYER
    identity = Identity(_z(l, J).diff(A[l - 1, K]), W[l, J, K],
                        {J: (1, WIDTH[l]), K: (1, WIDTH[l - 1])}, [WIDTH[l], WIDTH[l - 1]])
    return _symbolic("linear", "the Jacobian of z_l = W_l a_(l-1) + b_l by a_(l-1) is W_l",
                     r"\frac{\partial z^{(l)}_j}{\partial a^{(l-1)}_k} = w^{(l)}_{jk}", identity)


def third_order_claim() -> Claim:
    l = LAYER
    identity = Identity(_z(l, I).diff(W[l, J, K]), sp.KroneckerDelta(I, J) * A[l - 1, K],
                        {I: (1, WIDTH[l]), J: (1, WIDTH[l]), K: (1, WIDTH[l - 1])},
                        [WIDTH[l], WIDTH[l - 1]])
    return _symbolic("third-order", "dz_i/dw_jk = [i = j] a_k: the third-order tensor dz/dW",
                     r"\frac{\partial z^{(l)}_i}{\partial w^{(l)}_{jk}} = [i = j]\, a^{(l-1)}_k",
                     identity)


# ---------------------------------------------------------------- batches


def _Z(l: sp.Expr, s: sp.Expr, i: sp.Expr, a: Callable[[sp.Expr, sp.Expr], sp.Expr]):
    """Z_l = A_{l-1} W_lᵀ + 1 b_lᵀ, entry (s, i); ``a(s, m)`` is entry (s, m) of A_{l-1}."""
    m = _fresh()
    return sp.Sum(a(s, m) * W[l, i, m], (m, 1, WIDTH[l - 1])) + BB[l, i]


def batch_claims(act: registry.Activation) -> list[Claim]:
    """The batch forms, with the batch size B symbolic; C = Σ_s C_s, Δ_l = ∂C/∂Z_l."""
    l, s, i = LAYER, _fresh(), _fresh()
    ranges_w = {J: (1, WIDTH[l]), K: (1, WIDTH[l - 1])}
    chain_w = sp.Sum(sp.Sum(DB[l, s, i] * _Z(l, s, i, lambda t, m: AB[l - 1, t, m])
                            .diff(W[l, J, K]), (i, 1, WIDTH[l])), (s, 1, BATCH))
    t = _fresh()
    weights = Identity(chain_w, sp.Sum(DB[l, t, J] * AB[l - 1, t, K], (t, 1, BATCH)),
                       ranges_w, [WIDTH[l], WIDTH[l - 1], BATCH])
    chain_b = sp.Sum(sp.Sum(DB[l, s, i] * _Z(l, s, i, lambda t, m: AB[l - 1, t, m])
                            .diff(BB[l, J]), (i, 1, WIDTH[l])), (s, 1, BATCH))
    biases = Identity(chain_b, sp.Sum(DB[l, t, J], (t, 1, BATCH)), {J: (1, WIDTH[l])},
                      [WIDTH[l], BATCH])
    # the step: Z_{l+1} = σ(Z_l) W_{l+1}ᵀ + 1 b_{l+1}ᵀ, differentiated by entry (S, K) of Z_l
    nxt = _Z(l + 1, s, i, lambda t, m: act.function(ZB[l, t, m]))
    chain_step = sp.Sum(sp.Sum(DB[l + 1, s, i] * nxt.diff(ZB[l, S, K]), (i, 1, WIDTH[l + 1])),
                        (s, 1, BATCH))
    m = _fresh()
    step = Identity(chain_step, act.prime(ZB[l, S, K]) * sp.Sum(DB[l + 1, S, m] * W[l + 1, m, K],
                                                                 (m, 1, WIDTH[l + 1])),
                    {S: (1, BATCH), K: (1, WIDTH[l])}, [WIDTH[l], WIDTH[l + 1], BATCH])
    return [
        _symbolic("batch step", "Delta_l = (Delta_(l+1) W_(l+1)) * sigma'(Z_l) for a batch of B",
                  r"\Delta^{(l)}_{sk} = \sigma'\bigl(Z^{(l)}_{sk}\bigr) \sum_{i} "
                  r"\Delta^{(l+1)}_{si}\, w^{(l+1)}_{ik}", step, BATCH_WIDTHS),
        _symbolic("batch weights", "dC/dW_l = Delta_l^T A_(l-1), the sum over the B examples",
                  r"\frac{\partial C}{\partial w^{(l)}_{jk}} = \sum_{s=1}^{B} "
                  r"\Delta^{(l)}_{sj} A^{(l-1)}_{sk}", weights, BATCH_WIDTHS),
        _symbolic("batch biases", "dC/db_l = Delta_l^T 1, the sum over the B examples",
                  r"\frac{\partial C}{\partial b^{(l)}_{j}} = \sum_{s=1}^{B} \Delta^{(l)}_{sj}",
                  biases, BATCH_WIDTHS),
    ]


# ---------------------------------------------------------------- vec and Kronecker


KRONECKER = {  # name: (plain text, LaTeX)
    "vec": ("W a = (a^T kron I) vec(W)",
            r"W a = \bigl(a^{T} \otimes I_{n_l}\bigr) \operatorname{vec}(W)"),
    "kronecker": ("the Jacobian of z = W a + b by vec(W) is a^T kron I",
                  r"\frac{\partial z}{\partial \operatorname{vec}(W)} = a^{T} \otimes I_{n_l}"),
    "kronecker contraction": ("delta^T (a^T kron I) = vec(delta a^T)^T",
                              r"\delta^{T} \bigl(a^{T} \otimes I_{n_l}\bigr) = "
                              r"\operatorname{vec}\bigl(\delta\, a^{T}\bigr)^{T}"),
}


def kronecker_claims() -> list[Claim]:
    """W a = (aᵀ ⊗ I) vec(W), ∂z/∂vec(W) = aᵀ ⊗ I and δᵀ (aᵀ ⊗ I) = vec(δ aᵀ)ᵀ, at every pair
    of widths 1..4 (vec stacks the columns: entry (k-1) n_l + j is w_jk)."""
    started = time.perf_counter()
    bad: dict[str, str] = {}
    for n, m in itertools.product(WIDTHS, repeat=2):
        weights = sp.Matrix(n, m, lambda j, k: W[LAYER, j + 1, k + 1])
        a = sp.Matrix([A[LAYER - 1, k] for k in range(1, m + 1)])
        delta = sp.Matrix([sp.IndexedBase("delta")[LAYER, j] for j in range(1, n + 1)])
        vec = weights.T.reshape(n * m, 1)
        kron = sp.kronecker_product(a.T, sp.eye(n))
        for name, left, right in (("vec", weights * a, kron * vec),
                                  ("kronecker", (weights * a).jacobian(vec), kron),
                                  ("kronecker contraction", delta.T * kron,
                                   (delta * a.T).T.reshape(1, n * m))):
            found = first_difference(left, right)
            if found is not None and name not in bad:
                bad[name] = f"n_l = {n}, n_(l-1) = {m}: entry {found[0]}, {found[1]}"
    how = (f"instantiated only: at every pair of widths n_l, n_(l-1) in {WIDTHS[0]}..{WIDTHS[-1]}"
           " (exact); the index notation has no index arithmetic for vec")
    seconds = (time.perf_counter() - started) / len(KRONECKER)
    return [Claim(text, tex, "general", "failed" if name in bad else "proved", how, name=name,
                  residual=bad.get(name, ""), seconds=seconds)
            for name, (text, tex) in KRONECKER.items()]


_CACHE: dict[tuple, Proof] = {}


def matrix_identities(activation: str = "generic", output: str | None = None) -> Proof:
    """Every identity of the matrix chapter that the general theorem does not already claim.

    Kept per process, keyed on the registry entries it reads; each call returns its own copy.
    """
    hidden = registry.activation(activation)
    out = registry.activation(output or activation)
    key = (hidden, out, registry.softmax_jacobian_entry)
    if key not in _CACHE:
        _CACHE[key] = _identities(hidden, out)
    return copy.deepcopy(_CACHE[key])


def _identities(hidden: registry.Activation, out: registry.Activation) -> Proof:
    started = time.perf_counter()
    elementwise = hidden if hidden.elementwise else registry.activation("generic")
    claims = [diag_claim(elementwise), hadamard_claim(elementwise)]
    if not out.elementwise:
        claims.append(softmax_matrix_claim(out))
    claims += [linear_claim(), third_order_claim(), *kronecker_claims(),
               *batch_claims(elementwise)]
    return Proof("general", claims, seconds=time.perf_counter() - started,
                 network=f"matrix calculus: activation={hidden.name!r}, output={out.name!r}")




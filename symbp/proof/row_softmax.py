"""A softmax over a symbolic number of entries, opaque to the general theorem, and its lemma.

Attention's weights are P[t, s] = w(s) e^{f(s)} / Σ_{r=1}^{T} w(r) e^{f(r)}: the scores f(r) =
S[t, r] of one row, the mask w(r) = [1 ≤ r ≤ t] under the causal mask (else 1), over a
symbolic number T of tokens. Written out, a lemma about them is a quotient of sums of
exponentials, which the index normal forms cannot compare (its sums sit inside exp and under
a division). So the theorem reads each such quotient as one opaque entry, ``RowSoftmax``, as
it reads an output softmax (``index_entries.softmax_unit``):

- ``opaque`` finds every quotient of that shape in a formula, w(s) e^{f(s)} over the sum of its
  own body with w = 1 or the mask (the weights its lemma is proved for), and writes it as
  ``RowSoftmax(f, w, s, first, last)``: an identity, since the numerator is checked to be
  the sum's body at s;
- its derivative by any entry x is Σ_r J[s, r] ∂f(r)/∂x, with J the registered softmax
  Jacobian (``registry.ACTIVATIONS["softmax"]``, entry by entry as ``index_entries.jacobian_entry``
  lifts it) in the opaque entries; the weights w are numbers, so nothing else moves;
- ``jacobian_identity`` is the lemma that makes that derivative the true one: the registered
  entry equals ∂/∂f(r) of the explicit quotient, for a symbolic T, every t, s, r, with or
  without the mask. It is decided as every lemma of the theorem is (``general.check``).

What remains of an attention lemma is then a sum of products of entries, opaque weights and
brackets, which the index normal forms decide. Written out at small sizes to be checked again
(``written_softmax``), each weight is its quotient once more, so that a difference found
there is a true counterexample, never one of two equal weights taken for independent atoms.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from typing import Any

import sympy as sp

from ..core import registry
from ..core.layers.base import Inside
from ..core.layers.written import written_out
from .claims import Claim
from .general import Identity, check
from .index_entries import J, K, fresh, jacobian_entry
from .indexed import LAYER

ROW = sp.Symbol("rho", integer=True, positive=True)  # the entry a RowSoftmax's f and w read
# (no leading underscore: the printer's ``readable`` leaves it, the atom's own bound name)
T = sp.Symbol("_t", integer=True, positive=True)  # the row, in the lemma
TOKENS = sp.Symbol("T", integer=True, positive=True)  # the entries of a row, in the lemma
SCORE = sp.IndexedBase("f")  # the row's scores, in the lemma


@functools.lru_cache(maxsize=4096)
def _canonical(expr: sp.Expr) -> sp.Expr:
    """``expr`` with the indices of its sums named by how deeply each is nested (_p1_1, ...):
    one name for one formula, whatever fresh indices it was written with (remembered: every
    weight rebuilt asks again, mostly of a formula already so named)."""
    return _named_by_depth(expr)


def _named_by_depth(expr: sp.Expr, depth: int = 0) -> sp.Expr:
    if isinstance(expr, sp.Sum):
        names = {i: sp.Symbol(f"_p{depth + 1}_{n}", integer=True, positive=True)
                 for n, (i, _, _) in enumerate(expr.limits, 1)}
        body = _named_by_depth(expr.function.xreplace(names), depth + 1)
        return sp.Sum(body, *[(names[i], a, b) for i, a, b in expr.limits])
    if not expr.args or isinstance(expr, sp.Indexed):
        return expr
    return expr.func(*[_named_by_depth(a, depth) for a in expr.args])


class RowSoftmax(sp.Function):
    """``RowSoftmax(f, w, s, first, last)``: w(s) e^{f(s)} / Σ_{r=first}^{last} w(r) e^{f(r)},
    f and w written in ``ROW``; opaque, differentiated through the registered softmax
    Jacobian (proved for every row length by ``jacobian_identity``)."""

    nargs = 5

    @classmethod
    def eval(cls, f: sp.Expr, w: sp.Expr, s: sp.Expr, first: sp.Expr,
             last: sp.Expr) -> sp.Expr | None:
        if w.xreplace({ROW: s}) == 0:  # a masked weight is exactly 0
            return sp.Integer(0)
        canonical = _canonical(f) if f.has(sp.Sum) else f  # written out: nothing to name
        if canonical != f:  # one atom for one formula, on every side of a lemma
            return cls(canonical, w, s, first, last)
        return None

    def at(self, s: sp.Expr) -> RowSoftmax:
        f, w, _, first, last = self.args
        return type(self)(f, w, s, first, last)

    def _eval_derivative(self, x: sp.Basic) -> sp.Expr:
        f, _, s, first, last = self.args
        if not f.has(x.base if isinstance(x, sp.Indexed) else x):  # w[l, j, k] is read as
            # w[l, p, q] is, with [j = p] [k = q]: the base says whether f depends on it
            return sp.Integer(0)
        r = fresh()
        entry = jacobian_entry(registry.ACTIVATIONS["softmax"], LAYER, s, r, self.at)
        return sp.Sum(entry * f.xreplace({ROW: r}).diff(x), (r, first, last))

    def explicit(self) -> sp.Expr:
        """What it stands for: the quotient."""
        f, w, s, first, last = self.args
        r = fresh()
        total = sp.Sum((w * sp.exp(f)).xreplace({ROW: r}), (r, first, last))
        return w.xreplace({ROW: s}) * sp.exp(f.xreplace({ROW: s})) / total

    def _latex(self, printer: Any, exp: str | None = None) -> str:
        f, w, s, first, last = self.args
        inner = sorted({i for i in f.atoms(sp.Symbol) if i.name.startswith("_p")},
                       key=lambda i: i.name)  # the canonical names, as h_1, h_2, ...
        f = f.xreplace({i: sp.Symbol(f"h_{{{n}}}") for n, i in enumerate(inner, 1)})
        row = (rf"\operatorname{{softmax}}_{{{printer._print(ROW)}={printer._print(first)}}}"
               rf"^{{{printer._print(last)}}}")
        weight = "" if w == 1 else rf"{printer._print(w)}\, "
        tex = rf"{row}\bigl({weight}e^{{{printer._print(f)}}}\bigr)_{{{printer._print(s)}}}"
        return tex if exp is None else rf"\bigl({tex}\bigr)^{{{exp}}}"


def written_softmax(expr: sp.Expr) -> sp.Expr:
    """``expr`` written out at concrete sizes with every ``RowSoftmax`` as its quotient, its
    sum written out: what an instance of a lemma is compared in."""
    found = expr.atoms(RowSoftmax)
    if any(not _numbered(e) for e in found) or any(
            a.has(RowSoftmax) for e in found for a in e.args):
        return expr.replace(lambda e: isinstance(e, RowSoftmax),
                            lambda e: written_out(e.explicit()))
    # each distinct weight written out once (the lemma's sides, instances and points share
    # them): a quotient over a row of a number of entries, its own index summed away
    return expr.xreplace({e: _written(e) for e in found})


@functools.lru_cache(maxsize=4096)
def _written(e: RowSoftmax) -> sp.Expr:
    """A numbered weight's quotient, written out."""
    return written_out(e.explicit())


def _numbered(e: RowSoftmax) -> bool:
    """A weight over a row of numbered entries: written out, no index of its sum remains."""
    return bool(e.args[3].is_Integer and e.args[4].is_Integer)


# ---------------------------------------------------------------- finding the quotients


def opaque(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every w(s) e^{f(s)} / Σ_r w(r) e^{f(r)} written as a ``RowSoftmax``."""
    if not expr.has(sp.exp):
        return expr
    return expr.replace(lambda e: isinstance(e, sp.Mul) and any(
        _denominator(a) is not None for a in e.args), _rewrite)


def _denominator(factor: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Symbol, sp.Expr, sp.Expr] | None:
    """(f, w, r, first, last) when ``factor`` is 1 / Σ_r w(r) e^{f(r)}, w free of entries."""
    if not (factor.is_Pow and factor.exp == -1 and isinstance(factor.base, sp.Sum)
            and len(factor.base.limits) == 1):
        return None
    (r, first, last), = factor.base.limits
    exps = [a for a in sp.Mul.make_args(factor.base.function) if isinstance(a, sp.exp)]
    if len(exps) != 1:
        return None
    w = sp.Mul(*[a for a in sp.Mul.make_args(factor.base.function) if a is not exps[0]])
    if w != 1 and not (isinstance(w, Inside) and w.args[:2] == (r, first)):
        return None  # the weights its lemma is proved for: none, or the causal mask
    return exps[0].args[0], w, r, first, last


def _rewrite(product: sp.Mul) -> sp.Expr:
    factors = list(product.args)
    for n, factor in enumerate(factors):
        found = _denominator(factor)
        if found is None:
            continue
        f, w, r, first, last = found
        others = factors[:n] + factors[n + 1:]
        have = Counter(_canonical(o) for o in others)
        for s in _candidates(others):
            wanted = Counter(_canonical(a) for a in sp.Mul.make_args(
                w.xreplace({r: s}) * sp.exp(f.xreplace({r: s}))))
            if all(have[a] >= k for a, k in wanted.items()):
                rest = have - wanted
                left = [o for o in others if _canonical(o) in rest]
                entry = RowSoftmax(f.xreplace({r: ROW}), w.xreplace({r: ROW}), s, first, last)
                return opaque(sp.Mul(*left, entry))
    return product


def _candidates(factors: list[sp.Expr]) -> list[sp.Expr]:
    """The index expressions the numerator's entries read: where s may be found."""
    found = {i for f in factors if isinstance(f, sp.exp)
             for e in f.atoms(sp.Indexed) for i in e.indices}
    return sorted(found, key=sp.default_sort_key)


# ---------------------------------------------------------------- its lemma


def jacobian_identity(causal: bool) -> Identity:
    """The registered softmax Jacobian entry J[s, r], in the quotients, against ∂/∂f_r of the
    explicit w(s) e^{f_s} / Σ_m w(m) e^{f_m}, over T entries (w = [1 ≤ m ≤ t] when causal)."""
    m = fresh()

    def weight(i: sp.Expr) -> sp.Expr:
        return Inside(i, 1, T) if causal else sp.Integer(1)

    def explicit(i: sp.Expr) -> sp.Expr:
        total = sp.Sum(weight(m) * sp.exp(SCORE[m]), (m, 1, TOKENS))
        return weight(i) * sp.exp(SCORE[i]) / total

    registered = jacobian_entry(registry.ACTIVATIONS["softmax"], LAYER, J, K, explicit)
    ranges = {J: (1, TOKENS), K: (1, TOKENS)}
    if causal:
        ranges[T] = (sp.Integer(1), TOKENS)
    return Identity(registered, explicit(J).diff(SCORE[K]), ranges, [TOKENS])


def masks(identities: list[Identity]) -> list[bool]:
    """Which row softmaxes the lemmas read: unmasked (False), under the causal mask (True)."""
    found = {a.args[1] != 1 for idn in identities for side in (idn.lhs, idn.rhs)
             for a in side.atoms(RowSoftmax)}
    return sorted(found)


def jacobian_claim(causal: bool) -> Claim:
    """The claim that a row softmax's derivative, as the lemmas take it, is the true one."""
    started = time.perf_counter()
    outcome = check(jacobian_identity(causal))
    mask, tex_mask = ("[1 <= m <= t] e^f_m (the causal mask), for every t in 1..T",
                      r"[1 \le m \le t]\, ") if causal else ("e^f_m", "")
    return Claim(
        f"row softmax: the registered softmax Jacobian a_s ([s = r] - a_r) is d/df_r of "
        f"a_s = w_s e^f_s / sum_m w_m e^f_m over a row of T entries, w_m e^f_m = {mask}, "
        "for every T: the derivative the lemmas take for attention's weights",
        r"\frac{\partial}{\partial f_r}\,\frac{" + tex_mask.replace("m", "s") + r"e^{f_s}}"
        r"{\sum_{m=1}^{T} " + tex_mask + r"e^{f_m}} = a_s \bigl([s = r] - a_r\bigr)",
        "general", outcome.status, outcome.how,
        name=f"{'causal ' if causal else ''}row softmax Jacobian", entry=outcome.entry,
        residual=outcome.residual, seconds=time.perf_counter() - started)

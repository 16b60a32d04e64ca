"""The root of a norm's variance as one atom, for the second-order theorem's lemmas.

A layer norm's or a batch norm's x̂ = (x − μ)/√(v + ε) holds v, a sum over a symbolic number of
entries, under a square root. Differentiated twice, a lemma holds (v + ε)^(−1/2), ^(−3/2) and
^(−5/2) of that sum; the index normal forms expand each power's base again wherever it stands,
and one lemma takes minutes. So, as the per-network route reads p^(m/2) as the m-th power of
one atom √p (``polynomials``), the second-order lemmas read each square root of a formula
with a sum in it as one atom, ``Root(p)``, before any derivative is taken (``opaque``):

- p^(m/2) = Root(p)^m for every integer m (principal powers: an identity);
- ∂Root(p)/∂x = (∂p/∂x) / (2 Root(p)), the chain rule for √ and nothing registered;
- p with its sums' indices named by depth (``row_softmax._canonical``): one radicand is one
  atom on both sides of a lemma. A radicand that reads an index (a batch norm's feature) is
  an atom per value of it, as an entry is.

The normal forms then decide a lemma with Root(p) an independent atom: sound (an identity for
every value of the atom holds for √p), incomplete where a lemma needs Root(p)² = p ("not
proved"). Written out at small sizes, a radicand has no sum left and Root(p) is √p again
(``Root.eval``), so that a difference found there is a true counterexample.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from . import sums
from .general import Identity
from .row_softmax import _canonical
from .sums import Ranges


class Root(sp.Function):
    """√p for a radicand p with a sum in it, opaque (module text); √p itself once written out."""

    nargs = 1

    @classmethod
    def eval(cls, p: sp.Expr) -> sp.Expr | None:
        if not p.has(sp.Sum):  # written out: the number it stands for
            return sp.sqrt(p)
        canonical = _canonical(p)
        return cls(canonical) if canonical != p else None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return 1 / (2 * self)

    def _latex(self, printer: Any, exp: str | None = None) -> str:
        tex = rf"\sqrt{{{printer._print(self.args[0])}}}"
        return tex if exp is None else rf"\left({tex}\right)^{{{exp}}}"


def opaque(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every p^(m/2), p holding a sum, written Root(p)^m."""
    return expr.replace(
        lambda e: e.is_Pow and e.exp.is_Rational and e.exp.q == 2 and e.base.has(sp.Sum),
        lambda e: Root(e.base) ** e.exp.p)


def decided(identity: Identity) -> Identity:
    """A norm's lemma (one reading a Root) decided by ``difference``."""
    if any(side.has(Root) for side in (identity.lhs, identity.rhs)):
        identity.decide = difference
    return identity


def difference(lhs: sp.Expr, rhs: sp.Expr, ranges: Ranges) -> sp.Expr:
    """``sums.difference`` with each Root(p) an entry R_k[i, ...] of the symbols p reads, one k
    per radicand up to their names: a function of them that nothing else is known of (so the
    expansion never enters p; sound as Root is, module text). A norm's indices are never
    shifted: ``affine_sums`` would only expand every term again (6 times the time)."""
    bases: dict[sp.Expr, sp.IndexedBase] = {}

    def entry(root: Root) -> sp.Expr:
        p = root.args[0]
        free = p.free_symbols  # every symbol p reads (an index, the depth L), an argument:
        # none is ever renamed under an atom that does not show it
        reads = list(dict.fromkeys(x for x in sp.preorder_traversal(p) if x in free))
        key = p.xreplace({x: sp.Symbol(f"_place{n}", integer=True)
                          for n, x in enumerate(reads)})
        base = bases.setdefault(key, sp.IndexedBase(f"_root{len(bases)}"))
        return base[tuple(reads)] if reads else sp.Symbol(base.name)

    def general(side: sp.Expr) -> sp.Expr:
        return side.replace(lambda e: isinstance(e, Root), entry)

    return sums.difference(general(lhs), general(rhs), ranges)


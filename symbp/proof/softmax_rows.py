"""Exact comparison of expressions that hold softmax rows (attention), in new coordinates.

Attention's weights P[t, s] = e^{S_ts} / Σ_r e^{S_tr}, composed into a cost and differentiated
twice, are quotients over powers of every row's sum. Compared as they stand (``exact``), each
difference is brought over the product of those powers written out, and its numerator grows
past what the polynomial arithmetic multiplies in minutes (one channel of 2 tokens: 30 s an
entry). ``RowsExact`` rewrites both sides first, each node replaced by one of equal value:

- every e^{n S} whose S is a score of a row of the cost (an exponent summed in a denominator
  of the composed cost) becomes e_k^n, e_k a positive symbol, n an integer (SymPy writes
  (e^S)² as e^{2S});
- ``coarse``: where a row's sum stands, the positive symbol D_t; and every affine form of the
  cost (Q, K, V: a sum of monomials in its own symbols, such as b + w_1 x_1 + w_2 x_2) is a
  symbol wherever its terms stand together, a multiple c of each; the products of sums that
  the Hessian's entries are then expand to a fraction of the terms (130,000 to 8,000 for
  an entry W_Q by W_K of examples/attention.toml);
- ``fine``, when the coarse comparison leaves a difference: no forms, and in each row one
  entry of its own (read by no other row's sum), its pivot, becomes D_t − (the row's other
  entries). That is a linear change of variables (the rows' entries ↔ their sums and other
  entries), so nothing is lost; every denominator is then a power of D_t, a monomial.

Why "equal" stays a proof. The rewritten difference G satisfies G(ξ, u(ξ)) = F(ξ) at every
point ξ of the original symbols, u the new symbols at the values they stand for (e_k =
exp(S_k) and D_t positive, a form its sum). ``Exact`` proves G zero as a rational function of
independent ξ and u, so it vanishes at u = u(ξ) wherever its denominators do not: the
rewritten denominators of F, each nonzero somewhere because F itself passes ``Exact``'s
refusals first, e_k and D_t. Taking u independent forgets relations (a form is also its
terms, a row's sum is also its entries in the coarse coordinates): an identity that needs
one is not proved there, which sends it to the fine coordinates, never to "equal".
"""

from __future__ import annotations

from collections import Counter

import sympy as sp

from .exact import Exact

Key = frozenset  # an exponent up to its scale: {(monomial, coefficient / leading coefficient)}


def _scaled(argument: sp.Expr) -> tuple[Key, sp.Rational]:
    """(the argument's terms divided by its leading coefficient, that coefficient): n S and S
    share the key, their scales differ by n."""
    terms: dict[sp.Expr, sp.Rational] = {}
    for term in sp.Add.make_args(sp.expand(argument)):
        c, m = term.as_coeff_Mul()
        terms[m] = terms.get(m, sp.S.Zero) + c
    terms = {m: c for m, c in terms.items() if c != 0}
    if not terms:
        return Key(), sp.S.Zero
    lead = terms[min(terms, key=sp.default_sort_key)]
    return Key((m, c / lead) for m, c in terms.items()), lead


def softmax_rows(expr: sp.Expr) -> list[tuple[sp.Expr, ...]]:
    """The rows in ``expr``: the exponents of every sum of exponentials it divides by, each
    row's exponents in SymPy's order, the rows in SymPy's order (deterministic)."""
    found = {p.base for p in expr.atoms(sp.Pow) if p.exp.is_Integer and p.exp < 0
             and p.base.is_Add and all(isinstance(a, sp.exp) for a in p.base.args)}
    return [tuple(sorted((a.args[0] for a in base.args), key=sp.default_sort_key))
            for base in sorted(found, key=sp.default_sort_key)]


class Coordinates:
    """The rewriting of the module text for the rows of ``cost``: ``rewrite(expr)``; with
    ``forms``, the affine forms of ``cost`` too (below)."""

    def __init__(self, cost: sp.Expr, forms: bool) -> None:
        self.plain = frozenset(cost.free_symbols)
        self.scores: dict[Key, tuple[sp.Rational, sp.Symbol]] = {}
        entries: list[list[sp.Expr]] = []
        for row in softmax_rows(cost):
            for argument in row:
                key, scale = _scaled(argument)
                if key not in self.scores:
                    self.scores[key] = (scale, sp.Symbol(f"softmax_e{len(self.scores) + 1}",
                                                         positive=True))
            entries.append([self._entry(argument) for argument in row])
        readers = Counter(e for row_entries in entries for e in set(row_entries))
        self.pivots: dict[sp.Basic, sp.Expr] = {}
        self.sums: dict[frozenset, sp.Symbol] = {}
        for t, row_entries in enumerate(entries, 1):
            total = sp.Symbol(f"softmax_rowsum{t}", positive=True)
            if forms:  # the row's sum, where it stands, is the symbol
                self.sums[frozenset(row_entries)] = total
                continue
            own = [e for e in row_entries if readers[e] == 1 and e.is_Symbol]
            if own:  # a row whose every entry another row reads keeps its entries
                self.pivots[own[0]] = total - sp.Add(*[e for e in row_entries if e != own[0]])
        self.forms: dict[Key, tuple[sp.Rational, sp.Symbol]] = {}
        self._by_lead: dict[sp.Expr, list[tuple[Key, sp.Expr]]] = {}
        self._rewritten: dict[sp.Basic, sp.Basic] = {}
        self._harvest = forms and bool(self.scores)
        if self._harvest:
            self.rewrite(cost)
            self._harvest = False

    def _entry(self, argument: sp.Expr) -> sp.Expr | None:
        """e^{argument} as a power of a row entry's symbol, or None when it is not one."""
        key, scale = _scaled(argument)
        found = self.scores.get(key)
        if found is None:
            return None
        n = scale / found[0]
        return found[1] ** n if n.is_Integer else None

    def rewrite(self, expr: sp.Basic) -> sp.Basic:
        """``expr`` in the new coordinates: each node replaced by one of equal value."""
        if not self.scores:
            return expr
        done = self._rewritten.get(expr)
        if done is not None:
            return done
        if isinstance(expr, sp.exp) and (entry := self._entry(expr.args[0])) is not None:
            if self._harvest:  # the forms its score reads (Q, K) are forms of the cost
                self.rewrite(expr.args[0])
            base, n = entry.as_base_exp()
            done = self.pivots.get(base, base) ** n
        else:
            done = expr.func(*[self.rewrite(a) for a in expr.args]) if expr.args else expr
            if done.is_Add and self.sums:
                done = self.sums.get(frozenset(done.args), done)
            if done.is_Add and (self.forms or self._harvest):
                done = self._with_forms(done)
        self._rewritten[expr] = done
        return done

    def _monomial(self, term: sp.Expr) -> tuple[sp.Rational, sp.Expr] | None:
        """(c, m) when ``term`` is c m, m a product of the cost's own symbols; else None."""
        c, m = term.as_coeff_Mul()
        factors = sp.Mul.make_args(m)
        if all((f.is_Symbol and f in self.plain) or (f.is_Pow and f.base in self.plain and
                                                    f.exp.is_Integer and f.exp > 0)
               for f in factors):
            return c, m
        return None

    def _with_forms(self, total: sp.Expr) -> sp.Expr:
        """``total`` with every affine form whose terms it holds (a multiple c of each) as c
        times the form's symbol; harvesting, a sum of such terms alone is a new form."""
        terms: dict[sp.Expr, sp.Rational] = {}
        rest = []
        for term in total.args:
            found = self._monomial(term)
            if found is None:
                rest.append(term)
            else:
                terms[found[1]] = terms.get(found[1], sp.S.Zero) + found[0]
        if len(terms) < 2:
            return total
        if self._harvest and not rest and terms:
            key, scale = _scaled(total)
            if key not in self.forms:
                symbol = sp.Symbol(f"form{len(self.forms) + 1}")
                self.forms[key] = (scale, symbol)
                lead = min((m for m, _ in key), key=sp.default_sort_key)
                self._by_lead.setdefault(lead, []).append((key, symbol))
        taken = []
        for m in sorted(terms, key=sp.default_sort_key):
            for key, symbol in self._by_lead.get(m, ()):
                c = terms.get(m)
                if c is None or not all(terms.get(n) == c * r for n, r in key):
                    continue
                for n, _ in key:
                    del terms[n]
                taken.append(c * symbol)
        if not taken:
            return total
        return sp.Add(*rest, *taken, *[c * m for m, c in terms.items()])


class RowsExact(Exact):
    """An ``Exact`` session that compares in the coordinates of the softmax rows of ``cost``
    and its affine forms, and where that proves nothing, in the rows' coordinates alone
    (module text); without rows, exactly ``Exact``."""

    def __init__(self, cost: sp.Expr) -> None:
        super().__init__()
        self.coarse = Coordinates(cost, forms=True)
        self.fine = Coordinates(cost, forms=False)

    def reads(self, exponent: sp.Expr) -> bool:
        """Whether e^exponent is an entry of a row of the cost (read in these coordinates)."""
        return self.fine._entry(exponent) is not None

    def residual(self, a: sp.Basic, b: sp.Basic = sp.S.Zero) -> sp.Expr | str:
        """As ``Exact.residual``; what it refuses is refused of a and b as they stand, and
        what it compares is compared in the new coordinates: with the forms first, then
        without them when that leaves a difference."""
        if not self.fine.scores:
            return super().residual(a, b)
        a, b = sp.sympify(a), sp.sympify(b)
        for side in (a, b):
            reason = self.refusal(side) if isinstance(side, sp.Expr) else None
            if reason:
                return f"not decided: {reason}"
        found = super().residual(self.coarse.rewrite(a), self.coarse.rewrite(b))
        if found == 0:
            return found
        return super().residual(self.fine.rewrite(a), self.fine.rewrite(b))

"""A printed tangent program checked statement by statement (``Trace``), so that its composed
second-order entries are never expanded.

The printed function runs exactly (``code_exact``) with one change, made to the text read and
not to the module: after every assignment, each entry the statement wrote that is not a symbol
or a number is bound to a fresh real symbol t, its definition def(t) in the symbols it read
(``let``; an expression met before keeps its symbol). The run is then a straight-line trace,
each definition the size of one statement. Symbols reading a parameter θ or the direction v
(or a symbol that does) are active; the others (of x, y and constants) have rate 0.

A statement ``X... = f`` run where R_X is bound is a primal statement: the printer writes its
tangent ``R_X... = g`` before it (a zero tangent after it: then X is not yet paired and its
values' rates come by the chain rule). After it each entry t of X it wrote is paired with the
entry r of R_X at its place, and checked:

  (a) r = Σ_u ∂def(t)/∂u · ṫ(u), over the symbols u that def(t) reads, ṫ(u) the tangent paired
      with u before (v_p for θ_p, 0 for an inactive u, the chain rule through the definition
      of a value no statement paired); r read as itself, else by its definition (and that of
      the parts a tangent statement wrote before it: np.dot(..., R_u), then R_u += ...).
      Every symbol is independent, so this is an identity of one statement's size, decided by
      ``Exact`` in the coordinates of ``code_coordinates``. Its choices (np.where, min, max, a
      conditional, |u|) are differentiated with the choice fixed: both sides take the same
      branch by the same condition, which the coordinates read as one indicator symbol.

Then ṫ(t) := r. A check that fails, or that used a ṫ(u) in doubt, puts t in doubt with the
statement's text; a claim on an entry whose tangent is in doubt fails with it.

Why the returned tangents are D_v of the returned primal values: by induction over the trace,
each ṫ(u) in a check is D_v u (as a function of x, y, θ, v); the identity (a) holds at every
value of its symbols, so at the trace's values r = Σ ∂def(t)/∂u · D_v u = D_v t, the chain rule
(with every choice fixed at the branch the point takes, the convention the registry's
derivatives keep: ReLU'(0) = 0). A value read before it is written (np.empty's nan) is refused. A
softmax's row maximum m is a free symbol paired with a free tangent ṁ, or (numba) a choice
kept free in (b): both identities then hold for every m (``code_maxima``).
``kinds_code`` then compares the primal gradient, expanded (first order only), with the δ
program's (b): an identity for every value of the coordinates' indicators, so the two agree as
functions with every choice fixed, and so do their D_v. The returned tangents are then D_v of
the δ program's gradient, its R-operator, which the "Hv" claims prove is H v.
"""

from __future__ import annotations

import ast
from typing import Any

import numpy as np
import sympy as sp
from sympy.logic.boolalg import Boolean

from .code_coordinates import Coordinates
from .code_maxima import Maxima
from .exact import Exact

PREFIX = "R_"


class Trace:
    """One run's definitions, tangents and doubts; ``seeds`` gives θ_p → v_p."""

    def __init__(self, seeds: dict[sp.Symbol, sp.Symbol], session: Exact | None = None,
                 coordinates: Coordinates | None = None):
        self.defs: dict[sp.Symbol, sp.Expr] = {}
        self._named: dict[sp.Expr, sp.Symbol] = {}
        self.tangent: dict[sp.Basic, sp.Expr] = dict(seeds)
        self.active: set[sp.Basic] = {*seeds, *seeds.values()}
        self.carries: set[sp.Basic] = set(seeds.values())  # what reads v: tangent values
        self.rated: set[sp.Basic] = set(seeds.values())  # the tangents paired so far
        self.doubt: dict[sp.Basic, str] = {}
        self.locals: dict[str, Any] = {}
        self.checks = 0
        self.session = session or Exact()
        self.coordinates = coordinates or Coordinates()
        self._rates: dict[sp.Basic, tuple[sp.Expr, str]] = {}
        # the run's row maxima (code_maxima): read in these definitions, paired by ``free``
        self.maxima = Maxima(self.defs, self.free)

    # ---- the run's hooks

    def let(self, value: Any) -> Any:
        """``value`` with each entry that is not a symbol or a number bound to a symbol (an
        array in place, so that its views see it)."""
        if isinstance(value, np.ndarray):
            if value.dtype == object:
                for index in np.ndindex(value.shape):
                    value[index] = self._one(value[index])
            return value
        return self._one(value)

    def _one(self, e: Any) -> Any:
        if not isinstance(e, sp.Basic) or e.is_Atom or isinstance(e, Boolean):
            return e
        found = self._named.get(e)
        if found is None:
            found = sp.Symbol(f"t{len(self.defs) + 1}", real=True)
            self.defs[found] = e
            self._named[e] = found
            if e.free_symbols & self.active:
                self.active.add(found)
            if e.free_symbols & self.carries:
                self.carries.add(found)
        return found

    def pair(self, primal: Any, rate: Any, text: str) -> None:
        """Check each entry of ``primal`` against the entry of ``rate`` at its place."""
        primal = np.asarray(primal, dtype=object)
        try:
            rate = np.broadcast_to(np.asarray(rate, dtype=object), primal.shape)
        except ValueError:
            reason = told(f"the statement {text}:",
                          f"its tangent's shape {np.shape(rate)} is not {primal.shape}'s")
            for t in primal.flat:
                self._doubt(t, reason)
            return
        for t, r in zip(primal.flat, rate.flat):
            if t is sp.nan:  # not written yet: nothing to check
                continue
            failed, doubted = self._check(t, r)
            if failed or doubted:
                self._doubt(t, told(f"the statement {text}:", failed) if failed else doubted)
            if isinstance(t, sp.Symbol) and t not in self.tangent:
                self.tangent[t] = r
                self.rated.add(r)

    def free(self, m: sp.Symbol, rate: sp.Symbol) -> None:
        """A row maximum read as a free symbol m, paired with a free tangent ṁ."""
        self.tangent[m] = rate
        self.active |= {m, rate}
        self.carries.add(rate)
        self.rated.add(rate)

    def returned(self, names: dict[str, Any]) -> None:
        self.locals = dict(names)

    def hooks(self) -> dict[str, Any]:
        """The names ``Instrument``'s statements call."""
        return {"_let": self.let, "_pair": self.pair, "_returned": self.returned}

    def _doubt(self, t: Any, reason: str) -> None:
        if isinstance(t, sp.Symbol) and t not in self.doubt:
            self.doubt[t] = reason

    # ---- the check

    def check(self, t: Any, r: Any) -> str:
        """Why r = D_v t is not proved: its own check, or a doubt it rests on ("": proved)."""
        failed, doubted = self._check(t, r)
        return failed or doubted

    def _check(self, t: Any, r: Any) -> tuple[str, str]:
        self.checks += 1
        if not isinstance(r, sp.Basic) or r is sp.nan:
            return f"its tangent {r!r} is not a value written before", ""
        try:
            want, doubted = self.rate(sp.sympify(t))
        except ValueError as error:
            return str(error), ""
        if sp.sympify(r) == want:
            return "", doubted
        found = self.session.first_difference(self.coordinates(self._written(r)),
                                              self.coordinates(sp.sympify(want)))
        if found is None:
            return "", doubted
        shown = str(found[1])
        if self.coordinates.introduced(found[1]) or shown.startswith("not decided"):
            return f"not decided: {shown.removeprefix('not decided: ')}"[:300], doubted
        return f"the tangent differs from D_v by {shown}"[:300], doubted

    def _written(self, r: sp.Basic) -> sp.Expr:
        """r by its definition, and the tangent values it reads that are no tangent paired
        (a tangent statement's parts: np.dot(..., R_u) then R_u += ...) by theirs."""
        left = self.defs.get(r, r)
        while True:
            parts = {u: self.defs[u] for u in left.free_symbols
                     if u in self.carries and u in self.defs and u not in self.rated}
            if not parts:
                return left
            left = left.xreplace(parts)

    def rate(self, e: sp.Basic) -> tuple[sp.Expr, str]:
        """D_v e in the tangents paired so far, and the doubt it rests on ("": none)."""
        if e in self.tangent:
            return self.tangent[e], self.doubt.get(e, "")
        if e not in self.active and not (e.free_symbols & self.active):
            return sp.S.Zero, ""
        if e in self._rates:
            return self._rates[e]
        if e.is_Symbol and e not in self.defs:
            raise ValueError(f"{e} is read by a primal statement but has no tangent")
        body = self.defs.get(e, e)
        total, doubted = sp.S.Zero, ""
        for u in sorted(body.free_symbols & self.active, key=sp.default_sort_key):
            rate, doubt = self.rate(u)
            doubted = doubted or doubt
            if rate != 0:
                total += _derivative(body, u) * rate
        self._rates[e] = (total, doubted)
        return total, doubted

    # ---- (b): the primal values, composed

    def expanded(self, values: list[Any]) -> list[sp.Expr]:
        """``values`` in x, y and θ: every definition substituted, each once, but a row
        maximum's (kept free, as NumPy's is), e^(t - m) written e^t times a symbol for e^-m,
        which a softmax's quotient cancels (``code_maxima``)."""
        needed, stack = set(), [v for v in values if isinstance(v, sp.Basic)]
        while stack:
            e = stack.pop()
            for u in e.free_symbols:
                if u in self.defs and u not in needed and u not in self.maxima.shifts:
                    needed.add(u)
                    stack.append(self.defs[u])
        done: dict[sp.Basic, sp.Expr] = {}
        for s in self.defs:  # in the order they were made: what one reads is made before it
            if s in needed:
                body = self.defs[s]
                done[s] = self.maxima.stabilized(
                    body.xreplace({u: done[u] for u in body.free_symbols if u in done}))
        return [sp.sympify(v).xreplace({u: done[u] for u in sp.sympify(v).free_symbols
                                        if u in done}) for v in values]


def told(context: str, reason: str) -> str:
    """``reason`` told of ``context``, its "not decided: " kept first."""
    verdict = "not decided: " if reason.startswith("not decided") else ""
    return f"{verdict}{context} {reason.removeprefix('not decided: ')}"


def _derivative(e: sp.Expr, u: sp.Symbol) -> sp.Expr:
    """∂e/∂u with every choice fixed: |a| as the choice max(a, -a) makes (a if a > 0 else -a,
    the tangent rule's), the derivative of a sign or a step 0 (its kink is a choice)."""
    chosen = e.replace(lambda n: isinstance(n, sp.Abs),
                       lambda n: sp.Piecewise((n.args[0], n.args[0] > 0), (-n.args[0], True)))
    return sp.diff(chosen, u).replace(lambda n: isinstance(n, sp.DiracDelta),
                                      lambda n: sp.S.Zero)


class Instrument(ast.NodeTransformer):
    """The printed functions with the trace's hooks: ``_let`` after each assignment, ``_pair``
    after each primal statement, ``_returned(locals())`` before ``main`` returns."""

    def __init__(self, main: str):
        self.main = main
        self.paired: set[str] = set()
        self.returns: list[str] = []
        self._in_main = False

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        bound = {a.arg for a in node.args.args} | {
            n.id for n in ast.walk(node) if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Store)}
        self.paired = {n for n in bound if not n.startswith(PREFIX) and PREFIX + n in bound}
        self._in_main = node.name == self.main
        node.body = self._block(node.body)
        return node

    def _block(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for s in body:
            if isinstance(s, ast.For | ast.While | ast.If):
                s.body, s.orelse = self._block(s.body), self._block(s.orelse)
                out.append(s)
            elif (isinstance(s, ast.Assign) and len(s.targets) == 1) or \
                    isinstance(s, ast.AugAssign):
                target = s.targets[0] if isinstance(s, ast.Assign) else s.target
                out += [s, *self._after(target, s)]
            elif isinstance(s, ast.Expr) and isinstance(s.value, ast.Call) and s.value.args \
                    and _writes(s.value):
                out += [s, *self._after(s.value.args[-1], s)]
            elif isinstance(s, ast.Return) and self._in_main:
                value = s.value
                items = value.elts if isinstance(value, ast.Tuple) else [value]
                self.returns = [ast.unparse(e) for e in items if e is not None]
                out += [*ast.parse("_returned(locals())").body, s]
            else:
                out.append(s)
        return out

    def _after(self, target: ast.expr, statement: ast.stmt) -> list[ast.stmt]:
        if not isinstance(target, ast.Name | ast.Subscript) or _base(target) is None:
            return []
        text = ast.unparse(target)
        hooks = f"{text} = _let({text})\n"
        base = _base(target)
        if base in self.paired:  # R_X may be written after X (a zero tangent): then not yet
            hooks += (f"if {PREFIX + base!r} in locals():\n"
                      f"    _pair({text}, {PREFIX}{text}, {ast.unparse(statement)[:200]!r})\n")
        return ast.parse(hooks).body


def _writes(call: ast.Call) -> bool:
    """A call that writes its last argument: np.dot(a, b, out) or a helper of the module."""
    if isinstance(call.func, ast.Name):
        return call.func.id not in ("print", "len", "range")
    return ast.unparse(call.func) == "np.dot" and len(call.args) == 3


def _base(target: ast.expr) -> str | None:
    while isinstance(target, ast.Subscript):
        target = target.value
    return target.id if isinstance(target, ast.Name) else None

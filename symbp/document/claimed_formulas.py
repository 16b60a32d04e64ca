"""Claimed formulas and recursions, proved by the prover's exact comparison or refuted.

A formula for ``delta_l``, ``dC/dW_l``, ``dC/db_l`` or another parameter of a layer kind under
the documents' name for it (``dC/dK_l``, a convolution's kernel; ``dC/dP_l``, a residual
projection), entry by entry, in symbp's symbol names (δ_m, z_m, a_m stand for their true
values), is compared with the direct route (``sympy.diff`` of the composed cost; δ_l = ∂C/∂z_l
by differentiating the cost composed from z_l on): *proved* for this network's sizes, with
the activations as opaque atoms or written out, or *refuted* at the smallest point where the
difference is certified nonzero (``claimed_points``); neither is "not proved". A claimed
recursion is proved by ``symbp.prove``, a failed entry refuted the same way.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction

import sympy as sp
from sympy.parsing.sympy_parser import parse_expr, rationalize, standard_transformations

from ..core import layers
from ..core.derivation import Derivation
from ..core.functions import explicit
from ..core.status import Status
from ..printing.latex import Printer
from ..proof.exact import first_difference
from ..proof.nonzero import nonzero_point
from ..proof.prove import prove
from .claimed_latex import LatexReader
from .claimed_points import BUDGET, natural, shrunk, smallest_point, value_at
from .verdicts import Report, Verdict, bounds, shown

MOST_PIECES = 4  # Piecewise (relu, ...) an exact comparison folds: 2^n branches
FUNCTIONS = {"exp": sp.exp, "log": sp.log, "tanh": sp.tanh, "sqrt": sp.sqrt}


def check_recursion(d: Derivation) -> Report:
    """The prover's verdict on ``d``'s recursion: each claim it makes, and for a failed one the
    first failing entry, refuted at an exact point where it differs from the direct route."""
    proof = prove(d)
    verdicts = []
    for claim in proof.claims:
        if claim.status == Status.PROVED:
            verdicts.append(Verdict(claim.label, "proved", claim.statement))
        elif claim.kind == "recursion" and claim.entry is not None and claim.layer is not None:
            wrt = claim.parameter or "W"
            i, j = claim.entry
            ours = d.grad(claim.layer, "recursion", wrt)[i - 1, j - 1]
            truth = d.grad(claim.layer, "direct", wrt)[i - 1, j - 1]
            name = f"dC/d{wrt}_{claim.layer}[{i},{j}] (recursion)"
            verdict = _prove_entry(name, claim.statement, ours, truth)
            if verdict.status == "proved":  # the entry agrees; the claim failed elsewhere
                verdict = Verdict(name, "not proved", claim.statement, claim.residual)
            verdicts.append(verdict)
        else:
            verdicts.append(Verdict(claim.label, "not proved", claim.statement,
                                    f"{claim.status}: {claim.residual}".strip(": ")))
    return Report(verdicts)


def formula_keys(d: Derivation) -> dict[str, tuple[int, str]]:
    """What a formula may claim, in the documents' names: ``delta_l`` and ``dC/dW_l``,
    ``dC/db_l``, and every other parameter of a layer kind under its word (``dC/dK_1`` for a
    convolution's kernel, ``dC/dP_2`` for a residual projection) → (l, parameter or "delta")."""
    keys: dict[str, tuple[int, str]] = {}
    for r in d.net.resolved:
        keys[f"delta_{r.index}"] = (r.index, "delta")
        for name in d.layer_parameters(r.index):
            keys[f"dC/d{r.kind.words.get(name, name)}_{r.index}"] = (r.index, name)
    return keys


class Truths:
    """The true value of each claimable quantity, from the direct route, made when first asked."""

    def __init__(self, d: Derivation):
        self.d = d
        self.found: dict[tuple[int, str], sp.Matrix] = {}

    def __call__(self, l: int, what: str) -> sp.Matrix:
        if (l, what) not in self.found:
            self.found[(l, what)] = (self._delta(l) if what == "delta"
                                     else self.d.grad(l, "direct", what))
        return self.found[(l, what)]

    def _delta(self, l: int) -> sp.Matrix:
        """δ_l = ∂C/∂z_l: ∂C/∂b_l where z_l = W_l a_(l-1) + b_l entry by entry (dense and
        residual layers); else the cost composed from z_l on, differentiated by each z_(l,j)."""
        d, r = self.d, self.d.net.resolved[l - 1]
        if r.kind.name in ("dense", "residual"):
            return d.grad(l, "direct", "b")
        z = d.z_symbols(l)
        a = layers.output(r, list(z), list(d.composed_a(l - 1)), d.layer_parameters(l),
                          d.net.activation(l).apply)
        for above in d.net.resolved[l:]:
            _, a = layers.forward(above, a, d.layer_parameters(above.index),
                                  d.net.activation(above.index).apply)
        cost = d.net.cost_entry.formula(list(a), list(d.y))
        composed = dict(zip(z, d.composed_z(l)))
        return sp.Matrix([sp.diff(cost, zj).xreplace(composed) for zj in z])

    def meaning(self, claim: sp.Expr) -> dict[sp.Basic, sp.Expr]:
        """What the layered symbols of ``claim`` stand for: z and a their forward pass, δ its
        true value."""
        meaning: dict[sp.Basic, sp.Expr] = dict(self.d.composition)
        for l in self.d.layers:
            symbols = self.d.delta_symbols(l)
            if claim.free_symbols & set(symbols):
                meaning.update(zip(symbols, self(l, "delta")))
        return meaning


def check_formulas(d: Derivation, formulas: object, latex: bool = False) -> list[Verdict]:
    """Each claimed formula proved or refuted; ``latex``: written in LaTeX (``formulas_latex``,
    read by ``claimed_latex``), else in symbp's symbol names."""
    where = "formulas_latex" if latex else "formulas"
    if not isinstance(formulas, dict):
        raise ValueError(f"claimed: {where} must be a table like {{\"delta_1\": [...]}}; "
                         f"got {type(formulas).__name__}")
    keys, truths, printer = formula_keys(d), Truths(d), Printer(d.latex_names)
    read: Callable[[object, str], sp.Expr]
    if latex:
        read = LatexReader(d).read
    else:
        names = _names(d)
        read = lambda text, at: _parse(text, names, at)  # noqa: E731  # as LatexReader.read
    verdicts = []
    for key, entries in formulas.items():
        if key not in keys:
            raise ValueError(f"claimed: {where}: unknown key {key!r}; valid keys: "
                             f"{', '.join(keys)}")
        l, what = keys[key]
        rows = truths(l, what).tolist()
        entries_tex = _entry_names(d, l, what)
        flat = entries if isinstance(entries, list) and entries and isinstance(entries[0], list) \
            else [[e] for e in entries] if isinstance(entries, list) else None
        if flat is None or len(flat) != len(rows) or any(
                not isinstance(r, list) or len(r) != len(rows[0]) for r in flat):
            raise ValueError(f"claimed: {where}.{key} must be shaped like {key}: "
                             f"{len(rows)} x {len(rows[0])} strings")
        for i, row in enumerate(flat):
            for j, text in enumerate(row):
                if text is None:  # not claimed
                    continue
                name = f"{key}[{i + 1}{',' + str(j + 1) if len(row) > 1 else ''}] (formula)"
                claim = read(text, f"{where}.{key}[{i}]" + (f"[{j}]" if len(row) > 1 else ""))
                verdict = _prove_entry(name, text, claim.xreplace(truths.meaning(claim)),
                                       rows[i][j])
                verdicts.append(replace(verdict, claimed_tex=f"{entries_tex[i][j]} = "
                                                             f"{printer(claim)}"))
    return verdicts


def _entry_names(d: Derivation, l: int, what: str) -> list[list[str]]:
    """The LaTeX of each entry claimed: δ^{(l)}_{j}, or ∂C/∂ of the parameter's entry."""
    if what == "delta":
        return [[d.latex_names[s]] for s in d.delta_symbols(l)]
    return [[rf"\frac{{\partial C}}{{\partial {d.latex_names[s]}}}" for s in row]
            for row in d.layer_parameters(l)[what].tolist()]


def _prove_entry(name: str, text: str, claim: sp.Expr, truth: sp.Expr) -> Verdict:
    """Proved when equal with every activation an opaque atom (then for every value it takes),
    or with every concrete one written out; else refuted at a point, or not proved."""
    try:
        if first_difference(sp.Matrix([claim]), sp.Matrix([truth])) is None:
            return Verdict(name, "proved", text)
        claim, truth = explicit(claim), explicit(truth)  # σ' = σ(1 − σ) is then seen
        pieces = len((claim - truth).atoms(sp.Piecewise))
        found = first_difference(sp.Matrix([claim]), sp.Matrix([truth])) \
            if pieces <= MOST_PIECES else (None, f"{pieces} piecewise functions (more than "
                                                 f"{MOST_PIECES} are not folded)")
    except ValueError as error:
        return Verdict(name, "not proved", text, str(error))
    if found is None:
        return Verdict(name, "proved", text)
    return _refuted(name, text, claim, truth, found[1])


def _refuted(name: str, text: str, claim: sp.Expr, truth: sp.Expr, residual: object) -> Verdict:
    """The smallest point where ``claim`` and ``truth`` differ (``claimed_points``), or
    ``nonzero_point``'s when none is within the budget: the values there, exactly."""
    difference = claim - truth
    symbols = sorted(claim.free_symbols | truth.free_symbols, key=natural)
    point = smallest_point(difference, symbols)
    search = "smallest"
    if point is None:
        random_point = nonzero_point(difference)
        if random_point is None:
            return Verdict(name, "not proved", text, f"no point found where it differs; "
                                                     f"residual {str(residual)[:120]}")
        point = shrunk(difference, symbols, random_point)
        search = (f"a minimal point: no smaller one found in {BUDGET} evaluations; a random "
                  "point where they differ, shrunk until no value can be zeroed or made smaller")
    claimed, true = value_at(claim, point), value_at(truth, point)
    zeros = [s for s in symbols if s not in point]
    return Verdict(name, "refuted", text, _number(value_at(difference, point)),
                   point={str(s): str(point[s]) for s in sorted(point, key=natural)},
                   zeros=_summary(zeros, bool(point)), search=search,
                   claimed_value=_number(claimed), true_value=_number(true))


def _number(value: object) -> str:
    """Exact when rational; else "≈" and the certified enclosure's midpoint to 10 digits."""
    if value is None:
        return "no certified value"
    if isinstance(value, Fraction):
        return str(value)
    low, high = bounds(value)
    return f"≈ {shown(low, high, 10)}"


def _summary(zeros: list[sp.Symbol], others: bool) -> str:
    """The symbols at 0, in words: "the other 15 symbols 0 (b1_1, b1_2, b2_1, ..., y_2)"."""
    if not zeros:
        return ""
    names = [str(s) for s in zeros]
    listed = ", ".join(names) if len(names) <= 5 else f"{', '.join(names[:3])}, ..., {names[-1]}"
    if len(names) == 1:
        return f"{listed} = 0"
    return f"{'the other' if others else 'all'} {len(names)} symbols 0 ({listed})"


def _names(d: Derivation) -> dict[str, object]:
    names: dict[str, object] = {str(s): s for s in (*d.x, *d.y)}
    t = sp.Symbol("t")
    for l in d.layers:
        for M in (*d.layer_parameters(l).values(), d.z_symbols(l), d.a_symbols(l),
                  d.delta_symbols(l)):
            names.update({str(s): s for s in M})
        act = d.net.activation(l)
        if act.elementwise and act.formula is not None:
            for f in (act.apply([t])[0], act.prime(t)):
                names[type(f).__name__] = type(f)
    return names | FUNCTIONS


_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Load, ast.Constant,
            ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)


def _parse(text: object, names: dict[str, object], where: str) -> sp.Expr:
    """A formula of numbers, symbp's symbol names and the functions named here; nothing else
    is evaluated (the text is checked as a Python syntax tree before SymPy reads it)."""
    if not isinstance(text, str) or len(text) > 10_000:
        raise ValueError(f"claimed: {where} entries must be formulas as strings; got "
                         f"{text!r:.40}")
    try:
        tree = ast.parse(text.replace("^", "**"), mode="eval")
    except SyntaxError:
        raise ValueError(f"claimed: {where}: not a formula: {text!r:.60}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED) or (
                isinstance(node, ast.Constant) and not isinstance(node.value, int | float)):
            raise ValueError(f"claimed: {where}: {text!r:.60} holds {type(node).__name__}; "
                             "a formula may hold numbers, + - * / ^ and names")
        if isinstance(node, ast.Name) and node.id not in names:
            raise ValueError(f"claimed: {where}: unknown name {node.id!r} in {text!r:.60}; "
                             f"use symbp's names (x_1, w2_1_1, a1_1, delta2_1, sigmoid, ...)")
    return parse_expr(text.replace("^", "**"), local_dict=dict(names),
                      transformations=(*standard_transformations, rationalize))

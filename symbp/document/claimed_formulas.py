"""Claimed formulas and recursions, proved by the prover's exact comparison or refuted.

A formula for ``delta_l``, ``dC/dW_l`` or ``dC/db_l`` (entry by entry, in symbp's symbol
names; δ_m, z_m, a_m stand for their true values) is compared with the direct route
(``sympy.diff`` of the composed cost, δ_l = ∂C/∂b_l for a dense layer), with every concrete
σ written out: *proved* for this network's sizes, or *refuted* where the difference is
certified nonzero at an exact rational point (``proof.nonzero.nonzero_point``); neither is
"not proved". A claimed recursion is proved by ``symbp.prove``.
"""

from __future__ import annotations

import ast

import sympy as sp
from sympy.parsing.sympy_parser import parse_expr, rationalize, standard_transformations

from ..core.derivation import Derivation
from ..core.functions import explicit
from ..core.status import Status
from ..proof.exact import first_difference
from ..proof.nonzero import PRECISIONS, enclosure, nonzero_point
from ..proof.prove import prove
from .verdicts import Report, Verdict, bounds, shown

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


def check_formulas(d: Derivation, formulas: object) -> list[Verdict]:
    if not isinstance(formulas, dict):
        raise ValueError(f"claimed: formulas must be a table like {{\"delta_1\": [...]}}; "
                         f"got {type(formulas).__name__}")
    names = _names(d)
    truth: dict[str, sp.Matrix] = {}
    for l in d.layers:
        truth[f"delta_{l}"] = truth[f"dC/db_{l}"] = d.grad(l, "direct", "b")  # δ_l = ∂C/∂b_l
        truth[f"dC/dW_{l}"] = d.grad(l, "direct", "W")
    # δ_m, z_m, a_m in a claim stand for their values: the true δ and the forward pass
    meaning = dict(d.composition)
    for l in d.layers:
        meaning.update(zip(d.delta_symbols(l), truth[f"delta_{l}"]))
    verdicts = []
    for key, entries in formulas.items():
        if key not in truth:
            raise ValueError(f"claimed: formulas: unknown key {key!r}; valid keys: "
                             f"{', '.join(truth)}")
        rows = truth[key].tolist()
        flat = entries if isinstance(entries, list) and entries and isinstance(entries[0], list) \
            else [[e] for e in entries] if isinstance(entries, list) else None
        if flat is None or len(flat) != len(rows) or any(
                not isinstance(r, list) or len(r) != len(rows[0]) for r in flat):
            raise ValueError(f"claimed: formulas.{key} must be shaped like {key}: "
                             f"{len(rows)} x {len(rows[0])} strings")
        for i, row in enumerate(flat):
            for j, text in enumerate(row):
                name = f"{key}[{i + 1}{',' + str(j + 1) if len(row) > 1 else ''}] (formula)"
                claim = _parse(text, names, f"formulas.{key}")
                verdicts.append(_prove_entry(name, text, claim.xreplace(meaning), rows[i][j]))
    return verdicts


def _prove_entry(name: str, text: str, claim: sp.Expr, truth: sp.Expr) -> Verdict:
    claim, truth = explicit(claim), explicit(truth)  # σ' = σ(1 − σ) is then seen
    try:
        found = first_difference(sp.Matrix([claim]), sp.Matrix([truth]))
    except ValueError as error:
        return Verdict(name, "not proved", text, str(error))
    if found is None:
        return Verdict(name, "proved", text)
    difference = claim - truth
    point = nonzero_point(difference)
    if point is None:
        return Verdict(name, "not proved", text, f"no point found where it differs; "
                                                 f"residual {str(found[1])[:120]}")
    where = {str(s): str(v) for s, v in sorted(point.items(), key=lambda kv: str(kv[0]))}
    at = difference.xreplace({s: sp.Rational(v.numerator, v.denominator)
                              for s, v in point.items()})
    low, high = bounds(enclosure(at, PRECISIONS[0]))
    return Verdict(name, "refuted", text, f"about {shown(low, high, 6)}", point=where)


def _names(d: Derivation) -> dict[str, object]:
    names: dict[str, object] = {str(s): s for s in (*d.x, *d.y)}
    t = sp.Symbol("t")
    for l in d.layers:
        for M in (d.weights(l), d.biases(l), d.z_symbols(l), d.a_symbols(l),
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

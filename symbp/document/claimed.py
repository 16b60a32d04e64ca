"""Checking a derivation someone else wrote: a claimed table of numbers, or claimed formulas.

**Numbers** come in the shape of ``worked.json`` (``cost``, ``z``, ``a``, ``delta``, ``grad``,
``updated``, ``learning_rate``; any entry may be null: not claimed) at the point of a worked
example (``example`` in the claims, else the network file's). Every quantity is computed
exactly here (rationals, and σ of them as exact expressions) and each claim is decided in
certified interval arithmetic (``proof.nonzero.enclosure``), never from a float: a claim
written to s significant digits is *right* when it is the exact value correctly rounded to
those digits (|claim − value| ≤ half a unit of its last digit); otherwise *wrong*, with the
digits that do agree and the value it should be. A claim that no precision tried can
decide is "not proved".

**Formulas** (``formulas``: ``delta_l``, ``dC/dW_l``, ``dC/db_l``, entry by entry, in
symbp's symbol names) are compared with the direct route (``sympy.diff`` of the composed
cost) by the prover's exact comparison: *proved* for this network's sizes, or *refuted*
when the difference is certified nonzero at an exact rational point, which is shown. A
claimed recursion (a Python function on ``RecursionOps``) is proved by ``symbp.prove``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction

import sympy as sp
from mpmath.libmp import to_rational
from sympy.parsing.sympy_parser import parse_expr, rationalize, standard_transformations

from ..core.derivation import Derivation
from ..core.functions import explicit
from ..core.status import Status
from ..proof.exact import first_difference
from ..proof.nonzero import PRECISIONS, enclosure, nonzero_point
from ..proof.prove import prove
from .numbers import Example, decimal_text

NUMBER_KEYS = ("learning_rate", "cost", "z", "a", "delta", "grad", "updated")
KEYS = (*NUMBER_KEYS, "example", "formulas", "digits", "check", "checks")
NOT_CHECKED = ("digits", "check", "checks")  # the digits shown; central differences at a step h
FUNCTIONS = {"exp": sp.exp, "log": sp.log, "tanh": sp.tanh, "sqrt": sp.sqrt}
RIGHT = ("right", "proved")


@dataclass(frozen=True)
class Verdict:
    """One claimed entry and what it is."""

    name: str  # "a_2[1]", "dC/dW_2[1,2]", "delta_1[2] (formula)"
    status: str  # right | wrong | proved | refuted | not proved
    claimed: str  # as written
    value: str = ""  # the exact value to the claim's digits, or the difference of a formula
    agree: int | None = None  # significant digits that agree with the exact value
    written: int | None = None  # significant digits written
    point: dict[str, str] | None = None  # where a refuted formula differs, exactly


@dataclass
class Report:
    """Every claim checked, in the order given, and the keys left unchecked."""

    verdicts: list[Verdict] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return bool(self.verdicts) and all(v.status in RIGHT for v in self.verdicts)

    def to_dict(self) -> dict:
        counts = {s: sum(v.status == s for v in self.verdicts)
                  for s in ("right", "wrong", "proved", "refuted", "not proved")}
        return {"holds": self.holds, "counts": {s: n for s, n in counts.items() if n},
                "claims": [asdict(v) for v in self.verdicts], "unchecked": self.unchecked}

    def text(self) -> str:
        bad = [v for v in self.verdicts if v.status not in RIGHT]
        counts = self.to_dict()["counts"]
        head = ("holds" if self.holds else "does not hold") + ": " + ", ".join(
            f"{n} {s}" for s, n in counts.items())
        lines = [head or "nothing claimed"]
        for v in bad:
            if v.status == "wrong":
                lines.append(f"  {v.name}: claimed {v.claimed}, should be {v.value} "
                             f"(right to {v.agree} of {v.written} significant digits)")
            elif v.status == "refuted":
                at = ", ".join(f"{k} = {x}" for k, x in (v.point or {}).items())
                lines.append(f"  {v.name}: refuted; claimed {v.claimed}, differs by {v.value}"
                             + (f" at {at}" if at else ""))
            else:
                lines.append(f"  {v.name}: not proved; claimed {v.claimed} ({v.value})")
        if self.unchecked:
            lines.append(f"  not checked: {', '.join(self.unchecked)}")
        return "\n".join(lines)


def check_claims(d: Derivation, claimed: object, example: Example | dict | None = None) -> Report:
    """Check ``claimed`` against ``d``: a dict (numbers in worked.json's shape and/or
    ``formulas``), or a recursion function (proved by ``symbp.prove`` on a derivation that
    runs it). ValueError names a bad key."""
    if callable(claimed):
        return check_recursion(Derivation(d.net, recursion=claimed))
    if not isinstance(claimed, dict):
        raise ValueError(f"claimed must be a dict with keys from {', '.join(KEYS)}, or a "
                         f"recursion function; got {type(claimed).__name__}")
    unknown = [key for key in claimed if key not in KEYS]
    if unknown:
        raise ValueError(f"claimed: unknown key {unknown[0]!r}; valid keys: {', '.join(KEYS)}")
    report = Report(unchecked=[k for k in NOT_CHECKED if k in claimed])
    if any(key in claimed for key in NUMBER_KEYS):
        point = claimed.get("example", example)
        if point is None:
            raise ValueError("claimed numbers need a point: an 'example' key in the claims or "
                             "an [example] in the network file")
        report.verdicts += _check_numbers(d, claimed, point)
    if "formulas" in claimed:
        report.verdicts += _check_formulas(d, claimed["formulas"])
    return report


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


# ---------------------------------------------------------------- numbers


def exact_values(d: Derivation, example: Example | dict) -> dict[str, object]:
    """Every quantity of the worked example, exact: keyed and shaped as in worked.json."""
    if not d.net.dense:
        raise ValueError("claimed numbers are checked for dense networks only; this one has "
                         f"layers of kind {', '.join(d.net.kinds)}")
    ex = Example.from_dict(example).check(d.net.widths)
    values: dict[sp.Basic, sp.Expr] = dict(zip(d.x, ex.x)) | dict(zip(d.y, ex.y))
    z, a, previous = [], [], ex.x
    for l in d.layers:
        z.append(ex.weights[l - 1] * previous + ex.biases[l - 1])
        a.append(sp.Matrix(d.net.activation(l).apply(list(z[-1]))))
        previous = a[-1]
        for symbols, numbers in ((d.weights(l), ex.weights[l - 1]),
                                 (d.biases(l), ex.biases[l - 1]),
                                 (d.z_symbols(l), z[-1]), (d.a_symbols(l), a[-1])):
            values.update(zip(symbols, numbers))
    trace, delta = d.recursion, {}
    for l in range(d.L, 0, -1):
        delta[l] = trace.deltas[l].xreplace(values)
        values.update(zip(d.delta_symbols(l), delta[l]))
    grad_W = [trace.weight[l].xreplace(values) for l in d.layers]
    grad_b = [trace.bias[l].xreplace(values) for l in d.layers]
    eta = ex.learning_rate
    return {
        "learning_rate": eta, "cost": d.net.cost_entry.formula(list(a[-1]), list(ex.y)),
        "z": z, "a": a, "delta": [delta[l] for l in d.layers],
        "grad": {"W": grad_W, "b": grad_b},
        "updated": {"W": [W - eta * g for W, g in zip(ex.weights, grad_W)],
                    "b": [b - eta * g for b, g in zip(ex.biases, grad_b)]},
    }


def _check_numbers(d: Derivation, claimed: dict, example: Example | dict) -> list[Verdict]:
    exact = exact_values(d, example)
    verdicts = []
    for key in NUMBER_KEYS:
        if claimed.get(key) is not None:
            for name, path, text, value in _pairs(claimed[key], exact[key], key, _label(key)):
                verdicts.append(_decide(name, path, text, value))
    return verdicts


def _label(key: str) -> Callable[[tuple], str]:
    """How an entry is named: a_2[1], dC/dW_2[1,2], W_2 updated[1,2] (1-based, as in the math)."""
    def name(index: tuple) -> str:
        if key in ("cost", "learning_rate"):
            return {"cost": "C", "learning_rate": "eta"}[key]
        part, (l, *entry) = (index[0], index[1:]) if key in ("grad", "updated") else ("", index)
        base = {"grad": f"dC/d{part}_{l + 1}", "updated": f"{part}_{l + 1} updated"}.get(
            key, f"{key}_{l + 1}")
        return f"{base}[{','.join(str(i + 1) for i in entry)}]"
    return name


def _pairs(claim: object, exact: object, path: str, name: Callable[[tuple], str],
           index: tuple = ()):
    """(name, path, claimed text, exact value) for every entry claimed; ValueError on a shape
    that does not match, naming the path."""
    if claim is None:
        return
    if isinstance(exact, dict):
        if not isinstance(claim, dict) or any(k not in exact for k in claim):
            raise ValueError(f"claimed: {path} must be a table with keys {', '.join(exact)}; "
                             f"got {str(claim)[:60]}")
        for k, v in claim.items():
            yield from _pairs(v, exact[k], f"{path}.{k}", name, (*index, k))
        return
    if isinstance(exact, list | sp.MatrixBase):
        items = list(exact.tolist() if isinstance(exact, sp.MatrixBase) and exact.cols > 1
                     else exact)
        if not isinstance(claim, list) or len(claim) != len(items):
            got = f"{len(claim)} entries" if isinstance(claim, list) else repr(claim)[:40]
            raise ValueError(f"claimed: {path} must be a list of {len(items)} entries (null for "
                             f"one not claimed); got {got}")
        for i, (c, e) in enumerate(zip(claim, items)):
            yield from _pairs(c, e, f"{path}[{i}]", name, (*index, i))
        return
    yield name(index), path, _written(claim, path), exact


def _written(value: object, path: str) -> Decimal | Fraction:
    """A claimed number as written: a Decimal keeps its digits; "p/q" is an exact claim."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"claimed: {path} must be a number or null; got {value!r:.40}")
    try:
        if isinstance(value, str) and "/" in value:
            return Fraction(value.strip())
        number = Decimal(repr(value) if isinstance(value, float) else value)
    except (InvalidOperation, ValueError, ZeroDivisionError):
        raise ValueError(f"claimed: {path} must be a number; got {value!r:.40}") from None
    if not number.is_finite():
        raise ValueError(f"claimed: {path} must be a finite number; got {value!r:.40}")
    return number


def _bounds(value: object) -> tuple[Fraction, Fraction]:
    if isinstance(value, Fraction):
        return value, value
    lo, hi = value._mpi_  # type: ignore[attr-defined]  # an mpmath interval's endpoints
    return Fraction(*to_rational(lo)), Fraction(*to_rational(hi))


def _decide(name: str, path: str, claim: Decimal | Fraction, value: sp.Expr) -> Verdict:
    exact = isinstance(claim, Fraction) or claim == 0
    c = Fraction(claim)
    written = lead = 0
    if isinstance(claim, Decimal):
        written, lead = len(claim.as_tuple().digits), claim.adjusted()
    low = high = Fraction(0)
    for bits in PRECISIONS:
        try:
            low, high = _bounds(enclosure(value, bits))
        except ValueError as error:
            return Verdict(name, "not proved", str(claim), str(error))
        error_low = max(low - c, c - high, Fraction(0))  # |value − claim| lies in [.., ..]
        error_high = max(abs(low - c), abs(high - c))
        if exact:
            if low == high == c:
                return Verdict(name, "right", str(claim), str(claim))
            if error_low > 0:
                break
            continue
        half = Fraction(1, 2) * Fraction(10) ** (lead - written + 1)
        if error_high <= half:
            return Verdict(name, "right", str(claim), _shown(low, high, written), written,
                           written)
        if error_low > half:
            agree = sum(error_high <= Fraction(1, 2) * Fraction(10) ** (lead - k + 1)
                        for k in range(1, written))
            return Verdict(name, "wrong", str(claim), _shown(low, high, written), agree, written)
    else:
        return Verdict(name, "not proved", str(claim),
                       f"undecided at {PRECISIONS[-1]} bits; the value is about "
                       f"{_shown(low, high, 20)}")
    return Verdict(name, "wrong", str(claim), _shown(low, high, 15), 0, written)


def _shown(low: Fraction, high: Fraction, digits: int) -> str:
    return decimal_text(sp.Rational((low + high) / 2), max(digits, 1))


# ---------------------------------------------------------------- formulas


def _check_formulas(d: Derivation, formulas: object) -> list[Verdict]:
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
    shown = {str(s): str(v) for s, v in sorted(point.items(), key=lambda kv: str(kv[0]))}
    at = difference.xreplace({s: sp.Rational(v.numerator, v.denominator)
                              for s, v in point.items()})
    low, high = _bounds(enclosure(at, PRECISIONS[0]))
    return Verdict(name, "refuted", text, f"about {_shown(low, high, 6)}", point=shown)


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

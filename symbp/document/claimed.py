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

**Formulas** (``formulas`` in symbp's names, ``formulas_latex`` in the documents' LaTeX) and a
claimed recursion are checked by ``claimed_formulas``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from fractions import Fraction

import sympy as sp

from ..core.derivation import Derivation
from ..proof.nonzero import PRECISIONS, enclosure
from .claimed_formulas import check_formulas, check_recursion
from .example import Example
from .kinds_numbers import evaluate_layers
from .kinds_worked import layer_tables
from .verdicts import Report, Verdict, bounds, shown

NUMBER_KEYS = ("learning_rate", "cost", "z", "a", "delta", "grad", "updated")
KEYS = (*NUMBER_KEYS, "example", "formulas", "formulas_latex", "digits", "check", "checks")
NOT_CHECKED = ("digits", "check", "checks")  # the digits shown; central differences at a step h


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
        report.verdicts += check_formulas(d, claimed["formulas"])
    if "formulas_latex" in claimed:
        report.verdicts += check_formulas(d, claimed["formulas_latex"], latex=True)
    return report


# ---------------------------------------------------------------- numbers


def exact_values(d: Derivation, example: Example | dict) -> dict[str, object]:
    """Every quantity of the worked example, exact: keyed and shaped as in worked.json."""
    if not d.net.dense:
        return _exact_kinds(d, example)
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


def _exact_kinds(d: Derivation, example: object) -> dict[str, object]:
    """As ``exact_values``, for a network of layer kinds: worked.json's shape for it, every
    value exact."""
    n = evaluate_layers(d, example, exact=True)  # type: ignore[arg-type]  # read there
    return layer_tables(d, n, lambda v: v)


def _check_numbers(d: Derivation, claimed: dict, example: Example | dict) -> list[Verdict]:
    exact = exact_values(d, example)
    verdicts = []
    for key in NUMBER_KEYS:
        if claimed.get(key) is not None:
            label = _label(key) if d.net.dense else _kinds_label(key, d)
            for name, path, text, value in _pairs(claimed[key], exact[key], key, label):
                verdicts.append(replace(_decide(name, path, text, value), kind="number"))
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


def _kinds_label(key: str, d: Derivation) -> Callable[[tuple], str]:
    """As ``_label`` for a network of layer kinds, where grad and updated are per layer by
    the documents' name for each parameter: dC/dP_2[1,2], K_1 updated[2,1,3]."""
    words = [r.kind.words for r in d.net.resolved]

    def name(index: tuple) -> str:
        if key in ("cost", "learning_rate"):
            return {"cost": "C", "learning_rate": "eta"}[key]
        if key in ("grad", "updated"):
            (l, part, *entry) = index
            part = words[l].get(part, part)
            base = f"dC/d{part}_{l + 1}" if key == "grad" else f"{part}_{l + 1} updated"
        else:
            (l, *entry) = index
            base = f"{key}_{l + 1}"
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


def _decide(name: str, path: str, claim: Decimal | Fraction, value: sp.Expr) -> Verdict:
    exact = isinstance(claim, Fraction) or claim == 0
    c = Fraction(claim)
    written = lead = 0
    if isinstance(claim, Decimal):
        written, lead = len(claim.as_tuple().digits), claim.adjusted()
    low = high = Fraction(0)
    for bits in PRECISIONS:
        try:
            low, high = bounds(enclosure(value, bits))
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
            return Verdict(name, "right", str(claim), shown(low, high, written), written,
                           written)
        if error_low > half:
            agree = sum(error_high <= Fraction(1, 2) * Fraction(10) ** (lead - k + 1)
                        for k in range(1, written))
            return Verdict(name, "wrong", str(claim), shown(low, high, written), agree, written)
    else:
        return Verdict(name, "not proved", str(claim),
                       f"undecided at {PRECISIONS[-1]} bits; the value is about "
                       f"{shown(low, high, 20)}")
    return Verdict(name, "wrong", str(claim), shown(low, high, 15), 0, written)

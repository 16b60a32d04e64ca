"""The report of ``symbp check`` as a document: plain strings for ``md/check.md.j2`` and
``tex/check.tex.j2`` (each claim, its verdict; for a number the digits right and the value it
should be; for a refuted formula its counterexample, exactly)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.derivation import Derivation
from .claimed_points import BUDGET
from .verdicts import RIGHT, Report, Verdict

MEANINGS = (
    ("right", "a number equal to the exact value correctly rounded to the digits it is "
              "written with, decided in certified interval arithmetic, never from a float"),
    ("wrong", "a number that is not: the digits that agree are counted, and the exact value "
              "is given to the digits claimed"),
    ("proved", "a formula equal to the true one for this network's sizes, by exact algebra"),
    ("refuted", "a formula that differs from the true one at an exact rational point"),
    ("not proved", "neither could be decided"),
)
SMALLEST = ("The counterexample to a refuted formula is the smallest point found where the "
            "claim and the true value differ: the fewest nonzero values first (every other "
            "symbol 0), then magnitudes 1, then 2, then 1/2, then the symbols by name; each "
            "candidate is decided exactly, its sign certified, and a choice of symbols off which "
            "the difference is identically 0 is passed over whole. Past "
            f"{BUDGET} evaluations, a random point where they differ is shrunk until no value "
            "can be set to 0 or made smaller, and the verdict says so. A value marked "
            "approximate is the midpoint of a certified enclosure, to 10 significant digits; "
            "the others are exact.")


@dataclass(frozen=True)
class NumberRow:
    """One claimed number: entry, as claimed, the exact value to its digits, the verdict."""

    name: str
    claimed: str
    value: str
    verdict: str
    right: bool


@dataclass(frozen=True)
class FormulaItem:
    """One claimed formula (or an entry of a claimed recursion) and what it is."""

    name: str
    status: str
    claimed: str  # as written
    equation_tex: str  # "entry = claim" in the documents' notation, "" when not printed
    verdict: str  # one sentence
    point_tex: str = ""  # the counterexample, as math: w^{(2)}_{21} = 1, ...
    others: str = ""  # the symbols at 0 there, in words
    values: list[tuple[str, str]] = field(default_factory=list)  # ("claimed", math), ("true", ..)


@dataclass(frozen=True)
class CheckDocument:
    """Everything the check section shows, as plain strings."""

    title: str
    subject: str
    facts: list[tuple[str, str]]
    summary: str
    meanings: tuple[tuple[str, str], ...]
    smallest: str
    numbers: list[NumberRow]
    formulas: list[FormulaItem]
    unchecked: str


def build_check_document(d: Derivation, report: Report, claims: str,
                         network_title: str | None = None) -> CheckDocument:
    """The document of ``report``, the check of the file ``claims`` against ``d``'s network
    (``network_title``: its network file's title)."""
    counts = report.to_dict()["counts"]
    summary = (("Every claim holds" if report.holds else "Not every claim holds") + ": "
               + ", ".join(f"{n} {s}" for s, n in counts.items()) + ".") if counts \
        else "Nothing was claimed."
    tex_of = {str(s): tex for s, tex in d.latex_names.items()}
    numbers = [_number_row(v) for v in report.verdicts if v.kind == "number"]
    formulas = [_formula_item(v, tex_of) for v in report.verdicts if v.kind == "formula"]
    return CheckDocument(
        title="Checking a claimed derivation",
        subject=f"symbp check of {claims}",
        facts=[("Network", f"{network_title}: {d.net!r}" if network_title else repr(d.net)),
               ("Claims", claims)],
        summary=summary, meanings=MEANINGS, smallest=SMALLEST, numbers=numbers,
        formulas=formulas,
        unchecked=(f"Not checked: {', '.join(report.unchecked)}." if report.unchecked else ""))


def _number_row(v: Verdict) -> NumberRow:
    if v.status == "right":
        verdict = f"right to all {v.written} digits" if v.written else "right (exact)"
    elif v.status == "wrong":
        verdict = f"wrong: right to {v.agree} of {v.written} digits, should be {v.value}"
    else:
        verdict = f"not proved: {v.value}"
    return NumberRow(v.name, v.claimed, v.value if v.status != "not proved" else "",
                     verdict, v.status in RIGHT)


def _formula_item(v: Verdict, tex_of: dict[str, str]) -> FormulaItem:
    if v.status == "proved":
        return FormulaItem(v.name, v.status, v.claimed, v.claimed_tex,
                           "Proved: equal to the true value for this network's sizes.")
    if v.status != "refuted":
        return FormulaItem(v.name, v.status, v.claimed, v.claimed_tex,
                           f"Not proved: {v.value}")
    how = ("the smallest point found" if v.search == "smallest" else v.search)
    point = ", ".join(f"{tex_of.get(k, k)} = {_tex_number(x)}"
                      for k, x in (v.point or {}).items())
    return FormulaItem(v.name, v.status, v.claimed, v.claimed_tex,
                       f"Refuted at {how}.", point_tex=point, others=v.zeros,
                       values=[("claimed", _tex_number(v.claimed_value)),
                               ("true", _tex_number(v.true_value))])


def _tex_number(text: str) -> str:
    """A value as LaTeX math: -1/2 → -\\frac{1}{2}, "≈ 0.5" → \\approx 0.5."""
    if text.startswith("≈"):
        return r"\approx " + text[1:].strip()
    sign, rest = ("-", text[1:]) if text.startswith("-") else ("", text)
    if "/" in rest:
        p, q = rest.split("/", 1)
        rest = rf"\frac{{{p}}}{{{q}}}"
    return sign + rest

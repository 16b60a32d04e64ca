"""What a check says of each claim, and the report of them all (``symbp.check``'s result)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction

import sympy as sp
from mpmath.libmp import to_rational

from .numbers import decimal_text

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
    point: dict[str, str] | None = None  # where a refuted formula differs: its nonzero values
    zeros: str = ""  # the point's other symbols, all 0, summarised
    search: str = ""  # how the point was found: "smallest", or why another one
    claimed_value: str = ""  # the claimed formula at the point (exact, or ≈ enclosed)
    true_value: str = ""  # the true value there
    kind: str = "formula"  # "number", or "formula" (a formula or a recursion's entry)
    claimed_tex: str = ""  # a formula as LaTeX, "entry = claim", printed by symbp's printer

    def where(self) -> str:
        """The point in words: "at w2_2_1 = 1, the other 15 symbols 0 (...), the smallest point"."""
        at = ", ".join([*(f"{k} = {x}" for k, x in (self.point or {}).items()),
                        *([self.zeros] if self.zeros else [])])
        return f"at {at} ({'the smallest point' if self.search == 'smallest' else self.search})"


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
                lines.append(f"  {v.name}: refuted; claimed {v.claimed}")
                lines.append(f"    {v.where()}: claimed {v.claimed_value}, true {v.true_value}")
            else:
                lines.append(f"  {v.name}: not proved; claimed {v.claimed} ({v.value})")
        if self.unchecked:
            lines.append(f"  not checked: {', '.join(self.unchecked)}")
        return "\n".join(lines)


def bounds(value: object) -> tuple[Fraction, Fraction]:
    if isinstance(value, Fraction):
        return value, value
    lo, hi = value._mpi_  # type: ignore[attr-defined]  # an mpmath interval's endpoints
    return Fraction(*to_rational(lo)), Fraction(*to_rational(hi))


def shown(low: Fraction, high: Fraction, digits: int) -> str:
    return decimal_text(sp.Rational((low + high) / 2), max(digits, 1))

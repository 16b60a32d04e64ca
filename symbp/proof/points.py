"""Points for the exact checks: for each symbol, a rational that is what it is declared to be.

An integer symbol gets an integer, a positive one a positive rational, a zero one 0,
an even one an even integer. A declaration no rational can meet (irrational,
imaginary, infinite, ...) is named by ``unhonoured``, and ``exact`` refuses the
expression: a point that breaks a declaration is not a point of the symbol's domain.
Values other than integers are never integers (0 and 1 make accidental zeros).
"""

from __future__ import annotations

import random
from functools import cache, lru_cache

import sympy as sp

FACTS = ("zero", "nonzero", "integer", "noninteger", "rational", "irrational", "real",
         "positive", "negative", "nonnegative", "nonpositive", "even", "odd", "prime",
         "composite", "finite", "infinite", "imaginary", "algebraic", "transcendental")


@lru_cache(maxsize=1 << 16)
def facts(atom: sp.Basic) -> tuple[tuple[str, bool], ...]:
    """What ``atom`` is declared to be. A symbol's facts are all deduced when it is made;
    asking anything else runs SymPy's inference, a millisecond a question."""
    if atom.is_Symbol or isinstance(atom, sp.Indexed):
        known = atom._assumptions
        return tuple((name, known[name]) for name in FACTS if known.get(name) is not None)
    return tuple((name, value) for name in FACTS
                 if (value := getattr(atom, f"is_{name}", None)) is not None)


def declared(atom: sp.Basic) -> bool:
    """Whether ``atom`` is declared to be anything (integer, positive, ...)."""
    return bool(facts(atom))


def candidate(atom: sp.Basic, rng: random.Random, small: bool = False) -> sp.Rational:
    """A random rational of the kind ``atom`` is declared to be (integer, sign, zero)."""
    known = dict(facts(atom))
    if known.get("zero"):
        return sp.S.Zero
    if known.get("prime"):
        magnitude: sp.Rational = sp.Integer(rng.choice((2, 3, 5, 7, 11, 13)))
    elif known.get("composite"):
        magnitude = sp.Integer(rng.choice((4, 6, 8, 9, 10, 12)))
    elif known.get("integer") or known.get("even") or known.get("odd"):
        m = rng.randint(1, 6)
        if (known.get("even") and m % 2) or (known.get("odd") and not m % 2):
            m += 1
        magnitude = sp.Integer(m)
    else:  # never an integer: 0 and 1 make accidental zeros
        q = rng.randint(2, 9)
        p = rng.choice([p for p in range(1, 2 * q) if p % q])
        magnitude = sp.Rational(p, q * (8 if small else 1))
    if known.get("positive") or known.get("nonnegative"):
        return magnitude
    if known.get("negative") or known.get("nonpositive"):
        return -magnitude
    return rng.choice((-1, 1)) * magnitude


def broken(atom: sp.Basic, value: sp.Rational) -> list[str]:
    return [f"{name}={want}" for name, want in facts(atom)
            if getattr(value, f"is_{name}") is not want]


@cache
def unhonoured(atom: sp.Basic) -> str | None:
    """Why no rational can be what ``atom`` is declared to be (one line); None when one can."""
    unmet = broken(atom, candidate(atom, random.Random(0)))
    if not unmet:
        return None
    return (f"{atom} is declared {', '.join(unmet)}, which the rational points of this "
            "check cannot honour")


def screen_value(atom: sp.Basic, rng: random.Random) -> sp.Rational | None:
    """A value for ``atom`` in a random screen that honours its declarations (None: none can)."""
    value = candidate(atom, rng)
    return None if broken(atom, value) else value

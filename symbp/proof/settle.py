"""The claims being settled: the work of one proof, and how a claim is named and failed.

Shared by the prover (``prove``), the comparison of the routes as ``grad`` returns them
(``returned``) and their check by construction (``construction``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..core.deadline import Deadline
from ..core.derivation import PARAMETERS, Derivation
from ..core.recursion import Recursion, run_recursion
from .claims import Claim
from .exact import Exact
from .lemmas import glimpse

ROUTES = ("expansion", "direct")  # the routes compared with the recursion
PENDING = "timed out"  # a claim's status until it is decided: what a timeout leaves behind

Progress = Callable[[str, int, int], None]  # (what, done, total)


class Work:
    """The claims being settled, the time they take, and the progress reported."""

    def __init__(self, timeout: float | None, progress: Progress | None, total: int):
        self.limit = Deadline(timeout)
        self.progress, self.total, self.done = progress, total, 0
        self.claims: list[Claim] = []
        self.session = Exact()  # atoms and checks shared by every comparison of one proof
        self.tied: set[int] = set()  # recursion claims checked against grad's recursion

    def tick(self, what: str, steps: int = 1) -> None:
        self.done += steps
        if self.progress:
            self.progress(what, self.done, self.total)

    def check_time(self) -> None:  # off the main thread no signal interrupts SymPy
        self.limit.left()

    def plan(self, kind: str, l: int, wrt: str, statement: str, latex: str, how: str) -> Claim:
        claim = Claim(statement, latex, kind, PENDING, how, layer=l, parameter=wrt,
                      name=label(wrt, l))
        self.claims.append(claim)
        return claim


def replayed(d: Derivation) -> Recursion:
    """The program's steps in layered symbols, replayed here from ``d.program`` (the very
    statements the code generators print), not taken from ``d.recursion``."""
    return run_recursion(d, d.program)


def label(wrt: str, l: int) -> str:
    return f"dC/d{wrt}_{l}"


def tex(wrt: str, l: int) -> str:
    return rf"\partial C/\partial {wrt}_{{{l}}}"


def rows(d: Derivation) -> Iterator[tuple[int, str]]:
    """(l, "W"), (l, "b") from the output layer down."""
    for l in range(d.L, 0, -1):
        for wrt in PARAMETERS:
            yield l, wrt


def fail(claim: Claim, entry, residual: str, culprit: str = "") -> None:
    claim.status, claim.entry, claim.residual, claim.culprit = "failed", entry, residual, culprit


def short(expr: object, limit: int = 160) -> str:
    return glimpse(expr, limit)


def describe(error: Exception) -> str:
    return short(f"{type(error).__name__}: {error}")

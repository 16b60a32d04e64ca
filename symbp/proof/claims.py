"""What a proof says: a list of claims, each with its own status, and the Proof built from them.

A ``Claim`` is one statement and how it was settled. A ``Proof`` is nothing but a
list of claims (plus the lemmas behind them and the time taken): whether it
holds, its status, its failures, its per-layer rows, its one-line summary and
its JSON are all derived from the claims, so a report can never say more than
was checked. Anyone can build one::

    from symbp.proof.claims import Claim, Proof

    claim = Claim(
        statement="recursion = dC/dW_l for every width and depth",   # plain text
        latex=r"\\delta_l a_{l-1}^{T} = \\partial C/\\partial W_l",  # the same in LaTeX
        kind="general",       # recursion | expansion | direct | function | general
        status="proved",      # proved | failed | screened | not compared | timed out
        how="by induction over index-notation lemmas",
    )
    proof = Proof("induction", [claim])   # Proof(method, claims, *, lemmas, seconds, network, note)
    proof.holds                           # True: at least one claim, and every claim proved

A failed claim says where: ``entry`` (1-based row, column) and ``residual`` (the
difference there, or why it could not be decided), and ``culprit`` when the
failure was found in a lemma the claim rests on rather than in the claim's own
comparison. ``layer`` and ``parameter`` ("W", "b" or None) place a claim in the
per-layer table; ``name`` is a short label ("dC/dW_2", "sigmoid'").
"""

from __future__ import annotations

import json
import re
import textwrap
from collections import Counter
from dataclasses import KW_ONLY, asdict, dataclass, field

from ..core.deadline import stopped
from ..core.status import ORDER, Status, worst
from .lemmas import Lemma

STATUSES = tuple(s.value for s in ORDER)  # worst first
COLUMNS = 100  # columns a summary's lines take at most
KINDS = ("recursion", "expansion", "direct", "function", "general", "curvature")
ROUTE_KINDS = ("recursion", "expansion", "direct")
# the per-layer table's columns: what each route kind claims about ∂C/∂W_l or ∂C/∂b_l
CHECKS = {"recursion": "recursion = gradient", "expansion": "expansion = recursion",
          "direct": "direct = recursion"}
PHRASES = {"recursion": "recursion = ∂C/∂W_l and ∂C/∂b_l", "expansion": "expansion = recursion",
           "direct": "direct = recursion"}


@dataclass
class Claim:
    """One statement a proof makes, its status, and how it was established (or where it failed)."""

    statement: str  # plain text: "recursion = dC/dW_2"
    latex: str  # the same statement in LaTeX, for documents
    kind: str  # recursion | expansion | direct | function | general | curvature (second order)
    status: str  # a Status: proved | checked | screened | not compared | timed out | failed
    how: str  # how it was established: "by per-layer lemmas", "by exact comparison", ...
    layer: int | None = None
    parameter: str | None = None  # "W", "b" or None
    name: str = ""  # a short label: "dC/dW_2", "sigmoid'"; the statement if empty
    entry: tuple[int, int] | None = None  # first failing entry (1-based), when failed
    residual: str = ""  # the difference at that entry, or why it was not decided
    culprit: str = ""  # the lemma or check that failed, when not the claim's own comparison
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown claim kind {self.kind!r}; choose one of: {', '.join(KINDS)}")
        if self.status not in STATUSES:
            raise ValueError(f"unknown claim status {self.status!r}; "
                             f"choose one of: {', '.join(STATUSES)}")
        self.status = Status(self.status)
        if self.parameter is not None and not (isinstance(self.parameter, str) and
                                               self.parameter.isidentifier()):
            raise ValueError(f"claim parameter must be a parameter's name (W, b, P, ...) or None; "
                             f"got {self.parameter!r}")

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.parameter is not None and self.layer is not None:
            return f"dC/d{self.parameter}_{self.layer}"
        return self.statement

    @property
    def proved(self) -> bool:
        return self.status == "proved"


@dataclass
class Failure:
    """Where a claim did not hold: the first failing entry (1-based) and its residual."""

    layer: int | None
    parameter: str  # what the claim is about: "dC/dW_2", "sigmoid'"
    entry: tuple[int, int] | None
    check: str  # the claim's statement
    residual: str
    culprit: str = ""  # the lemma that failed, when the claim rests on it

    def __str__(self) -> str:
        where = f"layer {self.layer}, " if self.layer is not None else ""
        at = f" entry {self.entry}" if self.entry else ""
        if self.culprit:
            return (f"{where}{self.parameter}: {self.check} not proved: {self.culprit} fails"
                    f"{' at' + at if at else ''} (residual {self.residual})")
        return f"{where}{self.parameter}{at}: {self.check} does not hold (residual {self.residual})"

    @classmethod
    def of(cls, claim: Claim) -> Failure:
        return cls(claim.layer, claim.label, claim.entry, claim.statement, claim.residual,
                   claim.culprit)


@dataclass
class Row:
    """One line of the per-layer table: each route kind's status for one parameter."""

    layer: int
    parameter: str
    checks: dict[str, str]  # CHECKS value -> status; "not compared" when no claim was made
    seconds: float


@dataclass
class Proof:
    """A list of claims; ``holds`` only when there is at least one and every one is proved.

    ``method`` says how the claims were settled ("expand", "local", "random",
    "induction", ...); ``lemmas`` are the small statements behind them;
    ``network`` names what was proved; ``note`` is one sentence for the summary
    (why ``auto`` chose what it did, say).
    """

    method: str
    claims: list[Claim] = field(default_factory=list)
    _: KW_ONLY
    lemmas: list[Lemma] = field(default_factory=list)
    seconds: float = 0.0
    network: str = ""
    note: str = ""
    fingerprint: str = ""  # the program proved (``Program.fingerprint``); "" when none was

    @property
    def holds(self) -> bool:
        return bool(self.claims) and all(c.proved for c in self.claims)

    @property
    def status(self) -> str:
        """failed, timed out, proved, checked, screened, or not proved (no claim, or a claim
        not compared): the worst status of the claims, in ``core.status.ORDER``."""
        if not self.claims:
            return "not proved"
        found = worst(c.status for c in self.claims)
        return "not proved" if found == Status.NOT_COMPARED else found.value

    @property
    def failures(self) -> list[Failure]:
        return [Failure.of(c) for c in self.claims if c.status == "failed"]

    @property
    def rows(self) -> list[Row]:
        """The route claims per layer and parameter, in the order they were made."""
        table: dict[tuple[int, str], Row] = {}
        for c in self.claims:
            if c.kind in ROUTE_KINDS and c.layer is not None and c.parameter is not None:
                key = (c.layer, c.parameter)
                if key not in table:
                    table[key] = Row(c.layer, c.parameter,
                                     dict.fromkeys(CHECKS.values(), "not compared"), 0.0)
                table[key].checks[CHECKS[c.kind]] = c.status
                table[key].seconds += c.seconds
        return list(table.values())

    def claimed(self) -> str:
        """What the proof states, one clause per kind of claim, without timings."""
        parts = _route_clauses([c for c in self.claims if c.kind in ROUTE_KINDS])
        functions = [c for c in self.claims if c.kind == "function"]
        if functions:
            parts.append(_listed("lemmas", functions))
        parts += [f"{c.statement} {c.how}" if c.proved else f"{c.statement}: {c.status}"
                  for c in self.claims if c.kind == "general"]
        parts += _curvature_clauses([c for c in self.claims if c.kind == "curvature"])
        missing = [k for k in ROUTE_KINDS if not any(c.kind == k for c in self.claims)]
        if missing and len(missing) < len(ROUTE_KINDS):
            parts.append(f"{', '.join(missing)}: not compared")
        return "; ".join(parts) if parts else "no claims"

    def headline(self, timings: bool = True) -> str:
        """The verdict in one line of at most ``COLUMNS`` characters: status, method, how many
        claims, the time (with timings)."""
        took = f"; {self.seconds:.2f} s" if timings else ""
        n = len(self.claims)
        done = sum(c.proved for c in self.claims)
        status = self.status
        made = [k for k in ROUTE_KINDS if any(c.kind == k for c in self.claims)]
        if made == list(ROUTE_KINDS):
            scope = "the three routes agree, "
        elif made:
            left = ", ".join(k for k in ROUTE_KINDS if k not in made)
            scope = f"{' and '.join(made)} only ({left} not compared), "
        else:
            scope = ""
        if status == "proved":
            line = f"proved ({self.method}): {scope}all {n} claims{took}"
        elif status == "failed":
            line = f"NOT proved ({self.method}): {len(self.failures)} of {n} claims failed{took}"
        elif status == "timed out":
            line = f"not proved: timed out ({self.method}); {done} of {n} claims proved{took}"
        elif status == "screened":
            line = f"not proved ({self.method}): screened, and a screen is not a proof{took}"
        elif status == "checked":
            line = (f"checked, not proved ({self.method}): {done} of {n} claims proved, the "
                    f"rest checked only at the sizes they name{took}")
        else:
            line = f"not proved ({self.method}): {done} of {n} claims proved{took}"
        return line if len(line) <= COLUMNS else line[: COLUMNS - 1] + "…"

    def summary(self, timings: bool = True) -> str:
        """The headline, then exactly the claims made (and the first failure), wrapped at
        ``COLUMNS`` characters on the lines below it."""
        details = self.claimed() + (f" ({self.note})" if self.note else "")
        status = self.status
        if status == "failed":
            details = f"first: {self.failures[0]}; claims made: {details}"
        elif status == "screened":
            details += "; use --method expand or local for a proof"
        lines = textwrap.wrap(details, COLUMNS - 2, break_on_hyphens=False)
        return "\n".join([self.headline(timings), *("  " + line for line in lines)])

    def __str__(self) -> str:
        return self.summary()

    def _repr_markdown_(self) -> str:
        """In a notebook: the headline, then every claim in a table (status first)."""
        def cell(text: str) -> str:
            return text.replace("|", "\\|").replace("\n", " ")

        rows = [f"| **{c.status}** | `{cell(c.label)}` | {cell(c.statement)} | {cell(c.how)} |"
                for c in self.claims]
        failure = f"\n\nFirst failure: {cell(str(self.failures[0]))}" if self.failures else ""
        return (f"**{cell(self.headline())}**{failure}\n\n| status | claim | statement | how |\n"
                "|---|---|---|---|\n" + "\n".join(rows))

    def to_dict(self) -> dict:
        return {
            "method": self.method, "status": self.status, "holds": self.holds,
            "network": self.network, "note": self.note, "summary": self.summary(timings=False),
            "fingerprint": self.fingerprint,
            "claims": [asdict(c) for c in self.claims],
            "failures": [dict(asdict(f), message=str(f)) for f in self.failures],
            "rows": [asdict(r) for r in self.rows],
            "lemmas": [asdict(lem) for lem in self.lemmas],
            "seconds": self.seconds,
        }

    def to_json(self) -> str:
        """The proof report as JSON; timings are left out so that reruns are byte-identical."""
        data = self.to_dict()
        data.pop("seconds")
        for part in ("claims", "rows", "lemmas"):
            for item in data[part]:
                item.pop("seconds")
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _route_clauses(claims: list[Claim]) -> list[str]:
    """One clause per route kind, in order; kinds settled alike share one clause."""
    groups: dict[object, list[str]] = {}  # (status, how) when uniform, else the kind -> phrases
    names = dict.fromkeys(c.parameter for c in claims if c.kind == "recursion")
    wording = dict(PHRASES)
    if set(names) - {"W", "b"}:  # layer kinds with more parameters: name them all
        wording["recursion"] = "recursion = " + ", ".join(f"∂C/∂{n}_l" for n in names)
    for kind in ROUTE_KINDS:
        mine = [c for c in claims if c.kind == kind]
        counts = Counter(c.status for c in mine)
        if len(counts) == 1:
            key: object = (mine[0].status, " / ".join(dict.fromkeys(c.how for c in mine)))
            groups.setdefault(key, []).append(wording[kind])
        elif counts:
            tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            groups[kind] = [f"{wording[kind]}: {tally}"]
    clauses = []
    for key, phrases in groups.items():
        if isinstance(key, tuple):
            status, how = key
            said = " and ".join(phrases)
            clauses.append(f"{said} for every layer {how}" if status == "proved"
                           else f"{said}: {status} for every layer ({how})")
        else:
            clauses += phrases
    return clauses


def _curvature_clauses(claims: list[Claim]) -> list[str]:
    """Second-order claims, one clause per status; labels that differ only in their layers
    counted once ("H row ×3")."""
    by_status: dict[str, dict[str, int]] = {}
    for c in claims:
        stem = re.sub(r"[\d,]+$", "", c.label).strip()  # H row 2 and H row 1: H row
        stems = by_status.setdefault(c.status, {})
        stems[stem] = stems.get(stem, 0) + 1
    return [", ".join(s if n == 1 else f"{s} ×{n}" for s, n in stems.items()) + f": {status}"
            for status, stems in by_status.items()]


def _listed(what: str, claims: list[Claim]) -> str:
    by_status: dict[str, list[str]] = {}
    for c in claims:
        by_status.setdefault(c.status, []).append(c.label)
    return "; ".join(f"{what} {', '.join(names)}: {status}" if status != "proved"
                     else f"{what} {', '.join(names)}" for status, names in by_status.items())


def lemma_claim(lem: Lemma) -> Claim:
    """A function lemma (σ', σ'', a cost's gradient or Hessian) as the claim it makes."""
    return Claim(lem.statement, lem.latex, "function", "proved" if lem.holds else "failed",
                 "by exact comparison with the explicit formula", name=lem.name,
                 entry=lem.entry, residual=lem.residual, seconds=lem.seconds)


def concluded(premises: list[Claim]) -> tuple[Status, Claim | None]:
    """An induction's status from its premises and the first premise not proved: a premise not
    compared fails it (what was not checked cannot carry a conclusion)."""
    status = worst(c.status for c in premises)
    first = next((c for c in premises if not c.proved), None)
    return (Status.FAILED if status == Status.NOT_COMPARED else status), first


def time_claim(kind: str, timeout: float | None) -> Claim:
    """The claim of a proof that its own deadline stopped (``deadline.stopping``)."""
    return Claim("the proof finished in time", "", kind, "timed out", stopped(timeout),
                 name="time")

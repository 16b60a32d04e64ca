"""The prover: exact arguments that the three routes agree, never floating point.

``expand``  compares every entry of the three routes, fully substituted, as
            rational functions of the opaque σ(z), σ'(z) (so for every σ).
``local``   proves per-layer lemmas: each local Jacobian is diag(σ'(z_l)) W_l,
            the recursion's δ_L is ∂C/∂z_L, each δ step is the chain rule of
            z_{l+1} = W_{l+1} σ(z_l) + b_{l+1}, and δ_l a_{l-1}ᵀ is ∂C/∂W_l.
            By induction over the layers (the chain rule) this proves all
            three routes equal at any depth, without building them.
``random``  evaluates the differences exactly at random rational points: a
            screen. It can refute, and it never reports "proved".
Both exact methods also prove the activation lemmas σ'(z) = (formula) and
the cost lemma ∂C/∂a_L = (registered gradient) from the explicit formulas.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import sympy as sp

from ..core.deadline import TimedOut, check_seconds, deadline
from ..core.derivation import PARAMETERS, Derivation
from . import lemmas
from .exact import evaluate_at_random, first_difference

METHODS = ("auto", "expand", "local", "random")
CHECKS = ("expansion = recursion", "direct = recursion")
EXPAND_LIMIT = 300  # estimated product terms above which auto chooses "local"
BRUTE_FORCE_LIMIT = 5_000  # ~8 ms a term here: past a minute, expand/random refuse


@dataclass
class Failure:
    """Where a check did not hold: the first failing entry (1-based) and its residual."""

    layer: int | None
    parameter: str
    entry: tuple[int, int] | None
    check: str
    residual: str

    def __str__(self) -> str:
        where = f"layer {self.layer}, " if self.layer is not None else ""
        at = f" entry {self.entry}" if self.entry else ""
        return f"{where}{self.parameter}{at}: {self.check} does not hold (residual {self.residual})"


@dataclass
class Row:
    """One line of the per-layer table: a parameter's checks and the time they took."""

    layer: int
    parameter: str
    checks: dict[str, str]
    seconds: float


@dataclass
class Proof:
    """The outcome: ``holds`` is True only for an exact proof that found no failure."""

    method: str
    status: str  # proved | failed | screened | timed out
    failures: list[Failure] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    lemmas: list[lemmas.Lemma] = field(default_factory=list)
    seconds: float = 0.0
    network: str = ""

    @property
    def holds(self) -> bool:
        return self.status == "proved"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["holds"] = self.holds
        data["failures"] = [dict(asdict(f), message=str(f)) for f in self.failures]
        return data

    def to_json(self) -> str:
        """The proof report as JSON; timings are left out so that reruns are byte-identical."""
        data = self.to_dict()
        data.pop("seconds")
        for row in data["rows"]:
            row.pop("seconds")
        for lemma in data["lemmas"]:
            lemma.pop("seconds")
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def summary(self) -> str:
        if self.status == "proved":
            return (f"proved ({self.method}): expansion = recursion = direct for every W_l "
                    f"and b_l, {len(self.lemmas)} lemmas, {self.seconds:.2f} s")
        if self.status == "screened":
            return (f"not proved: the random screen found no disagreement "
                    f"({self.seconds:.2f} s); a screen is not a proof, "
                    "use --method expand or local")
        if self.status == "timed out":
            return f"not proved: timed out after {self.seconds:.2f} s ({self.method})"
        first = self.failures[0] if self.failures else "unknown"
        return f"NOT proved ({self.method}): {len(self.failures)} failure(s); first: {first}"

    def __str__(self) -> str:
        return self.summary()


def expansion_size(d: Derivation) -> int:
    """Estimated product terms in the fully expanded gradients (the paths of influence)."""
    n = d.net.widths
    total, paths = 0, 1
    for l in range(d.L, 0, -1):
        total += (n[l] * n[l - 1] + n[l]) * paths
        paths *= n[l]
    return total


def choose_method(d: Derivation, method: str, limit: int | None = BRUTE_FORCE_LIMIT) -> str:
    """Resolve ``auto``; refuse a brute-force method whose estimated size is past ``limit``."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    size = expansion_size(d)
    if method == "auto":
        return "expand" if size <= EXPAND_LIMIT else "local"
    if method != "local" and limit is not None and size > limit:
        raise ValueError(
            f"method {method!r} would expand about {size:,} product terms (limit {limit:,}); "
            f"use method 'local', which proves any depth by per-layer lemmas"
        )
    return method


Progress = Callable[[str, int, int], None]  # (what, done, total)


class _Timer:
    def __init__(self, timeout: float | None, progress: Progress | None = None, total: int = 0):
        self.start = time.perf_counter()
        self.deadline = None if timeout is None else self.start + timeout
        self.progress, self.total, self.done = progress, total, 0

    def tick(self, what: str, steps: int = 1) -> None:
        self.done += steps
        if self.progress:
            self.progress(what, self.done, self.total)

    @property
    def expired(self) -> bool:
        return self.deadline is not None and time.perf_counter() > self.deadline

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def prove(d: Derivation, method: str = "auto", *, timeout: float | None = None,
          points: int = 3, seed: int = 0, limit: int | None = BRUTE_FORCE_LIMIT,
          progress: Progress | None = None) -> Proof:
    """Prove that expansion, recursion and direct agree for every W_l and b_l of ``d``.

    ``timeout`` (seconds) bounds the whole proof: past it the result is "timed
    out", never "proved". ``limit`` caps the estimated size of a brute-force
    method (``expand``, ``random``); ``progress(what, done, total)`` is called
    as layers are finished.
    """
    if not isinstance(d, Derivation):
        raise ValueError(f"prove() needs a symbp.Derivation, got {type(d).__name__}")
    timeout = check_seconds(timeout)
    method = choose_method(d, method, limit)
    timer = _Timer(timeout, progress, 2 * d.L)
    proof = Proof(method=method, status="proved", network=repr(d.net))
    try:
        with deadline(timeout):
            if method == "random":
                _screen(d, proof, timer, points, seed)
            else:
                proof.lemmas = lemmas.function_lemmas(d.net)
                if method == "expand":
                    _compare_routes(d, proof, timer)
                else:
                    _prove_locally(d, proof, timer)
    except TimedOut:  # a BaseException: never caught as a failure on the way
        proof.status = "timed out"
    failed_lemmas = [lem for lem in proof.lemmas if not lem.holds]
    proof.failures += [Failure(lem.layer, lem.name, lem.entry, lem.statement, lem.residual)
                       for lem in failed_lemmas]
    if proof.failures:
        proof.status = "failed"
    proof.seconds = timer.elapsed
    return proof


def _rows(d: Derivation):
    for l in range(d.L, 0, -1):
        for wrt in PARAMETERS:
            yield l, wrt


def _label(wrt: str, l: int) -> str:
    return f"dC/d{wrt}_{l}"


def _compare_routes(d: Derivation, proof: Proof, timer: _Timer) -> None:
    """Method ``expand``: every entry of every route, fully substituted, compared exactly."""

    def exact(route: sp.Matrix, reference: sp.Matrix):
        found = first_difference(route, reference)
        return None if found is None else (found[0], _short(found[1]))

    _route_by_route(d, proof, timer, exact, "proved")


def _route_by_route(d: Derivation, proof: Proof, timer: _Timer, compare, passed: str) -> None:
    """Expansion and direct against the recursion, for every W_l and b_l, output layer first.

    ``compare(route, reference)`` returns None, or (first failing entry, residual text).
    """
    for l, wrt in _rows(d):
        started = time.perf_counter()
        checks = dict.fromkeys(CHECKS, "failed")
        try:
            reference = d.grad(l, "recursion", wrt)
        except Exception as error:  # a broken recursion is a failed proof, not a crash
            proof.failures.append(Failure(l, _label(wrt, l), None, "recursion", _describe(error)))
        else:
            for check, route in zip(CHECKS, ("expansion", "direct")):
                if timer.expired:
                    raise TimedOut
                try:
                    found = compare(d.grad(l, route, wrt), reference)
                except ValueError as error:  # shapes differ: the recursion's matrix is wrong
                    found = (None, _describe(error))
                if found is None:
                    checks[check] = passed
                else:
                    proof.failures.append(Failure(l, _label(wrt, l), found[0], check, found[1]))
        proof.rows.append(Row(l, wrt, checks, time.perf_counter() - started))
        timer.tick(f"layer {l}, {wrt}")


def _prove_locally(d: Derivation, proof: Proof, timer: _Timer) -> None:
    """Method ``local``: per-layer lemmas; the induction over layers is the chain rule."""
    try:
        trace = d.recursion
    except Exception as error:
        proof.failures.append(
            Failure(None, "recursion", None, "the recursion runs", _describe(error)))
        return
    ok_delta: dict[int, bool] = {}
    ok_factor: dict[int, bool] = {}
    for l in range(d.L, 0, -1):
        if timer.expired:
            raise TimedOut
        started = time.perf_counter()
        step = lemmas.delta_lemma(d, trace, l)
        factor = lemmas.factor_lemma(d, l) if l > 1 else None
        params = [lemmas.parameter_lemma(d, trace, l, wrt) for wrt in PARAMETERS]
        found = [lem for lem in (step, factor, *params) if lem is not None]
        proof.lemmas += found
        ok_delta[l] = step.holds and ok_delta.get(l + 1, True)
        ok_factor[l] = factor is None or factor.holds
        seconds = (time.perf_counter() - started) / len(PARAMETERS)
        for wrt, param in zip(PARAMETERS, params):
            recursion_ok = ok_delta[l] and param.holds
            factors_ok = all(ok_factor.get(m, True) for m in range(l + 1, d.L + 1))
            expansion_ok = recursion_ok and factors_ok
            checks = {CHECKS[0]: _status(expansion_ok), CHECKS[1]: _status(recursion_ok)}
            proof.rows.append(Row(l, wrt, checks, seconds))
        timer.tick(f"layer {l}", len(PARAMETERS))


def _screen(d: Derivation, proof: Proof, timer: _Timer, points: int, seed: int) -> None:
    """Method ``random``: exact rational evaluation at random points, a screen only."""
    rng = random.Random(seed)
    proof.status = "screened"

    def at_random_points(route: sp.Matrix, reference: sp.Matrix):
        diffs = list(route - reference)
        for _ in range(points):
            values = evaluate_at_random(diffs, rng)
            bad = next((n for n, v in enumerate(values) if v.is_finite and v != 0), None)
            if bad is not None:
                cols = reference.shape[1]
                return (bad // cols + 1, bad % cols + 1), f"{values[bad]} at a random point"
        return None

    _route_by_route(d, proof, timer, at_random_points, "screened")


def _status(ok: bool) -> str:
    return "proved" if ok else "failed"


def _short(expr, limit: int = 160) -> str:
    text = str(expr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(error: Exception) -> str:
    return _short(f"{type(error).__name__}: {error}")



"""Deadlines that interrupt long SymPy calls, nest, and can never be mistaken for a result.

``TimedOut`` derives from BaseException, so an ``except Exception`` in the middle
of the work (a prover catching a crashing recursion, say) never turns a timeout
into a verdict. ``deadline(seconds)`` arms SIGALRM in the main thread; inside
another deadline it fires at the sooner of the two, and on leaving it re-arms
the outer one with what is left of it (at once, if that has passed). Off the
main thread no signal can be used: ``Deadline.expired`` is then the only check.

A signal handler runs wherever the main thread happens to be, and Python drops an
exception raised inside a gc callback or a ``__del__`` (it only reports it to
``sys.unraisablehook``). So while a deadline is armed that hook is wrapped: a dropped
``TimedOut`` rings the alarm again a millisecond later, until one lands.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

MAX_SECONDS = 1e6  # about 11 days: any longer is a mistake, and setitimer would overflow


class TimedOut(BaseException):
    """The deadline passed."""


class Deadline:
    """A point in time to stop at, ``seconds`` after ``start`` (a ``time.monotonic()``
    reading; now by default); None for no deadline. A command's ``--timeout`` is one,
    and runs each of its phases under what is left of it."""

    def __init__(self, seconds: float | None, start: float | None = None):
        self.seconds = check_seconds(seconds)
        self.start = time.monotonic() if start is None else start
        # a deadline armed inside another: True when this one rings first, so that a TimedOut
        # inside it is its own (``stopping``); an outer one's must stop the caller too
        self.sooner = self.seconds is not None
        self.stopped = False  # set by ``stopping`` when its own time ran out

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    @property
    def remaining(self) -> float | None:
        return None if self.seconds is None else self.seconds - self.elapsed

    @property
    def expired(self) -> bool:
        remaining = self.remaining
        return remaining is not None and remaining <= 0

    def left(self) -> float | None:
        """The seconds left (None: no deadline); TimedOut if there are none."""
        if self.expired:
            raise TimedOut
        return self.remaining

    @contextmanager
    def phase(self) -> Iterator[None]:
        """Run a block under a deadline of what is left (see ``deadline``)."""
        with deadline(self.left()):
            yield


@contextmanager
def stopping(seconds: float | None) -> Iterator[Deadline]:
    """``deadline(seconds)`` for work that reports running out of its own time as a result
    (a proof "timed out"): its own TimedOut ends the block quietly, with ``limit.stopped``
    set; the TimedOut of a deadline around it (a command's ``--timeout``) passes on, so
    that it stops the command instead of becoming one proof's verdict."""
    with deadline(seconds) as limit:
        try:
            yield limit
        except TimedOut:
            if not limit.sooner:
                raise
            limit.stopped = True


def check_seconds(seconds: object, name: str = "timeout") -> float | None:
    """``seconds`` as a float in (0, MAX_SECONDS], or None; ValueError naming the bad value."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError(f"{name} must be a number of seconds or None; got {seconds!r}")
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_SECONDS):
        raise ValueError(f"{name} must be more than 0 and at most {MAX_SECONDS:g} seconds; "
                         f"got {seconds!r}")
    return float(seconds)


def stopped(timeout: float | None) -> str:
    """How a proof that ran out of its own time (``stopping``) says so."""
    return f"stopped after {timeout:g} s"


def _expire(signum: int, frame: object) -> None:
    raise TimedOut


def _ring_again_if_dropped(previous: Callable[[Any], object]) -> Callable[[Any], object]:
    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, TimedOut):
            signal.setitimer(signal.ITIMER_REAL, 1e-3)
        else:
            previous(unraisable)
    return hook


@contextmanager
def deadline(seconds: float | None) -> Iterator[Deadline]:
    """Raise ``TimedOut`` inside the block once ``seconds`` have passed (see the module text)."""
    limit = Deadline(seconds)
    if limit.seconds is None or threading.current_thread() is not threading.main_thread():
        yield limit
        return
    previous_handler = signal.signal(signal.SIGALRM, _expire)
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _ring_again_if_dropped(previous_hook)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, 0)  # 0.0: no outer deadline
    mine = limit.seconds if outer == 0 else min(limit.seconds, outer)
    limit.sooner = mine == limit.seconds
    signal.setitimer(signal.ITIMER_REAL, max(mine, 1e-6))
    try:
        yield limit
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        sys.unraisablehook = previous_hook
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - limit.elapsed, 1e-6))

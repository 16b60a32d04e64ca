"""Progress on stderr for any step that takes more than a second.

A background thread redraws one status line, so a step that is busy in one long call
(a SymPy simplification, pdflatex) still shows that it is alive. Silent when stderr is
not a terminal or with --quiet, so logs and pipes stay clean; the line is erased when
the step ends.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SHOW_AFTER = 1.0  # seconds: quick steps never flash a bar
REDRAW = 0.2  # seconds between redraws
BAR = 20  # characters of the bar itself

Update = Callable[[str, int, int], None]  # (what, done, total)


def wanted(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


class _Line:
    """What one step has done so far, drawn as ``proving  [####......]  3/6  layer 2, W  4 s``."""

    def __init__(self, description: str, total: int | None):
        self.description, self.total = description, total
        self.done, self.what = 0, ""
        self.start = time.monotonic()
        self.shown = False

    def update(self, what: str, done: int, total: int) -> None:
        self.what, self.done, self.total = what, done, total

    def text(self, columns: int) -> str:
        parts = [self.description]
        if self.total:
            filled = min(BAR, BAR * self.done // self.total)
            parts += ["[" + "#" * filled + "." * (BAR - filled) + "]", f"{self.done}/{self.total}"]
        if self.what:
            parts.append(self.what)
        parts.append(f"{time.monotonic() - self.start:.0f} s")
        return "  ".join(parts)[: max(columns - 1, 10)]

    def draw(self) -> None:
        try:
            columns = os.get_terminal_size(sys.stderr.fileno()).columns or 80
        except OSError:
            columns = 80
        sys.stderr.write("\r" + self.text(columns) + "\x1b[K")
        sys.stderr.flush()
        self.shown = True

    def erase(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


@contextmanager
def bar(enabled: bool, description: str, total: int | None = None) -> Iterator[Update]:
    """A progress line for one step; yields ``update(what, done, total)``."""
    line = _Line(description, total)
    if not enabled:
        yield line.update
        return
    stop = threading.Event()

    def redraw() -> None:
        if stop.wait(SHOW_AFTER):
            return
        while True:
            line.draw()
            if stop.wait(REDRAW):
                return

    thread = threading.Thread(target=redraw, name=f"progress: {description}", daemon=True)
    thread.start()
    try:
        yield line.update
    finally:
        stop.set()
        thread.join()
        line.erase()

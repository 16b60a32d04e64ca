"""Whether a network's gradients print as numeric code, and why not: ``code_problem`` asks
``trace`` once, for a document or a training run; ``one_line`` fits the reason in a
sentence or a note.
"""

from __future__ import annotations

from .trace import trace


def code_problem(d) -> str:
    """"" when ``d``'s program prints as numeric code, else why not (the generic σ, a map
    not printed yet): what ``trace`` refuses, asked once for a document or a training run."""
    try:
        trace(d)
    except ValueError as error:
        return str(error)
    return ""


def one_line(reason: str, limit: int) -> str:
    """A reason fit for a sentence or a note: its first line, cut at a word near ``limit``."""
    line = (reason.splitlines() or [""])[0]
    return line if len(line) <= limit else line[:limit].rsplit(" ", 1)[0] + " …"

"""What ``symbp derive`` writes: the formats of ``render.formats`` (the one table of formats),
planned before any work and made in memory.

Nothing here touches the output folder; ``outputs.OutputFolder`` stages and publishes
the files once they all exist, so a failure or an interruption on the way loses
nothing. The document is built once and rendered into every format.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.network import Network
from ..render.formats import DEFAULT_FORMATS, FORMATS, Build, Skipped

__all__ = ["DEFAULT_FORMATS", "FORMATS", "Build", "build_files", "plan"]

Update = Callable[[str, int, int], None]


def plan(net: Network, formats: tuple[str, ...], explicit: bool) -> tuple[list[str], list[str]]:
    """The formats that can be made and notes on the rest; ValueError when one that was
    asked for by name cannot be made. Cheap: run before any work."""
    made, notes = [], []
    for name in formats:
        reason = FORMATS[name].unavailable(net)
        if reason is None:
            made.append(name)
        elif explicit:
            raise ValueError(f"--format {name} asked for, but {reason}")
        else:
            notes.append(reason)
    return made, notes


def build_files(b: Build, formats: list[str], update: Update | None = None) -> dict[str, bytes]:
    """The bytes of every format in ``formats``; skipped ones add a note to ``b.notes``."""
    files: dict[str, bytes] = {}
    for done, name in enumerate(formats):
        if update:
            update(name, done, len(formats))
        try:
            files.update(FORMATS[name].make(b))
        except Skipped as skipped:
            b.notes.append(str(skipped))
    if update:
        update("done", len(formats), len(formats))
    return files

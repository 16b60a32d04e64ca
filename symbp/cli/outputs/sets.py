"""What both ways of publishing share: the manifest, the names a set may hold, the errors,
signals held back, and the test hook that pauses between the steps of publishing."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from ...core import safe_paths

MANIFEST = ".symbp-manifest"  # the names of the files symbp wrote here, one a line
STAGE_PREFIX = ".symbp-stage-"  # a staging folder inside the output folder (by renames)
MAX_MANIFEST_BYTES = 64 * 1024  # a manifest lists a dozen names; a larger file is not one
PAUSE = "SYMBP_TEST_PAUSE_PUBLISH"  # test hook: "STEP,SECONDS" to pause after a step
BY_RENAMES = "SYMBP_TEST_PUBLISH_BY_RENAMES"  # test hook: "1" takes the fallback path


class OutputError(Exception):
    """The environment stopped the writing (disk full, not writable, busy): one line."""


class FolderBusy(OutputError):
    """Another symbp run holds the folder's lock."""


def is_set_name(name: str) -> bool:
    """A name a set may hold: one component, not the manifest, not a staging folder."""
    return bool(name) and "/" not in name and "\0" not in name and \
        name not in (".", "..", MANIFEST) and not name.startswith(STAGE_PREFIX)


def read_manifest(fd: int) -> list[str]:
    """The names the manifest in the folder ``fd`` lists: none when there is no regular,
    readable, UTF-8 manifest of sensible size (a link, a FIFO or a folder is never read)."""
    data = safe_paths.read_regular(MANIFEST, fd, MAX_MANIFEST_BYTES)
    try:
        text = data.decode("utf-8") if data is not None else ""
    except UnicodeDecodeError:
        return []
    return [n for n in text.splitlines() if is_set_name(n)]


def manifest_of(names: list[str]) -> bytes:
    return "".join(f"{n}\n" for n in names).encode()


def refuse_folders_in_the_way(fd: int, out: Path, names: Iterable[str]) -> None:
    for name in names:
        if safe_paths.is_folder(name, fd):
            raise OutputError(f"cannot write {out / name}: a folder of that name is in the way")


def pause_at() -> tuple[int, float]:
    """``SYMBP_TEST_PAUSE_PUBLISH=STEP,SECONDS``: the step of publishing to pause after, and
    for how long; (0, 0) when unset or unreadable."""
    step, _, seconds = os.environ.get(PAUSE, "").partition(",")
    try:
        return int(step), max(0.0, float(seconds))
    except ValueError:
        return 0, 0.0


def paused(pause: tuple[int, float], step: int, what: str) -> int:
    """Test hook (``SYMBP_TEST_PAUSE_PUBLISH``): say which step of publishing is done, and
    pause after the one asked for, so that a test can kill the run at a known instant."""
    if pause[0]:
        with contextlib.suppress(OSError):
            os.write(2, f"publish step {step + 1}: {what}\n".encode())
        if step + 1 == pause[0]:
            time.sleep(pause[1])
    return step + 1


@contextlib.contextmanager
def held_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for the block, then deliver them (main thread only).

    Handlers rather than a signal mask: a mask would only cover this thread, and the
    OS may hand the signal to another one (a progress bar's).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)

"""Publishing by renames, file by file: the fallback where the output folder cannot be
exchanged in one step (see the package text for when).

The staging folder lives inside the output folder (``.symbp-stage-*``: one filesystem, so
each rename is atomic). Before the window: a folder in the way of a file is refused, the
earlier manifest is read, the files to be replaced get second names in the staging folder
(so the window frees no disk space), and the new manifest is written into the staging
folder, last: a staging folder that holds a manifest is complete. The window: each new
file renamed into place in name order, the earlier set's other files removed, the manifest
renamed into place; nothing else (no reading, no writing, no checking). A reader inside it
sees a mix in that order; every file is whole at every instant.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from ...core import safe_paths
from ...core.safe_paths import UnsafeFolder
from . import sets
from .sets import MANIFEST, MAX_MANIFEST_BYTES, STAGE_PREFIX, OutputError

EARLIER = "earlier"  # in a staging folder: second names of the files the window replaces


def recover(fd: int, out: Path) -> None:
    """Finish or remove what killed runs left in the folder ``fd`` (``out``); call only under
    its lock. A leftover that is a link is removed (the link itself); one that is not the
    user's own is refused (OutputError); one without a complete, well-formed manifest is
    removed; a complete one is published."""
    for name in sorted(os.listdir(fd)):
        if not name.startswith(STAGE_PREFIX):
            continue
        found = safe_paths.entry(name, fd)
        if found is not None and stat.S_ISLNK(found.st_mode):
            safe_paths.remove(name, fd)  # never followed: the link itself goes
            continue
        if found is None or not stat.S_ISDIR(found.st_mode):
            continue  # a file of that name: not made by symbp, left alone
        try:
            stage_fd = safe_paths.open_folder(name, fd, private=True, shown=out / name)
        except UnsafeFolder as refused:
            raise OutputError(f"a leftover staging folder is not safe to publish: {refused}") \
                from None
        except FileNotFoundError:
            continue
        try:
            names = _complete_set(stage_fd)
            if names is not None:
                earlier = prepare(fd, stage_fd, out, names)
                with sets.held_signals():
                    switch(fd, stage_fd, names, earlier)
        finally:
            os.close(stage_fd)
        safe_paths.remove(name, fd)


def _complete_set(stage_fd: int) -> list[str] | None:
    """The names of a complete staging folder's set, or None when it is not one: no manifest,
    a manifest that is no regular file or not a list of names, or a name that is something
    other than a regular file (a name already published is simply absent)."""
    data = safe_paths.read_regular(MANIFEST, stage_fd, MAX_MANIFEST_BYTES)
    if data is None:
        return None
    try:
        names = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return None
    for name in names:
        if not sets.is_set_name(name):
            return None
        found = safe_paths.entry(name, stage_fd)
        if found is not None and not stat.S_ISREG(found.st_mode):
            return None
    return names


def prepare(fd: int, stage_fd: int, out: Path, names: list[str]) -> list[str]:
    """Everything done before the window: no folder in the way of a name or of the manifest;
    the names of the earlier set, read now, before anything moves (returned); second names
    for the files the window will replace or remove."""
    sets.refuse_folders_in_the_way(fd, out, [*names, MANIFEST])
    earlier = sets.read_manifest(fd)
    _hold_earlier(fd, stage_fd, [*names, *earlier, MANIFEST])
    return earlier


def _hold_earlier(fd: int, stage_fd: int, names: Iterable[str]) -> None:
    """Give every file the window will replace or remove a second name in the staging folder,
    so that the window frees no disk blocks (on this VM's ext4 a rename over a file waits
    milliseconds for that); they go with the staging folder, after the window. Where a link
    cannot be made (another owner's file, a filesystem without links), the window frees it."""
    with contextlib.suppress(OSError):
        os.mkdir(EARLIER, 0o700, dir_fd=stage_fd)
    for name in names:
        with contextlib.suppress(OSError):
            os.link(name, f"{EARLIER}/{name}", src_dir_fd=fd, dst_dir_fd=stage_fd,
                    follow_symlinks=False)


def switch(fd: int, stage_fd: int, names: list[str], earlier: list[str]) -> None:
    """The window (call with signals held): the new files in place (in name order), the
    earlier set's other files removed, the manifest in place; safe to repeat after being
    cut short."""
    pause = sets.pause_at()
    step = 0
    for name in names:
        if safe_paths.entry(name, stage_fd) is not None:  # absent: published before a kill
            os.replace(name, name, src_dir_fd=stage_fd, dst_dir_fd=fd)
        step = sets.paused(pause, step, f"renamed {name}")
    for name in sorted(set(earlier) - set(names)):  # files of the earlier set only
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
            os.unlink(name, dir_fd=fd)
        step = sets.paused(pause, step, f"removed {name}")
    os.replace(MANIFEST, MANIFEST, src_dir_fd=stage_fd, dst_dir_fd=fd)
    sets.paused(pause, step, "renamed the manifest")

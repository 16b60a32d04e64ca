"""Publishing by exchange: the new set is staged as a whole folder beside the output folder
and swapped with it in one atomic step, ``renameat2(RENAME_EXCHANGE)``.

The staging folder ``.<name>.symbp-next-<pid>-<random>`` is made in the output folder's
parent (the same filesystem), private, and locked from the start, so that the lock goes
with the set when the folders swap. Before the swap it gets the user's own entries of the
output folder as hard links (the same files, not copies) and the manifest, last; then it is
renamed to ``.<name>.symbp-ready-<...>``: a ``next`` folder was never exchanged and is only
ever removed, a ``ready`` one may have been. After the swap the earlier folder, now at the
``ready`` name, is retired: symbp's files and the extra names of the user's files go, what
the user had there that could not be linked (folders) moves back across, one rename each.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import stat
from pathlib import Path

from ...core import safe_paths
from ...core.safe_paths import UnsafeFolder
from ..exits import describe
from . import sets
from .sets import MANIFEST, OutputError

NEXT, READY = ".symbp-next-", ".symbp-ready-"


class CannotExchange(Exception):
    """This folder cannot be exchanged here: the fallback (renames) is taken; why, in words."""


def prefixes(name: str) -> tuple[str, str]:
    """The prefixes of a staging folder beside the output folder ``name``: never exchanged,
    and complete (perhaps exchanged)."""
    return f".{name}{NEXT}", f".{name}{READY}"


def check_possible(parent_fd: int | None, fd: int) -> None:
    """CannotExchange unless the folder ``fd`` can be swapped within its parent."""
    if os.environ.get(sets.BY_RENAMES):
        raise CannotExchange(f"{sets.BY_RENAMES} is set")
    if not safe_paths.can_exchange():
        raise CannotExchange("this system has no renameat2")
    if parent_fd is None:
        raise CannotExchange("it is the root folder")
    folder = os.fstat(fd)
    if folder.st_uid != os.geteuid() and os.geteuid() != 0:  # a new folder would be yours
        raise CannotExchange("it belongs to another user")
    device = folder.st_dev
    if os.fstat(parent_fd).st_dev != device:
        raise CannotExchange("it is a mount point")
    for name in os.listdir(fd):
        found = safe_paths.entry(name, fd)
        if found is not None and stat.S_ISDIR(found.st_mode) and found.st_dev != device:
            raise CannotExchange(f"{name} in it is a mount point")


def make_staging(parent_fd: int, name: str, parent: Path) -> tuple[str, int]:
    """A new staging folder beside the output folder ``name``: private, locked, on a
    filesystem that can exchange two folders; its name and descriptor. CannotExchange
    when the parent cannot be written or the filesystem cannot exchange."""
    while True:
        stage = f"{prefixes(name)[0]}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            os.mkdir(stage, 0o700, dir_fd=parent_fd)
            break
        except FileExistsError:
            continue
        except OSError as error:
            if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise CannotExchange(f"its parent folder cannot be written "
                                     f"({os.strerror(error.errno)})") from None
            raise
    try:
        stage_fd = safe_paths.open_folder(stage, parent_fd, private=True, shown=parent / stage)
    except BaseException:
        safe_paths.remove(stage, parent_fd)
        raise
    try:
        fcntl.flock(stage_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _probe(stage_fd)
    except BaseException:
        os.close(stage_fd)
        safe_paths.remove(stage, parent_fd)
        raise
    return stage, stage_fd


def _probe(stage_fd: int) -> None:
    """CannotExchange unless the filesystem swaps two folders (two empty ones, here)."""
    try:
        os.mkdir("a", 0o700, dir_fd=stage_fd)
        os.mkdir("b", 0o700, dir_fd=stage_fd)
        safe_paths.exchange("a", "b", stage_fd)
    except OSError as error:
        if error.errno in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise CannotExchange("its filesystem cannot exchange two folders") from None
        raise
    finally:
        for probe in ("a", "b"):
            with contextlib.suppress(OSError):
                os.rmdir(probe, dir_fd=stage_fd)


def prepare(fd: int, stage_fd: int, out: Path, names: list[str]) -> list[str]:
    """Everything before the swap that may fail: no folder in the way of a name or of the
    manifest; the staging folder holds the new files only (pdflatex's leftovers go); the
    user's own entries of the output folder get a second name in it (hard links: the same
    file), all but folders and what refuses a link, which move across after the swap: their
    names are returned."""
    sets.refuse_folders_in_the_way(fd, out, [*names, MANIFEST])
    symbps = {*names, *sets.read_manifest(fd), MANIFEST}
    for name in os.listdir(stage_fd):
        if name not in names:
            safe_paths.remove(name, stage_fd)
    later = []
    for name in sorted(os.listdir(fd)):
        found = safe_paths.entry(name, fd)
        if name in symbps or found is None:
            continue
        try:
            if stat.S_ISDIR(found.st_mode):
                later.append(name)
            else:
                os.link(name, name, src_dir_fd=fd, dst_dir_fd=stage_fd, follow_symlinks=False)
        except OSError:
            later.append(name)
    return later


def move_back(names: list[str], old_fd: int, fd: int, pause: tuple[int, float],
              step: int) -> int:
    """Move the entries ``names`` of the earlier folder into the output folder, right after
    the swap, one rename each (never over an entry: that one stays); the step reached."""
    for name in names:
        try:
            safe_paths.move_new(name, old_fd, fd)
        except OSError:
            continue
        step = sets.paused(pause, step, f"moved {name} back")
    return step


def complete(parent_fd: int, stage: str, stage_fd: int, fd: int, names: list[str],
             out: Path) -> str:
    """Write the manifest into the staging folder, last; rename it ``ready``; give it the
    output folder's mode and group (owner too, for root). Its new name."""
    try:
        safe_paths.write_new(MANIFEST, sets.manifest_of(names), stage_fd)
    except OSError as error:
        raise OutputError(describe(error, "cannot write", out / MANIFEST)) from None
    head, _, tail = stage.rpartition(NEXT)
    ready = f"{head}{READY}{tail}"
    os.rename(stage, ready, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
    earlier = os.fstat(fd)
    os.fchmod(stage_fd, stat.S_IMODE(earlier.st_mode))
    with contextlib.suppress(OSError):
        os.fchown(stage_fd, earlier.st_uid if os.geteuid() == 0 else -1, earlier.st_gid)
    return ready


def retire(parent_fd: int, old: str, old_fd: int, fd: int,
           pause: tuple[int, float] = (0, 0.0), step: int = 0) -> int:
    """Empty and remove the folder ``old`` beside the output folder ``fd``: the manifest,
    the files either manifest names and the second names of the output folder's files
    go; everything else, the user's, moves into the output folder (never over an entry
    there: such an entry stays, and so does ``old``). Never follows a link. The step
    reached (for the test hook)."""
    symbps = {*sets.read_manifest(old_fd), *sets.read_manifest(fd)}
    gone: list[str] = []
    back: list[str] = []
    for name in sorted(os.listdir(old_fd)):
        found = safe_paths.entry(name, old_fd)
        if found is None:
            continue
        ours = name == MANIFEST or (not stat.S_ISDIR(found.st_mode) and (
            name in symbps or safe_paths.same_entry(name, fd, found)))
        (gone if ours else back).append(name)
    step = move_back(back, old_fd, fd, pause, step)  # first: missing until they are back
    for name in gone:
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=old_fd)
    with contextlib.suppress(OSError):
        os.rmdir(old, dir_fd=parent_fd)
    return sets.paused(pause, step, "removed the earlier folder")


def recover(parent_fd: int, name: str, fd: int, parent: Path) -> None:
    """Remove what killed runs left beside the output folder ``name`` (``fd``); call only
    under its lock. A leftover that is a link goes (the link itself); a ``next`` one, never
    exchanged, goes whole; a ``ready`` one is retired (the user's entries in it move back).
    One that is not the user's own is refused (OutputError); one locked by a live run is
    left alone."""
    never, maybe = prefixes(name)
    for leftover in sorted(os.listdir(parent_fd)):
        if not leftover.startswith((never, maybe)):
            continue
        found = safe_paths.entry(leftover, parent_fd)
        if found is not None and stat.S_ISLNK(found.st_mode):
            safe_paths.remove(leftover, parent_fd)
            continue
        if found is None or not stat.S_ISDIR(found.st_mode):
            continue
        try:
            old_fd = safe_paths.open_folder(leftover, parent_fd, shown=parent / leftover,
                                            private=leftover.startswith(never))
        except FileNotFoundError:
            continue
        except UnsafeFolder as refused:
            raise OutputError(f"a leftover staging folder is not safe to publish: {refused}") \
                from None
        try:
            safe_paths.check_owner(old_fd, parent / leftover, os.fstat(fd).st_uid)
            fcntl.flock(old_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if leftover.startswith(never):
                safe_paths.remove(leftover, parent_fd)
            else:
                retire(parent_fd, leftover, old_fd, fd)
        except UnsafeFolder as refused:
            raise OutputError(f"a leftover staging folder is not safe to publish: {refused}") \
                from None
        except BlockingIOError:
            continue
        finally:
            os.close(old_fd)

"""Opening paths inside a folder symbp writes (an output folder, the numba cache) safely.

Inside such a folder every name is reached through the folder's descriptor, is one path
component, and is never followed when it is a symbolic link (``O_NOFOLLOW``), so no name
can lead symbp out of the folder. A file is read only when it is a regular file, without
blocking (``O_NONBLOCK``: a FIFO never stalls a run) and only up to a limit.

A folder whose contents symbp runs (the numba cache) or publishes (a staging folder) must
be private: owned by the current user and writable by nobody else, since whoever can write
into it could put there code that symbp would import, or files it would publish as its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import shutil
import stat
import sys
from collections.abc import Callable
from pathlib import Path

_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeFolder(Exception):
    """A folder symbp would run code from or publish from that someone else could write."""


def check_name(name: str) -> str:
    """``name`` if it is one path component (no "/", not "." or ".."); ValueError otherwise."""
    if not name or "/" in name or "\0" in name or name in (".", ".."):
        raise ValueError(f"not a file name inside a folder: {name!r}")
    return name


def entry(name: str, folder: int) -> os.stat_result | None:
    """What ``name`` in the folder is, the link itself for a symbolic link; None if absent."""
    try:
        return os.stat(check_name(name), dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return None


def is_folder(name: str, folder: int) -> bool:
    found = entry(name, folder)
    return found is not None and stat.S_ISDIR(found.st_mode)


def open_folder(path: str | Path, folder: int | None = None, *, private: bool = False,
                shown: str | Path | None = None) -> int:
    """A descriptor of the folder ``path`` (relative to ``folder`` when given), never through a
    symbolic link; with ``private``, UnsafeFolder unless it is the user's own and writable by
    nobody else. OSError when it cannot be opened."""
    shown = shown if shown is not None else path
    try:
        fd = os.open(path, _FOLDER_FLAGS, dir_fd=folder)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR) and _is_link(path, folder):
            raise UnsafeFolder(f"{shown} is a symbolic link; symbp uses only a real folder "
                               "there") from None
        raise
    if private:
        try:
            check_private(fd, shown)
        except BaseException:
            os.close(fd)
            raise
    return fd


def _is_link(path: str | Path, folder: int | None) -> bool:
    try:
        return stat.S_ISLNK(os.stat(path, dir_fd=folder, follow_symlinks=False).st_mode)
    except OSError:
        return False


def make_private_folder(path: str | Path, folder: int | None = None,
                        shown: str | Path | None = None) -> int:
    """Make the folder ``path`` (mode 0700) unless it exists, and open it as ``open_folder``
    does with ``private``."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700, dir_fd=folder)
    return open_folder(path, folder, private=True, shown=shown)


def check_private(fd: int, shown: str | Path) -> None:
    """UnsafeFolder unless the open folder ``fd`` belongs to this user and only it may write."""
    found = check_owner(fd, shown)
    if found.st_mode & 0o022:
        who = "anyone" if found.st_mode & 0o002 else "its group"
        raise UnsafeFolder(f"{shown} can be written by {who} (mode {found.st_mode & 0o7777:04o}): "
                           f"symbp will not use it; make it private (chmod go-w) or use "
                           "another folder")


def check_owner(fd: int, shown: str | Path, *also: int) -> os.stat_result:
    """UnsafeFolder unless the open folder ``fd`` belongs to this user (or to a uid in
    ``also``); its stat."""
    found, me = os.fstat(fd), os.geteuid()
    if found.st_uid != me and found.st_uid not in also:
        raise UnsafeFolder(f"{shown} belongs to uid {found.st_uid}, not to you (uid {me}): "
                           "symbp will not use it; remove it, or use another folder")
    return found


def read_regular(name: str, folder: int, limit: int) -> bytes | None:
    """The bytes of the regular file ``name`` in the folder, or None when there is no such
    file to read: absent, a symbolic link, a folder, a FIFO, a device, unreadable, or
    longer than ``limit`` bytes. Never blocks and never follows a link."""
    found = entry(name, folder)
    if found is None or not stat.S_ISREG(found.st_mode):
        return None  # a FIFO or a device is not even opened
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY |
                     os.O_CLOEXEC, dir_fd=folder)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced since the look above
            return None
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    return b"".join(chunks) if size <= limit else None


def write_new(name: str, data: bytes, folder: int, mode: int = 0o644) -> None:
    """Create the file ``name`` in the folder (it must not exist) and write ``data`` into it."""
    fd = os.open(check_name(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW |
                 os.O_CLOEXEC, mode, dir_fd=folder)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def remove(name: str, folder: int) -> None:
    """Remove ``name`` from the folder: a link or a file itself, a folder with everything in it
    (never following a link out of it). What cannot be removed stays, silently."""
    found = entry(name, folder)
    if found is None:
        return
    if stat.S_ISDIR(found.st_mode):
        shutil.rmtree(name, ignore_errors=True, dir_fd=folder)
    else:
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=folder)


# ---------------------------------------------------------------- renameat2

RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
_RENAMEAT2_SYSCALL = {"x86_64": 316, "aarch64": 276}  # where glibc lacks the wrapper


def _renameat2() -> Callable[[int, str, int, str, int], None] | None:
    """``renameat2`` of the C library (or its system call), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    wrapper = getattr(libc, "renameat2", None)
    number = _RENAMEAT2_SYSCALL.get(platform.machine())
    if wrapper is None and number is None:
        return None

    def call(folder: int, name: str, to_folder: int, to_name: str, flags: int) -> None:
        args = (ctypes.c_int(folder), os.fsencode(name), ctypes.c_int(to_folder),
                os.fsencode(to_name), ctypes.c_uint(flags))
        done = wrapper(*args) if wrapper is not None else \
            libc.syscall(ctypes.c_long(number or 0), *args)
        if done != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), name, None, to_name)

    return call


_RENAMEAT2 = _renameat2()


def can_exchange() -> bool:
    """Whether this system has ``renameat2`` at all (a filesystem may still refuse it)."""
    return _RENAMEAT2 is not None


def exchange(name: str, other: str, folder: int) -> None:
    """Swap the entries ``name`` and ``other`` of the folder in one atomic step
    (``RENAME_EXCHANGE``); OSError (EINVAL where the filesystem cannot, ENOSYS where the
    system cannot)."""
    if _RENAMEAT2 is None:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS), name)
    _RENAMEAT2(folder, check_name(name), folder, check_name(other), RENAME_EXCHANGE)


def move_new(name: str, folder: int, to_folder: int) -> None:
    """Move ``name`` from one folder to the same name in another, never over an entry there
    (FileExistsError); anything moves, a folder with its contents."""
    if _RENAMEAT2 is None:  # no atomic "no replace": look, then move
        if entry(name, to_folder) is not None:
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), name)
        os.rename(check_name(name), name, src_dir_fd=folder, dst_dir_fd=to_folder)
        return
    _RENAMEAT2(folder, check_name(name), to_folder, name, RENAME_NOREPLACE)


def same_entry(name: str, folder: int, other: os.stat_result) -> bool:
    """Whether ``name`` in the folder is the very file ``other`` (the same inode)."""
    found = entry(name, folder)
    return found is not None and (found.st_dev, found.st_ino) == (other.st_dev, other.st_ino)

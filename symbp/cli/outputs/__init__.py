"""Writing an output folder as one set: a run's files are published together, or not at all.

A run locks the folder before any work (``flock``), so a second run into it is refused at
once instead of mixing its files in. Every name inside the folder is reached through the
folder's descriptor, never through a symbolic link (``core.safe_paths``). The run writes
its files into a private staging folder and publishes them in one of two ways:

- by exchange (``exchange.py``), wherever it can: the staging folder is a whole new output
  folder beside the old one, swapped with it in one atomic step; a reader sees the old set
  or the new one, never a mix;
- by renames (``renames.py``), the fallback: where the system has no ``renameat2``, the
  parent folder cannot be written, the filesystem cannot exchange folders, or the folder
  (or a folder in it) is a mount point. The staging folder lives inside the output folder
  and each file is renamed into place; a reader inside that window sees a mix, in a known
  order (README, "Outputs").

The lock stays valid across an exchange because a run locks every folder that is ever at
the output folder's name while it runs (the earlier one when it opens it, the staging one
when it makes it), and a run that takes a lock checks that the folder it locked is still
at the name (else an exchange just ended it: it looks again). No lock file is left behind.

An error before publishing, or Ctrl-C before the manifest is written, leaves the folder as
it was; a Ctrl-C after it is delivered once the set is out. A run killed outright leaves
its staging folder behind: the next run on the folder, holding the lock, finishes or
removes it before anything else. Folders this run created are removed again when it
publishes nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from ...core import safe_paths
from ..exits import describe
from . import exchange, renames, sets
from .sets import (
    BY_RENAMES,
    MANIFEST,
    MAX_MANIFEST_BYTES,
    PAUSE,
    STAGE_PREFIX,
    FolderBusy,
    OutputError,
    held_signals,
    read_manifest,
)

__all__ = ["BY_RENAMES", "MANIFEST", "MAX_MANIFEST_BYTES", "PAUSE", "STAGE_PREFIX",
           "FolderBusy", "OutputError", "OutputFolder", "check_folder", "commit",
           "held_signals", "published", "read_manifest"]

published: list[Path] = []  # folders this process has published into (for the CLI's messages)
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_LOOKS = 20  # a folder exchanged under us this often in a row is not ours to take


def check_folder(out: Path | str) -> Path:
    """``out`` as a Path, or ValueError if it cannot be a folder (touches nothing)."""
    if not str(out).strip():
        raise ValueError("--out: the output folder name is empty")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output folder {out} exists and is not a folder")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"cannot write to output folder {out}: {parent} is a file")
            break
    return out


class OutputFolder:
    """An output folder, locked for one run: ``stage`` files, then ``publish`` them as a set.

    ``expected`` names files the run means to write: a folder in the way of one is
    reported on entry, before any work. ``fallback`` says why this run publishes by
    renames (None when it exchanges the folder).
    """

    def __init__(self, out: Path | str, expected: Iterable[str] = ()):
        self.path = check_folder(out)
        self.expected = tuple(expected)
        self.fallback: str | None = None
        self._created: Path | None = None  # the outermost folder this run made
        self._real = self.path  # the folder itself, links in the path resolved
        self._parent_fd: int | None = None
        self._fd: int | None = None
        self._stage_fd: int | None = None
        self._stage_name: str | None = None
        self._beside = False  # the staging folder is beside the output folder, not in it
        self._names: list[str] = []
        self.published = False

    def __enter__(self) -> OutputFolder:
        try:
            self._open()
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._close()

    def _open(self) -> None:
        out = self.path
        missing = [p for p in (out, *out.parents) if not p.exists()]
        try:
            out.mkdir(parents=True, exist_ok=True)
            self._created = missing[-1] if missing else None
            self._real = Path(os.path.realpath(out))
            if self._real.name:
                self._parent_fd = os.open(self._real.parent, _FOLDER)
            self._lock()
        except FolderBusy:
            self._created = None  # the other run's folder: not ours to remove
            raise
        except OSError as error:
            raise OutputError(describe(error, "cannot make output folder", out)) from None
        assert self._fd is not None
        try:
            renames.recover(self._fd, out)
            if self._parent_fd is not None:
                exchange.recover(self._parent_fd, self._real.name, self._fd, self._real.parent)
            self._make_staging()
        except OSError as error:
            raise OutputError(describe(error, "cannot write to output folder", out)) from None
        sets.refuse_folders_in_the_way(self._fd, out, self.expected)

    def _lock(self) -> None:
        """Open and lock the folder that is at the name now (see the module text)."""
        for _ in range(_LOOKS):
            if self._parent_fd is None:
                fd = os.open(self._real, _FOLDER)
            else:
                fd = os.open(self._real.name, _FOLDER, dir_fd=self._parent_fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise FolderBusy(f"output folder {self.path} is in use by another symbp run; "
                                 "run again when it has finished") from None
            if self._parent_fd is None or safe_paths.same_entry(self._real.name,
                                                                self._parent_fd, os.fstat(fd)):
                self._fd = fd
                return
            os.close(fd)  # exchanged while we took it: the run that did so has finished
        raise FolderBusy(f"output folder {self.path} keeps being replaced; run again later")

    def _make_staging(self) -> None:
        assert self._fd is not None
        try:
            exchange.check_possible(self._parent_fd, self._fd)
            assert self._parent_fd is not None
            self._stage_name, self._stage_fd = exchange.make_staging(
                self._parent_fd, self._real.name, self._real.parent)
            self._beside = True
            return
        except exchange.CannotExchange as why:
            self.fallback = (f"{self.path} is published file by file, not in one step: "
                             f"{why}")
        while self._stage_fd is None:
            name = f"{STAGE_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
            try:
                os.mkdir(name, 0o700, dir_fd=self._fd)
            except FileExistsError:
                continue
            self._stage_name = name
            self._stage_fd = safe_paths.open_folder(name, self._fd, private=True,
                                                    shown=self.path / name)

    @property
    def staging(self) -> Path:
        """The staging folder, private to this run; pdflatex may work in it too."""
        assert self._stage_name is not None, "the folder is not open"
        return (self._real.parent if self._beside else self.path) / self._stage_name

    def stage(self, files: dict[str, bytes]) -> None:
        """Write files into the staging folder; nothing in the folder itself changes yet."""
        assert self._stage_fd is not None, "the folder is not open"
        for name, data in files.items():
            if not sets.is_set_name(name):
                raise ValueError(f"not a file name symbp writes: {name!r}")
            try:
                safe_paths.write_new(name, data, self._stage_fd)
            except OSError as error:
                raise OutputError(describe(error, "cannot write", self.path / name)) from None
            if name not in self._names:
                self._names.append(name)

    def publish(self) -> list[Path]:
        """Put every staged file in place as one set (see the module text); their paths."""
        assert self._fd is not None, "the folder is not open"
        assert self._stage_fd is not None, "the folder is not open"
        names = sorted(self._names)
        if self._beside:
            self._exchange(names)
        else:
            self._rename(names)
        return [self.path / name for name in self._names]

    def _exchange(self, names: list[str]) -> None:
        fd, stage_fd, parent_fd = self._fd, self._stage_fd, self._parent_fd
        assert fd is not None
        assert stage_fd is not None
        assert parent_fd is not None
        assert self._stage_name is not None
        later = exchange.prepare(fd, stage_fd, self.path, names)
        with held_signals():  # a Ctrl-C from here is reported once the set is out
            try:
                self._stage_name = exchange.complete(parent_fd, self._stage_name, stage_fd,
                                                     fd, names, self.path)
            except OSError as error:
                raise OutputError(describe(error, "cannot write to output folder",
                                           self.path)) from None
            pause = sets.pause_at()
            step = sets.paused(pause, 0, f"the new folder is complete as {self._stage_name}")
            try:
                safe_paths.exchange(self._stage_name, self._real.name, parent_fd)
            except OSError as error:  # nothing changed: the earlier set is still there
                raise OutputError(describe(error, "cannot publish into", self.path)) from None
            # the staging folder is the output folder now, and the earlier one is at its name
            step = sets.paused(pause, step, f"exchanged {self._stage_name} and "
                                            f"{self._real.name}")
            step = exchange.move_back(later, fd, stage_fd, pause, step)
            self._fd, self._stage_fd = stage_fd, fd
            self.published = True
            published.append(self.path)
            _follow(fd, stage_fd)
            with contextlib.suppress(OSError):  # the set is out; the next run tidies the rest
                exchange.retire(parent_fd, self._stage_name, fd, stage_fd, pause, step)
            self._forget_staging()

    def _rename(self, names: list[str]) -> None:
        fd, stage_fd = self._fd, self._stage_fd
        assert fd is not None
        assert stage_fd is not None
        earlier = renames.prepare(fd, stage_fd, self.path, names)
        with held_signals():  # a Ctrl-C from here is reported once the set is out
            try:  # the manifest last: from here the staging folder is complete
                safe_paths.write_new(MANIFEST, sets.manifest_of(names), stage_fd)
            except OSError as error:
                raise OutputError(describe(error, "cannot write", self.path / MANIFEST)) \
                    from None
            try:
                renames.switch(fd, stage_fd, names, earlier)
            except OSError as error:  # rare: a rename failed; left for the next run to finish
                self._forget_staging()
                raise OutputError(describe(error, "publishing failed part-way at",
                                           self.path / (error.filename or "")) +
                                  "; the next symbp run on this folder completes it") from None
            self.published = True
            published.append(self.path)
            self._remove_staging()

    def _remove_staging(self) -> None:
        where = self._parent_fd if self._beside else self._fd
        if self._stage_name is not None and where is not None:
            safe_paths.remove(self._stage_name, where)
        self._forget_staging()

    def _forget_staging(self) -> None:
        if self._stage_fd is not None:
            os.close(self._stage_fd)
        self._stage_fd, self._stage_name = None, None

    def _close(self) -> None:
        self._remove_staging()  # staged but never published: gone, as if never made
        if self._fd is not None:
            if not self.published and self._created is not None:
                _remove_empty(self.path, self._created)
            os.close(self._fd)  # releases the lock
            self._fd = None
        if self._parent_fd is not None:
            os.close(self._parent_fd)
            self._parent_fd = None


def _follow(earlier_fd: int, fd: int) -> None:
    """If this process works in the folder just exchanged away, move it to the new one (a
    shell standing there cannot be moved: it stays in the earlier folder, then removed)."""
    try:
        here, earlier = os.stat("."), os.fstat(earlier_fd)
    except OSError:
        return
    if (here.st_dev, here.st_ino) == (earlier.st_dev, earlier.st_ino):
        os.fchdir(fd)


def _remove_empty(folder: Path, outermost: Path) -> None:
    """Remove ``folder`` and its parents up to ``outermost`` as long as they are empty."""
    for path in (folder, *folder.parents):
        try:
            path.rmdir()
        except OSError:
            return
        if path == outermost:
            return


def commit(out: Path | str, files: dict[str, bytes]) -> list[Path]:
    """Write ``files`` into ``out`` as one set (locking, staging, publishing); their paths."""
    with OutputFolder(out, files) as folder:
        folder.stage(files)
        return folder.publish()

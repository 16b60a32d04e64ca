"""Writing an output folder as one set: a run's files all appear, or none of them do.

A run locks the folder (``flock`` on the folder itself) before any work, so a second
run into the same folder is refused at once instead of mixing its files in. Files are
written into a staging folder inside it (one filesystem, so renames are atomic):

1. every file is written to ``.symbp-stage-<pid>-*/``; the manifest, the list of the
   set's names, is written last: a staging folder holding a manifest is complete;
2. with SIGINT and SIGTERM held back, each file is renamed into place, the files the
   previous manifest lists and the new one does not are removed (files symbp did not
   write are never listed, so never touched), the manifest is renamed into place and
   the staging folder removed.

Ctrl-C or an error before step 2 leaves the folder as it was. A run killed outright
(SIGKILL) leaves its staging folder behind: the next run on the folder, holding the
lock, finishes a complete one (roll forward) and removes an incomplete one before
anything else. Folders this run created are removed again when it publishes nothing.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

MANIFEST = ".symbp-manifest"  # the names of the files symbp wrote here, one a line
STAGE_PREFIX = ".symbp-stage-"
published: list[Path] = []  # folders this process has published into (for the CLI's messages)

_HINTS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
          errno.EFBIG: "a file-size limit (ulimit -f) is set too low",
          errno.EROFS: "the filesystem is read-only"}


class OutputError(Exception):
    """The environment stopped the writing (disk full, not writable, busy): one line."""


class FolderBusy(OutputError):
    """Another symbp run holds the folder's lock."""


def describe(error: OSError, action: str = "cannot write", path: object = None) -> str:
    """One line for an OSError: what failed, where, why, and a hint when there is one."""
    where = path if path is not None else error.filename
    reason = error.strerror or str(error)
    hint = _HINTS.get(error.errno or 0)
    return f"{action} {where}: {reason}" + (f" ({hint})" if hint else "")


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
    reported on entry, before any work.
    """

    def __init__(self, out: Path | str, expected: Iterable[str] = ()):
        self.path = check_folder(out)
        self.expected = tuple(expected)
        self._created: Path | None = None  # the outermost folder this run made
        self._fd: int | None = None
        self._staging: Path | None = None
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
            self._fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as error:
            raise OutputError(describe(error, "cannot make output folder", out)) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd, self._created = None, None  # the other run's folder: not ours to remove
            raise FolderBusy(f"output folder {out} is in use by another symbp run; "
                             "run again when it has finished") from None
        try:
            recover(out)
            probe = Path(tempfile.mkdtemp(prefix=f"{STAGE_PREFIX}{os.getpid()}-", dir=out))
            probe.rmdir()
        except OSError as error:
            raise OutputError(describe(error, "cannot write to output folder", out)) from None
        for name in self.expected:
            if (out / name).is_dir() and not (out / name).is_symlink():
                raise OutputError(f"cannot write {out / name}: a folder of that name is in "
                                  "the way")

    @property
    def staging(self) -> Path:
        """The staging folder (made on first use); pdflatex may work in it too."""
        if self._staging is None:
            try:
                self._staging = Path(tempfile.mkdtemp(prefix=f"{STAGE_PREFIX}{os.getpid()}-",
                                                      dir=self.path))
            except OSError as error:
                raise OutputError(describe(error, "cannot write to output folder",
                                           self.path)) from None
        return self._staging

    def stage(self, files: dict[str, bytes]) -> None:
        """Write files into the staging folder; nothing in the folder itself changes yet."""
        for name, data in files.items():
            if "/" in name or name in ("", ".", "..", MANIFEST) or name.startswith(STAGE_PREFIX):
                raise ValueError(f"not a file name symbp writes: {name!r}")
            _write(self.staging / name, data, self.path / name)
            if name not in self._names:
                self._names.append(name)

    def publish(self) -> list[Path]:
        """Put every staged file in place at once (see the module text); their paths."""
        names = sorted(self._names)
        for name in names:
            if (self.path / name).is_dir() and not (self.path / name).is_symlink():
                raise OutputError(f"cannot write {self.path / name}: a folder of that name is "
                                  "in the way")
        staging = self.staging
        with held_signals():
            # the manifest last: from here the staging folder is complete
            _write(staging / MANIFEST, "".join(f"{n}\n" for n in names).encode(),
                   self.path / MANIFEST)
            try:
                _roll_forward(self.path, staging)
            except OSError as error:  # rare: a rename failed; left for the next run to finish
                self._staging = None
                raise OutputError(describe(error, "publishing failed part-way at") +
                                  "; the next symbp run on this folder completes it") from None
            self.published = True
            self._staging = None
            published.append(self.path)
        return [self.path / name for name in self._names]

    def _close(self) -> None:
        if self._staging is not None:  # staged but never published: gone, as if never made
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None
        if self._fd is not None:
            if not self.published and self._created is not None:
                _remove_empty(self.path, self._created)
            os.close(self._fd)  # releases the lock
            self._fd = None


def recover(out: Path) -> None:
    """Finish or remove what runs killed in ``out`` left behind; call only under the lock."""
    for staging in sorted(out.glob(f"{STAGE_PREFIX}*")):
        if not staging.is_dir():
            continue
        if (staging / MANIFEST).is_file():
            with held_signals():
                _roll_forward(out, staging)
        else:
            shutil.rmtree(staging, ignore_errors=True)


def read_manifest(folder: Path) -> list[str]:
    """The names a manifest in ``folder`` lists (none if there is none)."""
    try:
        text = (folder / MANIFEST).read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return []
    return [n for n in text.splitlines() if n and "/" not in n and n not in (".", "..")]


def _roll_forward(out: Path, staging: Path) -> None:
    """Publish a complete staging folder; safe to repeat after being cut short."""
    new = read_manifest(staging)
    for name in new:
        if (staging / name).exists():
            os.replace(staging / name, out / name)
    for name in set(read_manifest(out)) - set(new):  # files of the earlier set only
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            (out / name).unlink()
    os.replace(staging / MANIFEST, out / MANIFEST)
    shutil.rmtree(staging, ignore_errors=True)


def _write(path: Path, data: bytes, shown: Path) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError as error:
        raise OutputError(describe(error, "cannot write", shown)) from None


def _remove_empty(folder: Path, outermost: Path) -> None:
    """Remove ``folder`` and its parents up to ``outermost`` as long as they are empty."""
    for path in (folder, *folder.parents):
        try:
            path.rmdir()
        except OSError:
            return
        if path == outermost:
            return


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


def commit(out: Path | str, files: dict[str, bytes]) -> list[Path]:
    """Write ``files`` into ``out`` as one set (locking, staging, publishing); their paths."""
    with OutputFolder(out, files) as folder:
        folder.stage(files)
        return folder.publish()

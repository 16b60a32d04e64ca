"""Writing an output folder as one set: a run's files are published together, or not at all.

A run locks the folder (``flock`` on the folder itself) before any work, so a second run
into it is refused at once instead of mixing its files in. Every name inside the folder is
reached through the folder's descriptor, never through a symbolic link
(``core.safe_paths``). The run writes its files into a private staging folder inside the
output folder (one filesystem, so a rename is atomic), then publishes them:

1. before anything in the folder changes: a folder in the way of a file is refused, the
   earlier manifest (the list of the files symbp wrote there) is read, the files to be
   replaced get second names in the staging folder (so the window frees no disk space),
   and, with SIGINT and SIGTERM held back from here, the new manifest is written into the
   staging folder, last: a staging folder that holds a manifest is complete;
2. the window: each new file is renamed into place, in the order of the names; the files
   of the earlier set that the new one lacks are removed; the new manifest is renamed into
   place. Nothing else happens in the window (no reading, no writing, no checking), so it
   lasts a few renames;
3. the staging folder, holding only the second names now, is removed.

Why not one atomic switch: it needs the files to live elsewhere than at their names, in a
versioned folder reached through symbolic links (GitHub then shows the committed
``output/default/graph.svg`` as a link), or the whole output folder exchanged for a new one
with ``renameat2(RENAME_EXCHANGE)``, which moves the user's own files and folders along or
leaves them behind, strands every shell whose working folder is the output folder in a
deleted one, and loses the lock, which lives on the folder. So a reader who looks inside
the window sees a mix, in a known order (README, "Outputs"); one who looks before or after
sees one set. Each file is whole at every instant: the earlier file or the new one.

An error before step 2, or Ctrl-C before the manifest is written, leaves the folder as it
was; a Ctrl-C after it is delivered once the set is out. A run killed outright
(SIGKILL) leaves its staging folder behind: the next run on the folder, holding the lock,
finishes a complete one (rolls forward, the same three steps) and removes an incomplete
one before anything else. A leftover that is a symbolic link is removed (the link only);
one that another user owns or others may write is refused, never published. Folders this
run created are removed again when it publishes nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import signal
import stat
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..core import safe_paths
from ..core.safe_paths import UnsafeFolder
from .exits import describe

MANIFEST = ".symbp-manifest"  # the names of the files symbp wrote here, one a line
STAGE_PREFIX = ".symbp-stage-"
EARLIER = "earlier"  # in a staging folder: second names of the files the window replaces
MAX_MANIFEST_BYTES = 64 * 1024  # a manifest lists a dozen names; a larger file is not one
PAUSE = "SYMBP_TEST_PAUSE_PUBLISH"  # test hook: "STEP,SECONDS" to pause inside the window
published: list[Path] = []  # folders this process has published into (for the CLI's messages)

class OutputError(Exception):
    """The environment stopped the writing (disk full, not writable, busy): one line."""


class FolderBusy(OutputError):
    """Another symbp run holds the folder's lock."""


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


def _is_set_name(name: str) -> bool:
    """A name a set may hold: one component, not the manifest, not a staging folder."""
    return bool(name) and "/" not in name and "\0" not in name and \
        name not in (".", "..", MANIFEST) and not name.startswith(STAGE_PREFIX)


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
        self._stage_fd: int | None = None
        self._stage_name: str | None = None
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
            self._fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
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
            recover(self._fd, out)
            self._make_staging()
        except OSError as error:
            raise OutputError(describe(error, "cannot write to output folder", out)) from None
        _refuse_folders_in_the_way(self._fd, out, self.expected)

    def _make_staging(self) -> None:
        assert self._fd is not None
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
        return self.path / self._stage_name

    def stage(self, files: dict[str, bytes]) -> None:
        """Write files into the staging folder; nothing in the folder itself changes yet."""
        assert self._stage_fd is not None, "the folder is not open"
        for name, data in files.items():
            if not _is_set_name(name):
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
        earlier = _prepare(self._fd, self._stage_fd, self.path, names)
        with held_signals():  # a Ctrl-C from here is reported once the set is out
            try:  # the manifest last: from here the staging folder is complete
                safe_paths.write_new(MANIFEST, "".join(f"{n}\n" for n in names).encode(),
                                     self._stage_fd)
            except OSError as error:
                raise OutputError(describe(error, "cannot write", self.path / MANIFEST)) \
                    from None
            try:
                _switch(self._fd, self._stage_fd, names, earlier)
            except OSError as error:  # rare: a rename failed; left for the next run to finish
                self._forget_staging()
                raise OutputError(describe(error, "publishing failed part-way at",
                                           self.path / (error.filename or "")) +
                                  "; the next symbp run on this folder completes it") from None
            self.published = True
            published.append(self.path)
            self._remove_staging()
        return [self.path / name for name in self._names]

    def _remove_staging(self) -> None:
        if self._stage_name is not None and self._fd is not None:
            safe_paths.remove(self._stage_name, self._fd)
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
                earlier = _prepare(fd, stage_fd, out, names)
                with held_signals():
                    _switch(fd, stage_fd, names, earlier)
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
        if not _is_set_name(name):
            return None
        found = safe_paths.entry(name, stage_fd)
        if found is not None and not stat.S_ISREG(found.st_mode):
            return None
    return names


def read_manifest(fd: int) -> list[str]:
    """The names the manifest in the folder ``fd`` lists: none when there is no regular,
    readable, UTF-8 manifest of sensible size (a link, a FIFO or a folder is never read)."""
    data = safe_paths.read_regular(MANIFEST, fd, MAX_MANIFEST_BYTES)
    try:
        text = data.decode("utf-8") if data is not None else ""
    except UnicodeDecodeError:
        return []
    return [n for n in text.splitlines() if _is_set_name(n)]


def _refuse_folders_in_the_way(fd: int, out: Path, names: Iterable[str]) -> None:
    for name in names:
        if safe_paths.is_folder(name, fd):
            raise OutputError(f"cannot write {out / name}: a folder of that name is in the way")


def _prepare(fd: int, stage_fd: int, out: Path, names: list[str]) -> list[str]:
    """Everything done before the window: no folder in the way of a name or of the manifest;
    the names of the earlier set, read now, before anything moves (returned); second names
    for the files the window will replace or remove."""
    _refuse_folders_in_the_way(fd, out, [*names, MANIFEST])
    earlier = read_manifest(fd)
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


def _switch(fd: int, stage_fd: int, names: list[str], earlier: list[str]) -> None:
    """The window (call with signals held): the new files in place (in name order), the
    earlier set's other files removed, the manifest in place; safe to repeat after being
    cut short."""
    pause = _pause_at()
    step = 0
    for name in names:
        if safe_paths.entry(name, stage_fd) is not None:  # absent: published before a kill
            os.replace(name, name, src_dir_fd=stage_fd, dst_dir_fd=fd)
        step = _paused(pause, step, f"renamed {name}")
    for name in sorted(set(earlier) - set(names)):  # files of the earlier set only
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
            os.unlink(name, dir_fd=fd)
        step = _paused(pause, step, f"removed {name}")
    os.replace(MANIFEST, MANIFEST, src_dir_fd=stage_fd, dst_dir_fd=fd)
    _paused(pause, step, "renamed the manifest")


def _pause_at() -> tuple[int, float]:
    """``SYMBP_TEST_PAUSE_PUBLISH=STEP,SECONDS``: the step of the window to pause after, and
    for how long; (0, 0) when unset or unreadable."""
    step, _, seconds = os.environ.get(PAUSE, "").partition(",")
    try:
        return int(step), max(0.0, float(seconds))
    except ValueError:
        return 0, 0.0


def _paused(pause: tuple[int, float], step: int, what: str) -> int:
    """Test hook (``SYMBP_TEST_PAUSE_PUBLISH``): say which step of the window is done, and
    pause after the one asked for, so that a test can kill the run at a known instant."""
    if pause[0]:
        with contextlib.suppress(OSError):
            os.write(2, f"publish step {step + 1}: {what}\n".encode())
        if step + 1 == pause[0]:
            time.sleep(pause[1])
    return step + 1


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


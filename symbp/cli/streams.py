"""Standard output and error of the ``symbp`` command, made safe to lose.

A closed descriptor (``>&-``, ``2>&-``) is opened on /dev/null before anything else is
opened, so no file symbp writes (or a pdflatex it starts) can take its number; what would
have gone there is dropped. A reader that goes away (``symbp prove | head -1``) makes the
rest of the output vanish instead of raising, so the command still ends with its own exit
code. Any other failure to write (a full disk) raises an OSError that names the stream.
Only the standard library is imported here: this runs while symbp starts.
"""

from __future__ import annotations

import io
import os
import sys

NAMES = {1: "standard output", 2: "standard error"}


class _Stream(io.RawIOBase):
    """A descriptor written to directly: past a reader that left, writes are dropped."""

    def __init__(self, fd: int):
        super().__init__()
        self.fd = fd
        self.reader_gone = False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return os.isatty(self.fd)

    def write(self, data) -> int:  # type: ignore[override]
        """Write all of ``data`` (TextIOWrapper ignores a short count)."""
        view = memoryview(data)
        while view and not self.reader_gone:
            try:
                view = view[os.write(self.fd, view):]
            except BrokenPipeError:
                self.reader_gone = True
            except OSError as error:
                raise OSError(error.errno, error.strerror, NAMES[self.fd]) from None
        return len(data)


def guard() -> None:
    """Reopen closed standard descriptors on /dev/null, and make stdout and stderr streams
    that tolerate a reader leaving (see the module text). For the ``symbp`` command only."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    for fd, name in ((1, "stdout"), (2, "stderr")):
        old = getattr(sys, name)
        encoding = getattr(old, "encoding", None) or "utf-8"
        # no BufferedWriter between: a Ctrl-C at the end of a write would leave it holding
        # the bytes just written, to write them again; TextIOWrapper drops them first
        buffered = fd == 1 and not os.isatty(fd)  # a terminal or stderr: every line at once
        stream = io.TextIOWrapper(_Stream(fd), encoding=encoding,  # type: ignore[type-var]
                                  errors="surrogateescape" if fd == 1 else "backslashreplace",
                                  line_buffering=not buffered, write_through=fd == 2)
        setattr(sys, name, stream)


def flush() -> None:
    """Flush stdout, so that a failure to write it is raised while it can still be reported."""
    if sys.stdout is not None:
        sys.stdout.flush()

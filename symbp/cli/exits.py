"""How a command ends: every exception, in one table, becomes one exit code and one line.

``ENDINGS`` is the table: a class (named by module and class), the exit code, and what to
say. The first row whose class the exception is an instance of decides. A class is looked
up only in modules already imported (an exception of a class whose module was never
imported cannot exist), so the table also serves while symbp is still starting, when
``main`` has not run yet and the imports themselves may fail. Only the standard library
is imported here.
"""

from __future__ import annotations

import errno
import os
import resource
import sys
from collections.abc import Callable

EXIT_PROVED, EXIT_NOT_PROVED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_ENVIRONMENT, EXIT_INTERNAL, EXIT_INTERRUPTED = 3, 4, 130
EXIT_CODES = ("exit codes: 0 proved, 1 not proved (a failure or a timeout), 2 bad input,\n"
              "  3 environment (disk full, folder not writable or busy, file-size limit,\n"
              "  memory, pdflatex failed), 4 internal error, 130 interrupted")
WRITERS = ("derive", "train", "swell", "check")  # the commands that write an output folder


class BadInput(Exception):
    """Raised for anything the user can fix; becomes one line on stderr and exit 2."""


class Run:
    """What the line about an ending needs to know of the command (a plain class: dataclasses
    would slow the start, before Ctrl-C is handled)."""

    def __init__(self, command: str | None = None, timeout: float | None = None,
                 published: list | None = None, starting: bool = False):
        self.command, self.timeout = command, timeout
        self.published = [] if published is None else published  # folders, in order
        self.starting = starting  # still importing: main has not run


def command_of(argv: list[str]) -> str | None:
    """The command named in ``argv`` (the first word that is not an option), before parsing."""
    return next((word for word in argv if not word.startswith("-")), None)


def memory_limit() -> int | None:
    """The address-space limit (``ulimit -v``) in bytes, None when there is none."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft


# ---------------------------------------------------------------- what each ending says


def _error(error: BaseException, run: Run) -> str:
    return f"error: {error}"


def _timed_out(error: BaseException, run: Run) -> str:
    unchanged = "; earlier outputs are unchanged" if run.command in WRITERS else ""
    return f"timed out after {run.timeout:g} s (--timeout){unchanged}"


def _interrupted(error: BaseException, run: Run) -> str:
    if run.published:
        return f"interrupted after writing {run.published[-1]}"
    if run.command in WRITERS:
        return "interrupted; earlier outputs are unchanged"
    return "interrupted"


def _latex(error: BaseException, run: Run) -> str:
    first, *rest = [line.strip() for line in str(error).splitlines() if line.strip()] or [""]
    return f"error: {' '.join([first, ' | '.join(rest)])}".rstrip()


def _os_error(error: BaseException, run: Run) -> str:
    assert isinstance(error, OSError)
    return f"error: {describe(error)}"


def _memory(error: BaseException, run: Run) -> str:
    limit = memory_limit()
    during = " while starting" if run.starting else ""
    if limit is None:
        return f"error: out of memory{during}"
    return (f"error: out of memory{during} under the memory limit of {limit // 2**20:,} MiB "
            "(ulimit -v)")


def _internal(error: BaseException, run: Run) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return (f"internal error: {type(error).__name__}: {text} (this is a bug; "
            "SYMBP_TRACEBACK=1 shows where)")


_HINTS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
          errno.EFBIG: "a file-size limit (ulimit -f) is set too low",
          errno.EROFS: "the filesystem is read-only"}


def describe(error: OSError, action: str = "", path: object = None) -> str:
    """One line for an OSError: what failed, where, why, and a hint when there is one."""
    where = path if path is not None else error.filename
    reason = error.strerror or str(error)
    hint = _HINTS.get(error.errno or 0)
    said = " ".join(str(part) for part in (action, where) if part is not None and part != "")
    return (f"{said}: " if said else "") + reason + (f" ({hint})" if hint else "")


Say = Callable[[BaseException, Run], str]
ENDINGS: list[tuple[str, int, Say]] = [  # (module.Class, exit code, what to say): first match
    ("symbp.cli.exits.BadInput", EXIT_BAD_INPUT, _error),
    ("symbp.core.deadline.TimedOut", EXIT_NOT_PROVED, _timed_out),
    ("builtins.KeyboardInterrupt", EXIT_INTERRUPTED, _interrupted),
    ("symbp.cli.outputs.OutputError", EXIT_ENVIRONMENT, _error),  # disk, folder, lock
    ("symbp.core.safe_paths.UnsafeFolder", EXIT_ENVIRONMENT, _error),  # someone else's folder
    ("symbp.render.latex.LatexError", EXIT_ENVIRONMENT, _latex),  # pdflatex failed
    ("builtins.MemoryError", EXIT_ENVIRONMENT, _memory),
    ("builtins.OSError", EXIT_ENVIRONMENT, _os_error),  # e.g. standard output on a full disk
    ("builtins.BaseException", EXIT_INTERNAL, _internal),  # a bug
]


def ending(error: BaseException, run: Run) -> tuple[int, str]:
    """The exit code and the line (without "symbp: ") for ``error``. Under a memory limit a
    library that fails to load once symbp runs (numba loads llvmlite on first use, and says
    it "could not find" it) is taken for the shortage, as while starting."""
    if memory_limit() is not None and (isinstance(error, ImportError) or
                                       (type(error) is OSError and error.errno is None)):
        error = MemoryError(str(error))
    for name, code, say in ENDINGS:
        module, _, cls = name.rpartition(".")
        found = getattr(sys.modules.get(module), cls, None)
        if isinstance(found, type) and isinstance(error, found):
            return code, say(error, run)
    return EXIT_INTERNAL, _internal(error, run)  # not reached: BaseException matches all


def report(line: str) -> None:
    """``symbp: line`` on stderr as one line (control characters escaped); never raises, and
    says nothing when there is no stderr to say it on."""
    one = "".join(c if c.isprintable() or c == "\t" else repr(c)[1:-1] for c in line)
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write(f"symbp: {one}\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def startup_failure(kind: type, error: BaseException, traceback: object) -> None:
    """``sys.excepthook`` while the ``symbp`` command starts: an exception from the imports
    ends the process here, with its exit code and one line instead of a traceback. Under a
    memory limit any such failure is taken for the shortage it almost always is (a library
    that cannot map itself fails in many ways)."""
    if memory_limit() is not None and not isinstance(error, KeyboardInterrupt | SystemExit):
        error = MemoryError(str(error))
    if isinstance(error, SystemExit):
        sys.__excepthook__(kind, error, traceback)  # type: ignore[arg-type]
        return
    code, line = ending(error, Run(command_of(sys.argv[1:]), starting=True))
    report(line)
    os._exit(code)

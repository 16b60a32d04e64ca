"""pdflatex: a LaTeX document in, PDF bytes out, in a temporary folder; errors as short excerpts."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

LATEX_RUNS = 3  # pdflatex passes at most; one is enough unless the log asks for a rerun
# How the log asks: cross-references, labels, and longtable's column widths, which settle
# only on the pass after the one that measured them.
RERUN_ASKS = ("Rerun to get", "Label(s) may have changed", "Table widths have changed")
DEFAULT_TIMEOUT = 120.0  # seconds for all passes together
TEMP_PREFIX = "symbp-latex-"  # TMPDIR folders: symbp-latex-<pid>-<random>
# On Linux pdflatex is started through this: it asks for SIGKILL when symbp dies (even by
# SIGKILL), then becomes pdflatex; the request survives exec. A separate program, not a
# preexec_fn, which would make subprocess fork the whole interpreter with its threads.
_DIE_WITH_PARENT = """
import ctypes, os, sys
ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
if os.getppid() != int(sys.argv[1]):  # symbp died before the request was made
    sys.exit(1)
os.execv(sys.argv[2], sys.argv[2:])
"""


class LatexNotFound(RuntimeError):
    """No pdflatex on PATH."""


class LatexError(RuntimeError):
    """pdflatex failed; the message is the error excerpt of its log, not the whole log."""

@dataclass(frozen=True)
class Compiled:
    """A compiled document: the PDF bytes and the log of the last pdflatex pass."""

    pdf: bytes
    log: str

    @property
    def overfull(self) -> list[str]:
        """The log's "Overfull \\hbox" warnings: lines that run into the margin."""
        return [line for line in self.log.splitlines() if line.startswith("Overfull \\hbox")]


MISSING_PDFLATEX = ("pdflatex was not found, so no PDF; install TeX Live "
                    "(Debian: apt-get install texlive-latex-recommended)")


def missing_compiler_note() -> str | None:
    """None when pdflatex is on PATH, else what to install (checked before any work)."""
    return None if shutil.which("pdflatex") else MISSING_PDFLATEX


def compile_pdf(tex: str, *, timeout: float = DEFAULT_TIMEOUT,
                workdir: Path | None = None) -> bytes:
    """Compile a LaTeX document with pdflatex and return the PDF bytes (see ``compile_tex``)."""
    return compile_tex(tex, timeout=timeout, workdir=workdir).pdf


def compile_tex(tex: str, *, timeout: float = DEFAULT_TIMEOUT,
                workdir: Path | None = None) -> Compiled:
    """Compile a LaTeX document with pdflatex in a temporary folder.

    The folder is made inside ``workdir`` when given (``symbp derive`` passes the staging
    folder of its outputs, which its next run sweeps even after a SIGKILL), else in TMPDIR
    as ``symbp-latex-<pid>-*``; folders there of processes that have died are swept first.
    ``timeout`` bounds all passes together. pdflatex runs in its own process group, killed
    on any exception (a timeout, Ctrl-C) and, on Linux, when this process dies.

    Raises LatexNotFound without pdflatex on PATH, LatexError (with a short log
    excerpt) when compilation fails. Dates and the PDF ID are pinned through
    SOURCE_DATE_EPOCH, so the same .tex gives the same bytes.
    """
    return compile_all([tex], timeout=timeout, workdir=workdir)[0]


def compile_all(texs: list[str], *, timeout: float = DEFAULT_TIMEOUT,
                workdir: Path | None = None) -> list[Compiled]:
    """Several independent documents at once, one pdflatex each, side by side (as
    ``compile_tex`` does one): on two cores two documents take the time of one."""
    exe = shutil.which("pdflatex")
    if exe is None:
        raise LatexNotFound(MISSING_PDFLATEX)
    if workdir is None:
        sweep_stale_folders()
        parent, prefix = None, f"{TEMP_PREFIX}{os.getpid()}-"
    else:
        parent, prefix = str(workdir), "latex-"
    folders: list[Path] = []
    try:
        for tex in texs:
            folders.append(Path(tempfile.mkdtemp(prefix=prefix, dir=parent)))
            (folders[-1] / "derivation.tex").write_text(tex, encoding="utf-8")
        return _compile_in(folders, exe, time.monotonic() + timeout, timeout)
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


def _compile_in(folders: list[Path], exe: str, until: float, timeout: float) -> list[Compiled]:
    env = {**os.environ, "SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1"}
    running = {n: (_start_pdflatex(exe, folder, env), 1) for n, folder in enumerate(folders)}
    done: dict[int, Compiled] = {}
    try:
        while running:
            n = min(running)
            process, passes = running.pop(n)
            log = _finish_pdflatex(process, folders[n], until, timeout)
            if passes < LATEX_RUNS and any(ask in log for ask in RERUN_ASKS):
                running[n] = (_start_pdflatex(exe, folders[n], env), passes + 1)
            else:
                done[n] = Compiled((folders[n] / "derivation.pdf").read_bytes(), log)
    except BaseException:  # a failure, a deadline, Ctrl-C: no pdflatex outlives the call
        for process, _ in running.values():
            _kill_group(process)
        raise
    return [done[n] for n in range(len(folders))]


def _start_pdflatex(exe: str, folder: Path, env: dict) -> subprocess.Popen:
    command = [exe, "-interaction=nonstopmode", "-halt-on-error", "derivation.tex"]
    if sys.platform.startswith("linux") and sys.executable:
        command = [sys.executable, "-I", "-S", "-c", _DIE_WITH_PARENT, str(os.getpid()), *command]
    with open(folder / "stdout.txt", "wb") as stdout:  # a file: a full pipe would block it
        return subprocess.Popen(command, cwd=folder, env=env, stdin=subprocess.DEVNULL,
                                stdout=stdout, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _finish_pdflatex(process: subprocess.Popen, folder: Path, until: float,
                     timeout: float) -> str:
    """Wait for one pass; its log, or LatexError."""
    try:
        process.wait(timeout=max(until - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise LatexError(f"pdflatex did not finish within {timeout:g} s") from None
    except BaseException:
        _kill_group(process)
        raise
    log_file = folder / "derivation.log"
    log = (log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists()
           else (folder / "stdout.txt").read_text(encoding="utf-8", errors="replace"))
    if process.returncode != 0 or not (folder / "derivation.pdf").exists():
        raise LatexError(log_excerpt(log))
    return log


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def sweep_stale_folders() -> None:
    """Remove ``symbp-latex-<pid>-*`` folders in TMPDIR of this user's processes that died."""
    for folder in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*-*"):
        pid = folder.name[len(TEMP_PREFIX):].split("-")[0]
        try:
            if not pid.isdigit() or folder.stat().st_uid != os.getuid() or _alive(int(pid)):
                continue
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def log_excerpt(log: str, limit: int = 12) -> str:
    """The first ``!`` error of a TeX log and the lines that locate it (through ``l.<n>``)."""
    lines = log.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("!")), None)
    if start is None:  # no error line: the end of the log says what happened
        return "pdflatex failed:\n" + "\n".join(lines[-limit:])
    end = min(start + limit, len(lines))
    for i in range(start + 1, end):
        if lines[i].startswith("l."):  # the source line; the next one shows where TeX stopped
            end = min(i + 2, end)
            break
    return "pdflatex failed:\n" + "\n".join(line for line in lines[start:end] if line.strip())

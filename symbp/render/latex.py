"""pdflatex: a LaTeX document in, PDF bytes out, in a temporary folder; errors as short excerpts."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

LATEX_RUNS = 3  # pdflatex passes at most; one is enough unless the log asks for a rerun


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


def compile_pdf(tex: str, *, timeout: float = 120.0) -> bytes:
    """Compile a LaTeX document with pdflatex and return the PDF bytes (see ``compile_tex``)."""
    return compile_tex(tex, timeout=timeout).pdf


def compile_tex(tex: str, *, timeout: float = 120.0) -> Compiled:
    """Compile a LaTeX document with pdflatex in a temporary folder.

    Raises LatexNotFound without pdflatex on PATH, LatexError (with a short log
    excerpt) when compilation fails. Dates and the PDF ID are pinned through
    SOURCE_DATE_EPOCH, so the same .tex gives the same bytes.
    """
    exe = shutil.which("pdflatex")
    if exe is None:
        raise LatexNotFound(MISSING_PDFLATEX)
    env = {**os.environ, "SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1"}
    with tempfile.TemporaryDirectory(prefix="symbp-latex-") as tmp:
        folder = Path(tmp)
        (folder / "derivation.tex").write_text(tex, encoding="utf-8")
        for _ in range(LATEX_RUNS):
            log = _run_pdflatex(exe, folder, env, timeout)
            if "Rerun to get" not in log and "Label(s) may have changed" not in log:
                break
        return Compiled((folder / "derivation.pdf").read_bytes(), log)


def _run_pdflatex(exe: str, folder: Path, env: dict, timeout: float) -> str:
    command = [exe, "-interaction=nonstopmode", "-halt-on-error", "derivation.tex"]
    try:
        result = subprocess.run(command, cwd=folder, env=env, stdin=subprocess.DEVNULL,
                                capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise LatexError(f"pdflatex did not finish within {timeout:g} s") from None
    log_file = folder / "derivation.log"
    log = (log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists()
           else result.stdout.decode(errors="replace"))
    if result.returncode != 0 or not (folder / "derivation.pdf").exists():
        raise LatexError(log_excerpt(log))
    return log


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

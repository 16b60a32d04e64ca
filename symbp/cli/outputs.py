"""Writing output/<name>/ so that an interrupted run never loses or half-writes a file.

Everything is produced in memory first (documents, PDF, code, proof report).
Only then is each file written to a hidden temporary sibling and renamed into
place; a rename within one folder is atomic. Ctrl-C or SIGTERM before that
point leaves every earlier output byte-identical; temporaries of a run killed
outright are swept away by the next run.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

FILENAMES = {
    "tex": "derivation.tex",
    "md": "derivation.md",
    "pdf": "derivation.pdf",
    "json": "proof.json",
    "py": "gradients.py",
    "numba": "gradients_numba.py",
}  # and "figures": graph.tex, graph.svg, swell.svg (see symbp.render.figures.figure_files)
TEMP_MARK = ".symbp-"  # in every temporary file name: ".derivation.tex.symbp-k2j3.tmp"


def writable_folder(out: Path) -> Path:
    """Create ``out`` if needed and check that files can be made in it (OSError if not)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"output folder {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    if not os.access(out, os.W_OK | os.X_OK):
        raise PermissionError(f"output folder {out} is not writable")
    return out


def sweep_temporaries(out: Path) -> None:
    """Remove temporaries left by a run that was killed while writing."""
    for stale in Path(out).glob(f".*{TEMP_MARK}*.tmp"):
        stale.unlink(missing_ok=True)


def commit(out: Path, files: dict[str, bytes]) -> list[Path]:
    """Write every file to a temporary sibling, then rename them all into place."""
    out = Path(out)
    staged: list[tuple[str, Path]] = []
    try:
        for name, data in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}{TEMP_MARK}", suffix=".tmp", dir=out)
            staged.append((name, Path(tmp)))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o644)
        written = []
        for name, path in staged:
            os.replace(path, out / name)
            written.append(out / name)
        return written
    finally:
        for _, leftover in staged:
            leftover.unlink(missing_ok=True)


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Write one file atomically."""
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    return commit(path.parent, {path.name: raw})[0]

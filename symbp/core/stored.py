"""What symbp keeps between runs, in one private folder: $SYMBP_CACHE_DIR, else
$XDG_CACHE_HOME/symbp, else ~/.cache/symbp. Compiled gradient modules live there (numba
keeps their machine code beside them), and so do proved theorems (``proof.kept``) and the
counts of the swell table (``figures.kept_swell``).

Everything in it is trusted: code that is run, proofs that are reported. So the folder and
each subfolder must be the user's own and writable by nobody else (``safe_paths``), files
are reached through the folder's descriptor without following links, and a file is written
whole under a temporary name and renamed, so that a concurrent reader finds the old file or
the new one, never half of one.

``version()`` says which symbp wrote a file: a digest of the text of every one of its
modules, so that a change to any of them (an edited install too) makes new names.
"""

from __future__ import annotations

import functools
import hashlib
import os
import secrets
from pathlib import Path

from . import registry, safe_paths
from .layers import KINDS

# symbp's own activations, costs and layer kinds, the objects as defined when symbp was
# imported: their text is in ``version()``, so what is kept about them names them fully
_OWN = (*registry.ACTIVATIONS.values(), *registry.COSTS.values(), *KINDS.values())


def own(entry: object) -> bool:
    """Whether ``entry`` is one of symbp's own activations, costs or layer kinds (not one a
    user registered or replaced): only what is about those may be kept."""
    return any(entry is o for o in _OWN)


def folder() -> Path:
    """The cache folder: $SYMBP_CACHE_DIR, else $XDG_CACHE_HOME/symbp or ~/.cache/symbp."""
    if os.environ.get("SYMBP_CACHE_DIR"):
        return Path(os.environ["SYMBP_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "symbp"


@functools.cache
def version() -> str:
    """A digest of the text of every module of this symbp (its ``.py`` files, in path order)."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def open_private(subfolder: str) -> int:
    """A descriptor of the cache folder's ``subfolder``, made if need be; UnsafeFolder unless
    both are the user's own and writable by nobody else, OSError when they cannot be made."""
    top = folder()
    top.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = safe_paths.open_folder(top, private=True)
    try:
        return safe_paths.make_private_folder(subfolder, fd, top / subfolder)
    finally:
        os.close(fd)


def read(fd: int, name: str, limit: int) -> bytes | None:
    """The regular file ``name`` in the open folder, or None (absent, not a regular file, or
    longer than ``limit`` bytes)."""
    return safe_paths.read_regular(name, fd, limit)


def write(fd: int, name: str, data: bytes) -> None:
    """``name`` in the open folder holds ``data``, written under another name and renamed."""
    staged = f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    safe_paths.write_new(staged, data, fd)
    try:
        os.replace(staged, name, src_dir_fd=fd, dst_dir_fd=fd)
    except OSError:
        safe_paths.remove(staged, fd)
        raise


def read_kept(subfolder: str, name: str, limit: int) -> bytes | None:
    """The file ``name`` of the private ``subfolder``, or None: absent, not a regular file,
    longer than ``limit`` bytes, or the folder cannot be used (nothing is said: a run that
    finds nothing kept does the work)."""
    try:
        fd = open_private(subfolder)
    except (OSError, safe_paths.UnsafeFolder):
        return None
    try:
        return read(fd, name, limit)
    finally:
        os.close(fd)


def keep(subfolder: str, name: str, data: bytes) -> None:
    """``name`` in the private ``subfolder`` holds ``data``; silently nothing where the folder
    cannot be used."""
    try:
        fd = open_private(subfolder)
    except (OSError, safe_paths.UnsafeFolder):
        return
    try:
        write(fd, name, data)
    except OSError:
        pass
    finally:
        os.close(fd)

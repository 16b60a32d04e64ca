"""A hash seed other than this process's, for the tests that compare what a fresh process makes
with what this one made: two hash seeds (this process's and the other) from one process started,
where two started processes cost two imports of symbp (about a CPU-second each)."""

from __future__ import annotations

import os


def other_seed() -> str:
    """A PYTHONHASHSEED this process does not run under: unset, its seed is random."""
    return "4242" if os.environ.get("PYTHONHASHSEED") != "4242" else "12345"


def other_seed_env(**extra: str) -> dict[str, str]:
    """This process's environment under ``other_seed()``, with ``extra`` variables set."""
    return {**os.environ, **extra, "PYTHONHASHSEED": other_seed()}

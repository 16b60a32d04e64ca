"""The example network files of dense layers, read once per process: ``config.load`` checks a
file's worked example with numbers, and several test modules ask at collection, in every
worker (test_formats.py is even imported twice, as ``test_formats`` and ``tests.test_formats``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from symbp.cli import config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@cache
def dense_examples() -> tuple[Path, ...]:
    """The example files whose network has dense layers only, in name order."""
    return tuple(p for p in sorted(EXAMPLES.glob("*.toml")) if config.load(p).net.dense)

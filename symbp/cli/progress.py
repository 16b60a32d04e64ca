"""Progress on stderr for work that takes more than about a second.

Silent when stderr is not a terminal or with --quiet, so logs and pipes stay clean.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

from tqdm import tqdm

SHOW_AFTER = 1.0  # seconds: quick steps never flash a bar


def wanted(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


@contextmanager
def bar(enabled: bool, description: str, total: int | None = None):
    """A progress bar; yields ``update(done, total)``. With ``total=None``, elapsed time only."""
    with tqdm(total=total, desc=description, file=sys.stderr, disable=not enabled,
              delay=SHOW_AFTER, leave=False, unit="step") as meter:

        def update(what: str, done: int, total: int) -> None:
            meter.total = total
            meter.set_postfix_str(what, refresh=False)
            meter.update(done - meter.n)

        yield update

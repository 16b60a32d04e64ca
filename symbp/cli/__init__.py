"""The ``symbp`` command. The package imports this first, before SymPy and the rest: when
symbp runs as a command (``symbp ...`` or ``python -m symbp``), Ctrl-C or SIGTERM during
that second of imports ends it quietly with exit 130 instead of a traceback. ``main``
installs its own handlers once it runs; importing symbp as a library changes nothing.
The clock of ``--timeout`` starts here too, so it bounds the imports as well. As a command,
symbp also makes its standard streams safe to lose (``streams``), turns a failing import into
one line and an exit code (``exits``), and refuses a memory limit it cannot start under.
"""

import gc
import os
import signal
import sys
import threading
import time

from ..core import limits
from . import exits, streams


def _quit(signum, frame):
    code, line = exits.ending(KeyboardInterrupt(), exits.Run(exits.command_of(sys.argv[1:]),
                                                             starting=True))
    exits.report(line)
    os._exit(code)


def _running_as_command() -> bool:
    argv = getattr(sys, "orig_argv", [])
    module = argv[argv.index("-m") + 1] if "-m" in argv[:-1] else None
    return module in ("symbp", "symbp.cli.main") or (
        module is None and os.path.basename(sys.argv[0] if sys.argv else "") == "symbp")


AS_COMMAND = _running_as_command()
STARTED = time.monotonic() if AS_COMMAND else None  # --timeout counts the imports

if AS_COMMAND:
    # a proof makes millions of short-lived SymPy objects, hardly any of them cyclic garbage:
    # Python's default, a collection of the youngest every 700 allocations, took ~7% of the
    # attention theorem's time; every 50,000 takes ~1%. A library import leaves the
    # interpreter's setting to the user.
    gc.set_threshold(50_000, 20, 100)
    streams.guard()  # before anything opens a file: a closed stdout must not become one
    sys.excepthook = exits.startup_failure  # a failing import: one line and its exit code
    _limit = exits.memory_limit()
    if _limit is not None:
        # OpenBLAS reserves memory per thread when NumPy loads and, short of it, exits from C
        # with no error Python could report: one thread needs least
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        if _limit < limits.MIN_MEMORY_BYTES:
            exits.report(f"error: the memory limit (ulimit -v) is {_limit // 2**20:,} MiB; symbp "
                         f"needs at least {limits.MIN_MEMORY_BYTES // 2**20} MiB to start")
            os._exit(exits.EXIT_ENVIRONMENT)

if AS_COMMAND and threading.current_thread() is threading.main_thread():
    for _signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(_signum) in (signal.default_int_handler, signal.SIG_DFL):
            signal.signal(_signum, _quit)

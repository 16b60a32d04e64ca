"""The ``symbp`` command. The package imports this first, before SymPy and the rest: when
symbp runs as a command (``symbp ...`` or ``python -m symbp``), Ctrl-C or SIGTERM during
that second of imports ends it quietly with exit 130 instead of a traceback. ``main``
installs its own handlers once it runs; importing symbp as a library changes nothing.
The clock of ``--timeout`` starts here too, so it bounds the imports as well.
"""

import os
import signal
import sys
import threading
import time


def _quit(signum, frame):
    os.write(2, b"symbp: interrupted\n")
    os._exit(130)


def _running_as_command() -> bool:
    argv = getattr(sys, "orig_argv", [])
    module = argv[argv.index("-m") + 1] if "-m" in argv[:-1] else None
    return module in ("symbp", "symbp.cli.main") or (
        module is None and os.path.basename(sys.argv[0] if sys.argv else "") == "symbp")


AS_COMMAND = _running_as_command()
STARTED = time.monotonic() if AS_COMMAND else None  # --timeout counts the imports

if AS_COMMAND and threading.current_thread() is threading.main_thread():
    for _signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(_signum) in (signal.default_int_handler, signal.SIG_DFL):
            signal.signal(_signum, _quit)

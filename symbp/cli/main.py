"""The ``symbp`` command line: the parser, and ``main``, which turns every outcome into
one exit code and at most one line on stderr (the table is ``exits.ENDINGS``).

Anything the user can fix is exit 2 before any file is touched; a timeout, Ctrl-C, a
full disk or a bug each get their own code and one line, never a traceback
(``SYMBP_TRACEBACK=1`` shows the traceback of an internal error).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import os
import re
import signal
import sys
import threading
import traceback
from collections.abc import Collection

from .. import cli
from ..core.deadline import Deadline
from . import exits, outputs, streams
from .exits import EXIT_CODES, EXIT_INTERNAL, EXIT_PROVED, BadInput

_argv: list[str] = []  # the arguments being parsed, for messages that name a value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        found = re.match(r"argument (\S+?)(?:/\S+)?: expected one argument", message)
        if found and found.group(1) in _argv[:-1]:
            value = _argv[_argv.index(found.group(1)) + 1]
            message = (f"argument {found.group(1)}: expected a value, got {value!r}, which "
                       f"reads as an option; write {found.group(1)}={value} to pass it")
        raise BadInput(message)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every option that takes a value shows its default (flags are off by default)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = (action.help or "").format_map(_Named())
        if "default" in text or any(action.default is v for v in (None, False, argparse.SUPPRESS)):
            return text
        return f"{text} (default: %(default)s)"


class _Named(dict):
    """What an option's help names from the registries ({activations} and the like), looked
    up only when the help is shown: importing them takes SymPy, a third of a second that a
    run with a mistyped flag need not wait for."""

    def __missing__(self, key: str) -> str:
        from ..core import registry
        from ..core.layers import KINDS
        from ..core.network import DEFAULT_WIDTHS, Network
        from ..proof.prove import METHODS
        from .publish import DEFAULT_FORMATS, FORMATS

        defaults = inspect.signature(Network).parameters
        self.update(activations=", ".join(registry.ACTIVATIONS), costs=", ".join(registry.COSTS),
                    kinds=", ".join(KINDS), methods=", ".join(METHODS),
                    formats=", ".join(FORMATS), default_formats=", ".join(DEFAULT_FORMATS),
                    default_widths=",".join(map(str, DEFAULT_WIDTHS)),
                    default_activation=defaults["activation"].default,
                    default_cost=defaults["cost"].default)
        return self[key]


# ---------------------------------------------------------------- the parser

# every command: its line in the help of symbp (in this order), then where its parser is
# added and where it runs ("module.function" in this package), imported only for the
# command a run names
COMMANDS = {
    "derive": ("derive, prove and write output/", "parsers.derive", "commands.run_derive"),
    "prove": ("prove only, print the result", "parsers.prove", "commands.run_prove"),
    "train": ("train a network with the generated gradients", "training.add_parser",
              "training.command"),
    "check": ("check a claimed table of numbers or formulas", "checking.add_parser",
              "checking.command"),
    "swell": ("measure expression swell", "parsers.swell", "swelling.command"),
    "list": ("activations, costs and layer kinds with their options", "parsers.list_",
             "commands.run_list"),
}


def _named(where: str):
    module, name = where.rsplit(".", 1)
    return getattr(importlib.import_module(f".{module}", __package__), name)


def build_parser(detailed: Collection[str | None] = tuple(COMMANDS)) -> argparse.ArgumentParser:
    """The parser, with the options of the ``detailed`` commands (a run: the one it names).
    The options name what the registries hold, and importing those (SymPy first) takes a
    third of a second that ``symbp --help`` or a mistyped command need not wait for."""
    version = getattr(sys.modules.get("symbp"), "__version__", "unknown")  # defined once, above
    parser = _Parser(prog="symbp", formatter_class=_HelpFormatter, description=(
        "Derive backpropagation three ways (chain-rule expansion, delta recursion, "
        "sympy.diff), prove exactly that they agree, write the derivation down."),
        epilog="Run 'symbp COMMAND --help' for a worked example of each command.\n" + EXIT_CODES)
    parser.add_argument("--version", action="version", version=f"symbp {version}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (summary, add_parser, _) in COMMANDS.items():
        if name in detailed:
            _named(add_parser)(commands, _HelpFormatter, summary)
        else:
            commands.add_parser(name, help=summary)
    return parser


# ---------------------------------------------------------------- main


def _terminate(signum, frame):
    raise KeyboardInterrupt  # SIGTERM cleans up exactly like Ctrl-C


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit code. As the ``symbp`` command, the process ends here."""
    code = _main(argv)
    if cli.AS_COMMAND:  # skip interpreter shutdown, where Ctrl-C would kill with a signal
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
        os._exit(code)
    return code


def _main(argv: list[str] | None) -> int:
    in_main = threading.current_thread() is threading.main_thread()
    previous = {}
    _argv[:] = sys.argv[1:] if argv is None else list(argv)
    run = exits.Run(exits.command_of(_argv), published=outputs.published)
    try:
        if in_main:  # Ctrl-C raises KeyboardInterrupt from here on (unless it was ignored
            # when symbp started, as a shell asks of a background job, and as Python and the
            # imports kept it); a file-size limit is an error to report, not a signal that kills
            previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _terminate),
                        signal.SIGXFSZ: signal.signal(signal.SIGXFSZ, signal.SIG_IGN)}
            if signal.getsignal(signal.SIGINT) != signal.SIG_IGN:
                previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            args = build_parser([exits.command_of(_argv)]).parse_args(argv)
        except SystemExit as stop:  # --help and --version
            return stop.code if isinstance(stop.code, int) else EXIT_PROVED
        if args.command is None:
            build_parser(()).print_help()
            return EXIT_PROVED
        run.command, run.timeout = args.command, getattr(args, "timeout", None)
        args.budget = Deadline(run.timeout, cli.STARTED)
        cli.STARTED = None  # a later main() in this process starts its own clock
        code = _named(COMMANDS[args.command][2])(args)
        streams.flush()  # stdout on a full disk fails here, while it can be reported
        return code
    except SystemExit:
        raise
    except BaseException as error:  # every other ending: its code and line from one table
        if isinstance(error, KeyboardInterrupt) and in_main:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: no traceback
        code, line = exits.ending(error, run)
        if code == EXIT_INTERNAL and os.environ.get("SYMBP_TRACEBACK"):
            traceback.print_exc()
        exits.report(line)
        return code
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main())

"""The ``symbp`` command line: the parser, and ``main``, which turns every outcome into
one exit code and at most one line on stderr (the table is ``exits.ENDINGS``).

Anything the user can fix is exit 2 before any file is touched; a timeout, Ctrl-C, a
full disk or a bug each get their own code and one line, never a traceback
(``SYMBP_TRACEBACK=1`` shows the traceback of an internal error).
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import os
import re
import signal
import sys
import threading
import traceback
from collections.abc import Collection

from .. import cli
from ..core import limits
from ..core.deadline import Deadline
from . import exits, outputs, streams, values
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
                    formats=",".join(FORMATS), default_formats=",".join(DEFAULT_FORMATS),
                    default_widths=",".join(map(str, DEFAULT_WIDTHS)),
                    default_activation=defaults["activation"].default,
                    default_cost=defaults["cost"].default)
        return self[key]


# ---------------------------------------------------------------- the parser


def _network_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("network", nargs="?", metavar="NETWORK.toml",
                        help="a network file (see examples/); default: the options below")
    group = parser.add_argument_group("network (instead of a file)")
    group.add_argument("--widths", type=values.widths,
                       help=f"layer widths n_0,...,n_L: each at most {limits.MAX_WIDTH}, at most "
                            f"{limits.MAX_LAYERS} layers and {limits.MAX_PARAMETERS:,} weights "
                            "and biases (default {default_widths})")
    group.add_argument("--activation", type=values.activation_names,
                       help="one name, or L comma-separated names: {activations} "
                            "(default {default_activation})")
    group.add_argument("--cost", help="{costs} (default {default_cost})")
    group.add_argument("--layers", type=values.layers, metavar="KIND[:UNITS],...",
                       help="layers of any kind instead of --widths: {kinds}, each "
                            "with its units or key=value;key=value (e.g. residual,residual,"
                            "dense:2); with --inputs (default: dense layers of --widths)")
    group.add_argument("--inputs", type=values.inputs, metavar="N",
                       help="the input's width, with --layers (no default: required there)")
    group.add_argument("--order", type=values.order,
                       help="1: the gradients; 2: also the Hessian, H v and the Gauss-Newton "
                            f"matrix (the Hessian at most {limits.MAX_SYMBOLIC_HESSIAN_ENTRIES:,}"
                            " entries) (default 1)")
    proof = parser.add_argument_group("proof")
    proof.add_argument("--method", type=values.method, metavar="METHOD",
                       help="{methods} (default auto: expand for small networks, "
                            "construction for larger ones)")
    _timeout(proof)
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no progress, notes or warnings")


def _timeout(parser) -> None:
    parser.add_argument("--timeout", type=values.seconds, metavar="SECONDS",
                        help="stop the whole command after this long, writing nothing: exit 1 "
                             "(default: no limit)")


SUMMARIES = {  # each command's line in the help of symbp, in its order
    "derive": "derive, prove and write output/",
    "prove": "prove only, print the result",
    "train": "train a network with the generated gradients",
    "check": "check a claimed table of numbers or formulas",
    "swell": "measure expression swell",
    "list": "activations, costs and layer kinds with their options",
}


def build_parser(detailed: Collection[str | None] = tuple(SUMMARIES)) -> argparse.ArgumentParser:
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
    for name, summary in SUMMARIES.items():
        if name in detailed:
            _command_parser(name)(commands, _HelpFormatter, summary)
        else:
            commands.add_parser(name, help=summary)
    return parser


def _command_parser(name: str):
    """The function that adds a command's parser (train's and check's live with their run)."""
    if name == "train":
        from .training import add_parser
    elif name == "check":
        from .checking import add_parser
    else:
        add_parser = {"derive": _derive_parser, "prove": _prove_parser, "swell": _swell_parser,
                      "list": _list_parser}[name]
    return add_parser


def _derive_parser(commands, fmt, summary: str) -> None:
    d = commands.add_parser("derive", formatter_class=fmt, help=summary,
                            description="Derive dC/dW_l and dC/db_l three ways, prove that they "
                                        "agree, and write documents, code and the proof report.",
                            epilog="examples:\n"
                                   "  symbp derive                         # output/default/\n"
                                   "  symbp derive --widths 3,4,2 --activation tanh\n"
                                   "  symbp derive examples/softmax.toml --format md,pdf\n"
                                   "  symbp derive examples/worked-2-2-2.toml --order 2\n"
                                   + EXIT_CODES)
    _network_options(d)
    d.add_argument("--out", metavar="DIR", type=values.nonempty,
                   help="output folder (default output/NAME)")
    d.add_argument("--name", help="name of the output folder under output/ (default: from the "
                                  "network, like 2x3x2-tanh-mse, or default)")
    d.add_argument("--title", type=values.nonempty,
                   help="document title, plain text (default: names the network)")
    d.add_argument("--format", type=values.format_list, metavar="LIST",
                   help="comma-separated, from {formats}; replaces the default list, "
                        "{default_formats} (a PDF is skipped with a note when "
                        "pdflatex is missing)")
    d.add_argument("--timings", action="store_true", help="put proof times into the documents")


def _prove_parser(commands, fmt, summary: str) -> None:
    p = commands.add_parser("prove", formatter_class=fmt, help=summary,
                            description="Prove that expansion, recursion and direct agree for "
                                        "every W_l and b_l; print a per-layer table.",
                            epilog="examples:\n"
                                   "  symbp prove --widths 16,16,16,16,16,16 --activation generic\n"
                                   "  symbp prove --method expand --json > proof.json\n"
                                   "  symbp prove --general --activation tanh --cost bce\n"
                                   "  symbp prove --order 2 --general --activation sigmoid\n"
                                   + EXIT_CODES)
    _network_options(p)
    p.add_argument("--json", action="store_true", help="print the proof report as JSON")
    p.add_argument("--general", action="store_true",
                   help="prove for every size at once, by induction over index-notation "
                        "lemmas: a NETWORK.toml's own shape (for every depth when its hidden "
                        "layers are alike, else at its depth), or --activation (the hidden "
                        "layers', default generic), --cost (default mse) and --layers")


def _swell_parser(commands, fmt, summary: str) -> None:
    s = commands.add_parser("swell", formatter_class=fmt, help=summary,
                            description="Measure, for generic networks of every depth and width "
                                        "asked for, what it takes to write dC/dw^(1)_11 by each "
                                        "route: paths, operations before and after CSE, build "
                                        "times. Writes swell.json, swell.md and swell.svg.",
                            epilog="examples:\n"
                                   "  symbp swell                            # output/swell/\n"
                                   "  symbp swell --depth 1..8 --width 2 --out /tmp/swell\n"
                                   + EXIT_CODES.replace("0 proved, 1 not proved (a failure or "
                                                        "a timeout)", "0 done, 1 timed out"))
    s.add_argument("--depth", type=values.swell_range, default="1..6",
                   help=f"depths L, like 1..6 or 1,2,4, each at most {limits.MAX_SWELL_SIZE}")
    s.add_argument("--width", type=values.swell_range, default="2..4",
                   help=f"widths n, like 2..4 or 3, each at most {limits.MAX_SWELL_SIZE}")
    s.add_argument("--out", metavar="DIR", type=values.nonempty, default="output/swell",
                   help="output folder")
    _timeout(s)
    s.add_argument("--quiet", "-q", action="store_true", help="no progress")


def _list_parser(commands, fmt, summary: str) -> None:
    commands.add_parser("list", formatter_class=fmt,
                        help=summary,
                        description="List every activation, cost and layer kind symbp knows.",
                        epilog="example: symbp list\nexit code: 0")


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
        code = _runner(args.command)(args)
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


def _runner(name: str):
    """The function that runs a command, imported only now (train, check and swell live in
    modules of their own)."""
    if name == "train":
        from .training import command
    elif name == "check":
        from .checking import command
    elif name == "swell":
        from .swelling import command
    else:
        from .commands import COMMANDS

        command = COMMANDS[name]
    return command


if __name__ == "__main__":
    sys.exit(main())

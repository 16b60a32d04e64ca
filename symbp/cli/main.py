"""The ``symbp`` command line. Exit codes: 0 proved, 1 not proved, 2 bad input.

Anything the user can fix becomes one line on stderr and exit 2, before any
file is touched; nothing here prints a traceback for bad input.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from ..core import registry
from ..proof.prove import METHODS
from . import config
from .commands import COMMANDS, EXIT_BAD_INPUT, EXIT_PROVED, BadInput


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        raise BadInput(message)


def _widths(text: str) -> list[int]:
    try:
        return [int(p) for p in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be comma-separated positive integers like 2,3,3,2; got {text!r}") from None


def _names(text: str) -> str | list[str]:
    names = [p.strip() for p in text.split(",")]
    return names[0] if len(names) == 1 else names


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number; got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    return value


def _range(text: str) -> list[int]:
    try:
        return config.parse_range(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _formats(text: str) -> list[str]:
    return [p.strip() for p in text.split(",")]


def _network_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("network", nargs="?", metavar="NETWORK.toml",
                        help="a network file (see examples/); or use the options below")
    group = parser.add_argument_group("network (instead of a file)")
    group.add_argument("--widths", type=_widths, help="layer widths n_0,...,n_L (default 2,3,3,2)")
    group.add_argument("--activation", type=_names,
                       help=f"one name, or L comma-separated names: "
                            f"{', '.join(registry.ACTIVATIONS)} (default sigmoid)")
    group.add_argument("--cost", help=f"{', '.join(registry.COSTS)} (default mse)")
    proof = parser.add_argument_group("proof")
    proof.add_argument("--method", choices=METHODS, metavar="METHOD",
                       help=f"{', '.join(METHODS)} (default auto: expand for small networks, "
                            "local for larger ones)")
    proof.add_argument("--timeout", type=_positive_number, metavar="SECONDS",
                       help="give up the proof after this long (exit 1)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress or notes")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symbp", description=(
        "Derive backpropagation three ways (chain-rule expansion, delta recursion, "
        "sympy.diff), prove exactly that they agree, write the derivation down."),
        epilog="Run 'symbp COMMAND --help' for a worked example of each command.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    fmt = argparse.RawDescriptionHelpFormatter

    d = commands.add_parser("derive", formatter_class=fmt, help="derive, prove and write output/",
                            description="Derive dC/dW_l and dC/db_l three ways, prove that they "
                                        "agree, and write documents, code and the proof report.",
                            epilog="examples:\n"
                                   "  symbp derive                         # output/default/\n"
                                   "  symbp derive --widths 3,4,2 --activation tanh\n"
                                   "  symbp derive examples/softmax.toml --format md,pdf\n"
                                   "exit codes: 0 proved, 1 not proved, 2 bad input")
    _network_options(d)
    d.add_argument("--out", metavar="DIR", help="output folder (default output/<name>)")
    d.add_argument("--name", help="name of the output folder under output/")
    d.add_argument("--title", help="document title")
    d.add_argument("--format", type=_formats, metavar="LIST",
                   help=f"comma-separated, from {','.join(config.FORMATS)} (default: all "
                        "but numba; pdf is skipped with a note when pdflatex is missing)")
    d.add_argument("--timings", action="store_true", help="put proof times into the documents")

    p = commands.add_parser("prove", formatter_class=fmt, help="prove only, print the result",
                            description="Prove that expansion, recursion and direct agree for "
                                        "every W_l and b_l; print a per-layer table.",
                            epilog="examples:\n"
                                   "  symbp prove --widths 16,16,16,16,16,16 --activation generic\n"
                                   "  symbp prove --method expand --json > proof.json\n"
                                   "exit codes: 0 proved, 1 not proved, 2 bad input")
    _network_options(p)
    p.add_argument("--json", action="store_true", help="print the proof report as JSON")

    t = commands.add_parser("train", formatter_class=fmt, help="train XOR with the gradients",
                            description="Train a small sigmoid network on XOR with the update "
                                        "rule W <- W - eta dC/dW, using the generated gradients; "
                                        "write the loss curve (loss.svg, loss.csv).",
                            epilog="examples:\n"
                                   "  symbp train                       # output/xor/loss.svg\n"
                                   "  symbp train --epochs 2000 --learning-rate 0.5 --seed 3")
    t.add_argument("--epochs", type=_positive_int, default=500, help="default 500")
    t.add_argument("--learning-rate", type=_positive_number, default=2.0, metavar="ETA",
                   help="eta in W <- W - eta dC/dW (default 2.0)")
    t.add_argument("--seed", type=int, default=0, help="random seed of the initial weights")
    t.add_argument("--hidden", type=_positive_int, default=3, help="hidden units (default 3)")
    t.add_argument("--out", metavar="DIR", default="output/xor", help="default output/xor")

    s = commands.add_parser("swell", formatter_class=fmt, help="measure expression swell",
                            description="Measure, for generic networks of every depth and width "
                                        "asked for, what it takes to write dC/dw^(1)_11 by each "
                                        "route: paths, operations before and after CSE, build "
                                        "times. Writes swell.json, swell.md and swell.svg.",
                            epilog="examples:\n"
                                   "  symbp swell                            # output/swell/\n"
                                   "  symbp swell --depth 1..8 --width 2 --out /tmp/swell")
    s.add_argument("--depth", type=_range, default="1..6", help="depths L, like 1..6 or 1,2,4")
    s.add_argument("--width", type=_range, default="2..4", help="widths n, like 2..4 or 3")
    s.add_argument("--out", metavar="DIR", default="output/swell", help="default output/swell")
    s.add_argument("--quiet", "-q", action="store_true", help="no progress")

    commands.add_parser("list", help="activations and costs with their formulas",
                        description="List every activation and cost symbp knows.",
                        epilog="example: symbp list")
    return parser


def _terminate(signum, frame):
    raise KeyboardInterrupt  # SIGTERM cleans up exactly like Ctrl-C


def main(argv: list[str] | None = None) -> int:
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            build_parser().print_help()
            return EXIT_PROVED
        return COMMANDS[args.command](args)
    except BadInput as error:
        print(f"symbp: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("symbp: interrupted; earlier outputs are unchanged", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into head: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PROVED
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())

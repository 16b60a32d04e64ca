"""The ``symbp`` command line. Exit codes: 0 proved, 1 not proved, 2 bad input."""

from __future__ import annotations

import argparse
import json
import sys

from . import registry
from .derivation import derive
from .network import DEFAULT_WIDTHS, Network
from .prove import METHODS, prove

EXIT_PROVED, EXIT_NOT_PROVED, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """Raised for anything the user can fix; becomes one line on stderr and exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        raise BadInput(message)


def _widths(text: str) -> list[int]:
    parts = [p.strip() for p in text.split(",")]
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--widths must be comma-separated positive integers like 2,3,3,2; got {text!r}"
        ) from None


def _activation(text: str) -> str | list[str]:
    names = [p.strip() for p in text.split(",")]
    return names[0] if len(names) == 1 else names


def _network_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("network")
    group.add_argument("--widths", type=_widths, default=list(DEFAULT_WIDTHS),
                       help="layer widths n_0,...,n_L (default: 2,3,3,2)")
    group.add_argument("--activation", type=_activation, default="sigmoid",
                       help=f"one name, or L comma-separated names; one of: "
                            f"{', '.join(registry.ACTIVATIONS)} (default: sigmoid)")
    group.add_argument("--cost", default="mse",
                       help=f"one of: {', '.join(registry.COSTS)} (default: mse)")
    group.add_argument("--method", default="auto",
                       help=f"proof method, one of: {', '.join(METHODS)} (default: auto)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="symbp",
        description="Derive backpropagation three ways, prove the routes agree, write it down.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    derive_cmd = commands.add_parser(
        "derive", help="derive and prove, writing output/<name>/",
        description="Derive dC/dW_l and dC/db_l three ways, prove they agree, write outputs.",
        epilog="example: symbp derive --widths 3,4,2 --activation tanh",
    )
    _network_options(derive_cmd)
    derive_cmd.add_argument("--out", help="output folder (default: output/<name>)")
    prove_cmd = commands.add_parser(
        "prove", help="prove only, print the result",
        description="Prove that expansion, recursion and direct agree; print the result.",
        epilog="example: symbp prove --widths 16,16,16,16,16,16 --activation generic --json",
    )
    _network_options(prove_cmd)
    prove_cmd.add_argument("--json", action="store_true", help="print the proof report as JSON")
    return parser


def _network(args) -> Network:
    if args.method not in METHODS:
        raise BadInput(f"unknown method {args.method!r}; choose one of: {', '.join(METHODS)}")
    try:
        return Network(args.widths, activation=args.activation, cost=args.cost)
    except ValueError as error:
        raise BadInput(str(error)) from None


def _cmd_prove(args) -> int:
    proof = prove(derive(_network(args)), args.method)
    if args.json:
        print(json.dumps(proof.to_dict(), indent=2))
    else:
        print(proof.summary())
    return EXIT_PROVED if proof.holds else EXIT_NOT_PROVED


def _cmd_derive(args) -> int:
    from pathlib import Path

    from .outputs import write_outputs

    net = _network(args)
    out = Path(args.out) if args.out else Path("output") / net.slug
    proof = prove(derive(net), args.method)
    written = write_outputs(net, proof, out)
    print(proof.summary())
    for path in written:
        print(f"wrote {path}")
    return EXIT_PROVED if proof.holds else EXIT_NOT_PROVED


COMMANDS = {"derive": _cmd_derive, "prove": _cmd_prove}


def main(argv: list[str] | None = None) -> int:
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


if __name__ == "__main__":
    sys.exit(main())

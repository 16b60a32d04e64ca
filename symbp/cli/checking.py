"""``symbp check NETWORK.toml CLAIMED.json``: check a derivation someone else wrote."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path

from ..api import check
from . import config
from .exits import EXIT_CODES, EXIT_NOT_PROVED, EXIT_PROVED, BadInput


def add_parser(commands, fmt) -> None:
    c = commands.add_parser(
        "check", formatter_class=fmt, help="check a claimed table of numbers or formulas",
        description="Check claimed numbers (worked.json's shape: cost, z, a, delta, grad, "
                    "updated; null for an entry not claimed) at the network file's [example], "
                    "exactly, and claimed formulas (\"formulas\": {\"delta_1\": [...]}), "
                    "proved or refuted with a counterexample point.",
        epilog="examples:\n"
               "  symbp check examples/worked-2-2-2.toml examples/claims/worked-2-2-2.json\n"
               "  symbp check examples/worked-2-2-2.toml claims.json --json\n"
               + EXIT_CODES.replace("0 proved, 1 not proved", "0 every claim holds, "
                                    "1 one does not"))
    c.add_argument("network", metavar="NETWORK.toml", help="the network (and its [example])")
    c.add_argument("claimed", metavar="CLAIMED.json", help="the claims")
    c.add_argument("--json", action="store_true", help="print the report as JSON")


def command(args: argparse.Namespace) -> int:
    try:
        job = config.load(args.network)
        text = config.read_bounded(Path(args.claimed))
        claimed = json.loads(text, parse_float=Decimal)
        report = check(job.net, claimed,
                       example=job.example)  # type: ignore[arg-type]  # kinds: refused there
    except json.JSONDecodeError as error:
        raise BadInput(f"{args.claimed}: invalid JSON: {error}") from None
    except RecursionError:
        raise BadInput(f"{args.claimed}: invalid JSON: nested too deeply") from None
    except ValueError as error:  # ConfigError too: it names the file
        message = str(error)
        if message.startswith(args.claimed):  # the claims file, read as a network file is
            message = message.replace("network file", "file")
        elif not message.startswith(args.network):
            message = f"{args.claimed}: {message}"
        raise BadInput(message) from None
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.text())
    return EXIT_PROVED if report.holds else EXIT_NOT_PROVED

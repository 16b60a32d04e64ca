"""``symbp check NETWORK.toml CLAIMED.json [--out DIR]``: check a derivation someone else wrote.

With ``--out`` the report is also written as a document (``check.md``, ``check.pdf``,
``check.json``), published as one set once every file exists, as ``derive`` publishes.
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path

from ..api import check
from ..core.derivation import Derivation
from ..document.claimed_report import build_check_document
from ..render.checking import FILES, check_files
from ..render.latex import missing_compiler_note
from . import config, outputs
from .exits import EXIT_CODES, EXIT_NOT_PROVED, EXIT_PROVED, BadInput
from .jobs import note


def add_parser(commands, fmt, summary: str) -> None:
    c = commands.add_parser(
        "check", formatter_class=fmt, help=summary,
        description="Check claimed numbers (worked.json's shape: cost, z, a, delta, grad, "
                    "updated; null for an entry not claimed) at the network file's [example], "
                    "exactly, and claimed formulas (\"formulas\": {\"delta_1\": [...]}), "
                    "proved or refuted with a counterexample point.",
        epilog="examples:\n"
               "  symbp check examples/worked-2-2-2.toml examples/claims/worked-2-2-2.json\n"
               "  symbp check examples/worked-2-2-2.toml claims.json --json\n"
               "  symbp check examples/worked-2-2-2.toml examples/claims/formulas-2-2-2.json "
               "--out output/check\n"
               + EXIT_CODES.replace("0 proved, 1 not proved", "0 every claim holds, "
                                    "1 one does not"))
    c.add_argument("network", metavar="NETWORK.toml", help="the network (and its [example])")
    c.add_argument("claimed", metavar="CLAIMED.json", help="the claims")
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    c.add_argument("--out", metavar="DIR", help="also write the report as a document: "
                   "check.md, check.pdf (with pdflatex) and check.json")


def command(args: argparse.Namespace) -> int:
    try:
        out = None if args.out is None else outputs.check_folder(args.out)
    except ValueError as error:
        raise BadInput(str(error)) from None
    if out is None:
        d, report, _ = _checked(args)
        _print(args, report)
        return EXIT_PROVED if report.holds else EXIT_NOT_PROVED
    missing_pdf = missing_compiler_note()
    if missing_pdf:
        note(args, missing_pdf)
    with outputs.OutputFolder(out, FILES) as folder:
        d, report, job = _checked(args)
        doc = build_check_document(d, report, args.claimed, job.title)  # the network's title
        folder.stage(check_files(doc, report, pdf=not missing_pdf, workdir=folder.staging))
        written = folder.publish()
    if folder.fallback:
        note(args, folder.fallback)
    _print(args, report)
    if not args.json:
        print(f"wrote {', '.join(str(p) for p in written)}")
    return EXIT_PROVED if report.holds else EXIT_NOT_PROVED


def _print(args: argparse.Namespace, report) -> None:
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.text())


def _checked(args: argparse.Namespace):
    """The derivation, the report and the network file's job; BadInput for bad input."""
    try:
        job = config.load(args.network)
        text = config.read_bounded(Path(args.claimed))
        claimed = json.loads(text, parse_float=Decimal)
        d = Derivation(job.net)
        report = check(d, claimed,
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
    return d, report, job

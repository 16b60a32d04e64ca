"""The parsers of ``derive``, ``prove``, ``swell`` and ``list`` (train's and check's live with
their run): light, so that a mistyped option is answered before SymPy is imported."""

from __future__ import annotations

import argparse

from ..core import limits
from . import values
from .exits import EXIT_CODES


def network_options(parser: argparse.ArgumentParser) -> None:
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
    timeout(proof)
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no progress, notes or warnings")


def timeout(parser) -> None:
    parser.add_argument("--timeout", type=values.seconds, metavar="SECONDS",
                        help="stop the whole command after this long, writing nothing: exit 1 "
                             "(default: no limit)")


def derive(commands, fmt, summary: str) -> None:
    d = commands.add_parser("derive", formatter_class=fmt, help=summary,
                            description="Derive dC/dW_l and dC/db_l three ways, prove that they "
                                        "agree, and write documents, code and the proof report.",
                            epilog="examples:\n"
                                   "  symbp derive                         # output/default/\n"
                                   "  symbp derive --widths 3,4,2 --activation tanh\n"
                                   "  symbp derive examples/softmax.toml --format md,pdf\n"
                                   "  symbp derive examples/worked-2-2-2.toml --order 2\n"
                                   + EXIT_CODES)
    network_options(d)
    d.add_argument("--out", metavar="DIR", type=values.nonempty,
                   help="output folder (default output/NAME)")
    d.add_argument("--name", help="name of the output folder under output/ (default: from the "
                                  "network, like 2x3x2-tanh-mse, or default)")
    d.add_argument("--title", type=values.nonempty,
                   help="document title, plain text (default: names the network)")
    d.add_argument("--format", type=values.format_list, metavar="LIST",
                   help="comma-separated (e.g. md,html), from: {formats}; replaces the default "
                        "list: {default_formats} (a PDF is skipped with a note when "
                        "pdflatex is missing)")
    d.add_argument("--timings", action="store_true", help="put proof times into the documents")


def prove(commands, fmt, summary: str) -> None:
    p = commands.add_parser("prove", formatter_class=fmt, help=summary,
                            description="Prove that expansion, recursion and direct agree for "
                                        "every W_l and b_l; print a per-layer table.",
                            epilog="examples:\n"
                                   "  symbp prove --widths 16,16,16,16,16,16 --activation generic\n"
                                   "  symbp prove --method expand --json > proof.json\n"
                                   "  symbp prove --general --activation tanh --cost bce\n"
                                   "  symbp prove --order 2 --general --activation sigmoid\n"
                                   + EXIT_CODES)
    network_options(p)
    p.add_argument("--json", action="store_true", help="print the proof report as JSON")
    p.add_argument("--general", action="store_true",
                   help="prove for every size at once, by induction over index-notation "
                        "lemmas: a NETWORK.toml's own shape (for every depth when its hidden "
                        "layers are alike, else at its depth), or --activation (the hidden "
                        "layers', default generic), --cost (default mse) and --layers")


def swell(commands, fmt, summary: str) -> None:
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
    timeout(s)
    s.add_argument("--quiet", "-q", action="store_true", help="no progress")


def list_(commands, fmt, summary: str) -> None:
    commands.add_parser("list", formatter_class=fmt,
                        help=summary,
                        description="List every activation, cost and layer kind symbp knows.",
                        epilog="example: symbp list\nexit code: 0")

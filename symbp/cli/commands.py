"""The commands of ``symbp``: each turns parsed arguments into work, output and an exit code.

Exit codes: 0 proved, 1 not proved, 2 bad input. Anything the user can fix is a
``BadInput``, raised before any file is touched.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from ..core import registry
from ..core.derivation import derive
from ..core.network import NETWORK_KEYS, Network
from ..figures.loss import loss_csv, loss_curve_svg
from ..figures.swell import DEFAULT_DEPTHS, DEFAULT_WIDTHS, ROUTES, measure, to_json
from ..figures.swell_plot import swell_svg
from ..numeric.train import (
    EPOCHS,
    HIDDEN,
    LEARNING_RATE,
    TARGET_COST,
    XOR_INPUTS,
    XOR_TARGETS,
    train_xor,
)
from ..proof.claims import CHECKS
from ..proof.prove import Proof, prove
from ..proof.theorem import general_summary, general_table, theorem
from ..render.figures import swell_markdown
from ..render.latex import LatexError, missing_compiler_note
from . import config, outputs, progress
from .publish import build_files

EXIT_PROVED, EXIT_NOT_PROVED, EXIT_BAD_INPUT = 0, 1, 2
SWELL_LIMIT = 12  # largest depth or width symbp swell accepts


class BadInput(Exception):
    """Raised for anything the user can fix; becomes one line on stderr and exit 2."""



# ---------------------------------------------------------------- jobs


def _job(args) -> config.Job:
    given = {key: getattr(args, key) for key in NETWORK_KEYS if getattr(args, key) is not None}
    try:
        if args.network:
            if given:
                raise BadInput(f"give the network either as a file ({args.network}) or with "
                               f"--{next(iter(given))}, not both")
            job = config.load(args.network)
        else:
            job = config.Job(Network(**given))  # what is not given: Network's defaults
        if args.method:
            job.method = args.method
        if getattr(args, "name", None):
            job.name = config.check_name(args.name)
        if getattr(args, "title", None):
            job.title = args.title
        if getattr(args, "format", None):
            job.formats = config.check_formats(args.format)
            job.explicit_formats = True
        if getattr(args, "timings", False):
            job.timings = True
    except ValueError as error:
        raise BadInput(str(error)) from None
    return job


def _prove(job: config.Job, args) -> tuple:
    d = derive(job.net)
    with progress.bar(progress.wanted(args.quiet), "proving") as update:
        try:
            proof = prove(d, job.method, timeout=args.timeout, progress=update)
        except ValueError as error:  # a brute-force method refused as too large
            raise BadInput(str(error)) from None
    return d, proof


def _output_folder(out: Path) -> None:
    """Make the output folder, or stop with exit 2 before any work is done."""
    try:
        outputs.writable_folder(out)
    except OSError as error:
        raise BadInput(f"cannot write to output folder {out}: {error.strerror or error}") from None


def _exit_code(proof: Proof) -> int:
    return EXIT_PROVED if proof.holds else EXIT_NOT_PROVED


def _table(proof: Proof) -> str:
    """The claims: one line per layer and parameter for the routes, then every other claim."""
    heads = list(CHECKS.values())
    lines = []
    if proof.rows:
        lines.append(f"{'layer':>5}  {'param':5}  " + "  ".join(f"{h:21}" for h in heads)
                     + "  seconds")
    for row in proof.rows:
        cells = "  ".join(f"{row.checks[h]:21}" for h in heads)
        lines.append(f"{row.layer:>5}  {row.parameter:5}  {cells}  {row.seconds:7.3f}")
    lines += [f"{'lemma' if c.kind == 'function' else 'claim'} {c.label}: {c.status}"
              for c in proof.claims if c.layer is None or c.parameter is None]
    lines += [f"failure: {f}" for f in proof.failures]
    return "\n".join(lines)


# ---------------------------------------------------------------- commands


def _cmd_prove(args) -> int:
    if args.general:
        return _cmd_prove_general(args)
    job = _job(args)
    _, proof = _prove(job, args)
    if args.json:
        print(json.dumps(proof.to_dict(), indent=2))
    else:
        print(_table(proof))
        print(proof.summary())
    return _exit_code(proof)


def _cmd_prove_general(args) -> int:
    """``prove --general``: the theorem for every depth and width; one activation, one cost."""
    given = [f"--{k}" for k in ("widths", "method") if getattr(args, k)] + (
        [args.network] if args.network else [])
    if given:
        raise BadInput(f"--general proves every depth and width; drop {', '.join(given)}")
    if isinstance(args.activation, list):
        raise BadInput("--general takes one --activation (the hidden layers'); "
                       f"got {','.join(args.activation)}")
    try:
        proof = theorem(args.activation or "generic", args.cost or "mse", timeout=args.timeout)
    except ValueError as error:
        raise BadInput(str(error)) from None
    print(json.dumps(proof.to_dict(), indent=2) if args.json
          else f"{general_table(proof)}\n{general_summary(proof)}")
    return _exit_code(proof)


def _cmd_derive(args) -> int:
    job = _job(args)
    out = Path(args.out) if args.out else Path("output") / (job.name or job.net.slug)
    if job.explicit_formats and "pdf" in job.formats and missing_compiler_note():
        raise BadInput(f"--format pdf asked for, but {missing_compiler_note()}")
    _output_folder(out)
    outputs.sweep_temporaries(out)
    d, proof = _prove(job, args)
    _stall("proved")
    with progress.bar(progress.wanted(args.quiet), "writing documents") as update:
        try:
            files, notes = build_files(d, proof, job, update)
        except LatexError as error:  # pdflatex failed: its log excerpt, nothing written
            print(f"symbp: error: {error}", file=sys.stderr)
            return EXIT_NOT_PROVED
    _stall("built")
    written = outputs.commit(out, files)
    print(proof.summary())
    for note in notes if not args.quiet else []:
        print(f"note: {note}", file=sys.stderr)
    for path in written:
        print(f"wrote {path}")
    return _exit_code(proof)


def _cmd_train(args) -> int:
    _output_folder(Path(args.out))
    print(run_xor(args.out, args.epochs, args.learning_rate, args.seed, args.hidden))
    return 0


def _cmd_swell(args) -> int:
    depths, widths = args.depth, args.width
    for flag, values in (("--depth", depths), ("--width", widths)):
        if max(values) > SWELL_LIMIT:  # the δ program alone would take minutes
            raise BadInput(f"{flag} goes up to {max(values)}; symbp swell measures up to "
                           f"{SWELL_LIMIT}")
    _output_folder(Path(args.out))
    with progress.bar(progress.wanted(args.quiet), "measuring") as update:
        print(run_swell(depths, widths, args.out, progress=update))
    return 0


def _cmd_list(args) -> int:
    print("activations (--activation):")
    for act in registry.ACTIVATIONS.values():
        print(f"  {act.name:11} {act.summary}")
        print(f"  {'':11} derivative: {act.latex_derivative}")
    print("costs (--cost):")
    for cost in registry.COSTS.values():
        print(f"  {cost.name:11} {cost.summary}")
        print(f"  {'':11} dC/da_j = {cost.latex_gradient}")
    return 0


COMMANDS = {"derive": _cmd_derive, "prove": _cmd_prove, "train": _cmd_train,
            "swell": _cmd_swell, "list": _cmd_list}


def _stall(stage: str) -> None:
    # test hook: lets the interruption tests kill a run at a known point
    if os.environ.get("SYMBP_STALL_AT") == stage:
        print(f"stalled at {stage}", file=sys.stderr, flush=True)
        time.sleep(600)


# ---------------------------------------------------------------- training and swell


def write_loss_curve(losses: list[float], folder: Path, title: str = "cost per epoch",
                     threshold: float | None = TARGET_COST) -> list[Path]:
    """Write ``loss.svg`` and ``loss.csv`` into ``folder`` (atomically); their paths."""
    folder = outputs.writable_folder(Path(folder))
    files = {"loss.svg": loss_curve_svg(losses, title, threshold), "loss.csv": loss_csv(losses)}
    return outputs.commit(folder, {name: text.encode() for name, text in files.items()})


def run_xor(out: Path | str = "output/xor", epochs: int = EPOCHS,
            learning_rate: float = LEARNING_RATE, seed: int = 0, hidden: int = HIDDEN) -> str:
    """Train XOR, write its loss curve into ``out``, and return the lines to print."""
    run = train_xor(epochs, learning_rate, seed, hidden)
    title = f"XOR, {list(run.network.widths)} sigmoid, η = {learning_rate:g}, seed {seed}"
    paths = write_loss_curve(run.losses, Path(out), title)
    reached = run.epochs_to()
    lines = [
        f"trained {run.network!r} on XOR for {epochs} epochs: W <- W - {learning_rate:g} dC/dW "
        f"(seed {seed}), gradients from symbp.lambdify",
        f"cost {run.losses[0]:.4g} -> {run.losses[-1]:.4g} (summed over the 4 samples); "
        + (f"below {TARGET_COST:g} from epoch {reached}" if reached is not None
           else f"never below {TARGET_COST:g}: try more epochs"),
    ]
    for x, target, a in zip(XOR_INPUTS, XOR_TARGETS[:, 0], run.predictions):
        lines.append(f"  {int(x[0])} xor {int(x[1])} = {int(target)}: network says {a:.3f}")
    lines.append("wrote " + ", ".join(str(p) for p in paths))
    return "\n".join(lines)


def run_swell(depths: Iterable[int] = DEFAULT_DEPTHS, widths: Iterable[int] = DEFAULT_WIDTHS,
              out_folder: Path | str = "output/swell", progress=None) -> str:
    """Measure the grid, write swell.json, swell.md and swell.svg, return lines to print."""
    start = time.perf_counter()
    rows = measure(depths, widths, progress=progress)
    seconds = time.perf_counter() - start
    folder = outputs.writable_folder(Path(out_folder))
    files = {"swell.json": to_json(rows), "swell.md": swell_markdown(rows),
             "swell.svg": swell_svg(rows)}
    written = outputs.commit(folder, {name: text.encode() for name, text in files.items()})
    deepest = max(rows, key=lambda r: (r["depth"], r["width"]))
    lines = [f"measured {len(rows)} networks in {seconds:.1f} s (generic σ, MSE); "
             f"for dC/dw^(1)_11 of the deepest and widest, {deepest['widths']}:",
             f"  {deepest['paths']} paths; operations as written / after CSE (build time):"]
    for route in ROUTES:
        raw, cse = deepest[route], deepest[f"{route}_cse"]
        lines.append(f"  {route:>9}: " + ("skipped (too large)" if raw is None else
                                         f"{raw} / {cse} ({deepest['seconds'][route]:.3f} s)"))
    lines.append("wrote " + ", ".join(str(p) for p in written))
    return "\n".join(lines)

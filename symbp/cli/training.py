"""``symbp train``: its options, the ``[train]`` table of a network file, and the run.

Everything is checked before any work (``symbp.train.make_plan``), so a bad choice is one
line and exit 2 with nothing touched. The run writes its checkpoint as it goes; Ctrl-C
(exit 130) and ``--timeout`` (exit 1) stop it between two steps with the checkpoint
complete, and ``--resume`` continues it to the same parameters as an uninterrupted run.
The report and its files are published as one set at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ..core import limits, registry
from ..core.network import Network
from ..render.latex import DEFAULT_TIMEOUT, missing_compiler_note
from ..render.training import FILES, training_files
from ..train import (
    BUILTIN,
    Plan,
    Position,
    TrainingInterrupted,
    TrainingTimedOut,
    make_plan,
    run,
)
from ..train.optimizers import OPTIMIZERS
from ..train.parameters import INITS
from ..train.settings import BACKENDS, DEFAULTS, MAX_SEED
from . import config, outputs, progress, values
from .exits import EXIT_CODES, EXIT_INTERRUPTED, EXIT_NOT_PROVED, BadInput
from .jobs import budget, note
from .text import shown

CHECKPOINT = "checkpoint.npz"
XOR_HIDDEN = 3  # --hidden: the XOR network [2, hidden, 1]


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number; got {shown(text)}") from None


def _holdout(text: str) -> float | str:
    return "none" if text.strip() == "none" else _number(text)


# key of the [train] table: (check, what it must be); the CLI's options carry the same names
_NUMBER = (lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number")
_WHOLE = (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number")
_TEXT = (lambda v: isinstance(v, str), "a string")
TABLE = {
    "data": (_TEXT[0], f"{', '.join(BUILTIN)} or a .npz or .csv file"),
    "inputs": (_TEXT[0], "names of columns or arrays, comma-separated"),
    "targets": (_TEXT[0], "names of columns or arrays, comma-separated"),
    "optimizer": _TEXT, "learning_rate": _NUMBER, "momentum": _NUMBER, "beta1": _NUMBER,
    "beta2": _NUMBER, "eps": _NUMBER, "batch": _WHOLE, "epochs": _WHOLE, "seed": _WHOLE,
    "holdout": (lambda v: _NUMBER[0](v) or v == "none", 'a number, or "none"'),
    "init": _TEXT, "backend": _TEXT,
}
SETTINGS = ("optimizer", "learning_rate", "momentum", "beta1", "beta2", "eps", "batch",
            "epochs", "seed", "holdout", "init", "backend")


def add_parser(commands, fmt, summary: str) -> None:
    """The ``train`` subcommand and its options."""
    xor, digits = DEFAULTS["xor"][1], DEFAULTS["digits"][1]
    t = commands.add_parser(
        "train", formatter_class=fmt, help=summary,
        description="Train a network with the gradients symbp derives, on XOR, on scikit-learn's "
                    "digits or on your own data; write a report (Markdown, PDF, JSON), the "
                    "loss and accuracy curves (SVG) and a checkpoint.",
        epilog="examples:\n"
               "  symbp train                          # XOR, output/xor/\n"
               "  symbp train examples/digits.toml     # digits, output/digits/\n"
               "  symbp train examples/digits-conv.toml  # a conv1d network of layer kinds\n"
               "  symbp train --widths 4,8,3 --activation tanh --cost softmax_ce \\\n"
               "      --data iris.csv --targets species --optimizer adam --batch 16\n"
               "  symbp train examples/digits.toml --resume output/digits/checkpoint.npz\n"
               + EXIT_CODES.replace("0 proved, 1 not proved (a failure or a timeout)",
                                    "0 done, 1 timed out (checkpoint written)").replace(
                   "130 interrupted", "130 interrupted (checkpoint written)"))
    t.add_argument("network", nargs="?", metavar="NETWORK.toml",
                   help="a network file, with an optional [train] table of the settings below "
                        "(see examples/digits.toml); default: the options below, or the data "
                        "set's own network")
    net = t.add_argument_group("network (instead of a file)")
    net.add_argument("--widths", type=values.widths,
                     help="layer widths n_0,...,n_L (default: the data set's: xor 2,3,1, "
                          "digits 64,32,10)")
    net.add_argument("--activation", type=values.activation_names,
                     help=f"one name or L names: {', '.join(registry.ACTIVATIONS)} (default: "
                          "the data set's, or sigmoid)")
    net.add_argument("--cost", help=f"{', '.join(registry.COSTS)} (default: the data set's, "
                                    "or mse)")
    net.add_argument("--hidden", type=values.whole_number(1, limits.MAX_WIDTH),
                     help=f"hidden units of the XOR network [2, N, 1] (default {XOR_HIDDEN})")
    data = t.add_argument_group("data")
    data.add_argument("--data", metavar="DATA",
                      help=f"{', '.join(BUILTIN)}, or a .npz or .csv file (default xor)")
    data.add_argument("--inputs", metavar="NAMES",
                      help="input columns (.csv) or arrays (.npz), comma-separated; name* "
                           "takes every name starting with name (default: all but the targets)")
    data.add_argument("--targets", metavar="NAMES",
                      help="target columns or arrays; one column of whole numbers is class "
                           "labels, one-hot for several outputs (default y)")
    data.add_argument("--holdout", type=_holdout, metavar="SHARE",
                      help="share of the samples held out to measure accuracy, between 0 and "
                           "1, or none (default: none for xor, 0.25 otherwise)")
    how = t.add_argument_group("optimiser")
    how.add_argument("--optimizer", metavar="NAME",
                     help=f"{', '.join(OPTIMIZERS)} (default: sgd for xor, adam otherwise)")
    how.add_argument("--learning-rate", type=values.positive_number, metavar="ETA",
                     help=f"eta (default: xor {xor.learning_rate:g}, digits "
                          f"{digits.learning_rate:g}, files 0.001)")
    how.add_argument("--momentum", type=_number, metavar="MU",
                     help="sgd's momentum, from 0 up to 1 (default 0)")
    how.add_argument("--beta1", type=_number, help="adam's beta1 (default 0.9)")
    how.add_argument("--beta2", type=_number, help="adam's beta2 (default 0.999)")
    how.add_argument("--batch", type=values.whole_number(1, 10**9), metavar="B",
                     help=f"samples per step (default: xor {xor.batch}, others 32)")
    how.add_argument("--epochs", type=values.whole_number(1, limits.MAX_EPOCHS),
                     help=f"passes over the training samples, at most {limits.MAX_EPOCHS:,} "
                          f"(default: xor {xor.epochs}, digits {digits.epochs}, files 20)")
    how.add_argument("--seed", type=values.whole_number(0, MAX_SEED),
                     help="seed of the initial weights, the held-out part and the order of "
                          "the samples (default 0)")
    how.add_argument("--init", metavar="NAME",
                     help=f"initial weights: {', '.join(INITS)} (default: normal for xor, "
                          "xavier otherwise)")
    how.add_argument("--backend", metavar="NAME",
                     help=f"{', '.join(BACKENDS)} (default auto: numba where installed)")
    out = t.add_argument_group("output")
    out.add_argument("--out", metavar="DIR", type=values.nonempty,
                     help="output folder (default output/NAME: the file's name, or the data's)")
    out.add_argument("--checkpoint", metavar="FILE", type=values.nonempty,
                     help=f"checkpoint written every minute, on Ctrl-C or --timeout and at the "
                          f"end (default DIR/{CHECKPOINT})")
    out.add_argument("--resume", metavar="CHECKPOINT", type=values.nonempty,
                     help="continue the run this checkpoint holds (same network, data and "
                          "settings; --epochs may grow) (default: start afresh)")
    out.add_argument("--timeout", type=values.seconds, metavar="SECONDS",
                     help="stop after this long, writing the checkpoint: exit 1 "
                          "(default: no limit)")
    out.add_argument("--quiet", "-q", action="store_true", help="no progress or notes")


# ---------------------------------------------------------------- the run


def _network(args) -> tuple[Network | None, config.Job | None]:
    given = {k: getattr(args, k) for k in ("widths", "activation", "cost")
             if getattr(args, k) is not None}
    flags = [f"--{k}" for k in given] + (["--hidden"] if args.hidden is not None else [])
    if args.network:
        if flags:
            raise BadInput(f"give the network either as a file ({args.network}) or with "
                           f"{flags[0]}, not both")
        job = config.load(args.network)
        return job.net, job
    if args.hidden is not None:
        if given:
            raise BadInput(f"--hidden sets the XOR network [2, N, 1]; drop it or "
                           f"{next(iter(flags))}")
        return Network([2, args.hidden, 1], activation="sigmoid", cost="mse"), None
    return (Network(**given) if given else None), None


def _settings(args, job: config.Job | None) -> tuple[object, dict]:
    """The data and the settings: the file's [train] table, each option given replacing it."""
    table = dict(job.train) if job else {}
    if job:
        config._check_table(table, TABLE, f"{job.source} [train]")
    given = {key: table[key] for key in SETTINGS if key in table}
    given |= {key: getattr(args, key) for key in SETTINGS
              if getattr(args, key, None) is not None}  # eps: in the file only
    for key in ("inputs", "targets"):
        value = getattr(args, key) if getattr(args, key) is not None else table.get(key)
        given[key] = value
    source = args.data if args.data is not None else table.get("data", "xor")
    if job and args.data is None and source not in BUILTIN:  # a file named in the network file
        source = str(Path(job.source).parent / source)
    return source, given


def plan_from(args) -> tuple[Plan, config.Job | None]:
    """The checked plan of the run the options ask for; BadInput for any bad choice (and
    then no warning: a bad input is one line)."""
    try:
        net, job = _network(args)
        source, given = _settings(args, job)
        plan = make_plan(net, source, resume=args.resume, **given)
    except ValueError as error:
        raise BadInput(str(error)) from None
    found = job.warnings if job else config.network_warnings(args.activation, plan.network)
    for warning in found:
        note(args, warning, "warning")
    return plan, job


def _stall_hook():
    """Test hook: with SYMBP_STALL_AT=training, say so after the first step, then train
    slowly, so that a test can signal a run in the middle of an epoch."""
    if os.environ.get("SYMBP_STALL_AT") != "training":
        return None
    said = []

    def hook(position: Position) -> None:
        if not said:
            print("stalled at training", file=sys.stderr, flush=True)
            said.append(True)
        time.sleep(0.005)

    return hook


def command(args) -> int:
    plan, job = plan_from(args)
    name = (job.name if job and job.name else None) or Path(plan.data.name).stem
    try:
        out = outputs.check_folder(args.out if args.out is not None else Path("output") / name)
    except ValueError as error:
        raise BadInput(str(error)) from None
    path = Path(args.checkpoint) if args.checkpoint is not None else out / CHECKPOINT
    if path.is_dir():
        raise BadInput(f"--checkpoint {path}: is a folder")
    if path.parent != out and not path.parent.is_dir():
        raise BadInput(f"--checkpoint {path}: the folder {path.parent} does not exist")
    missing_pdf = missing_compiler_note()
    if missing_pdf:
        note(args, missing_pdf)
    with outputs.OutputFolder(out, FILES) as folder:
        with progress.bar(progress.wanted(args.quiet), "training") as update:
            try:
                result = run(plan, checkpoint_path=path, deadline=budget(args),
                             progress=update, hook=_stall_hook())
            except TrainingInterrupted as stop:
                return _stopped(args, stop, "interrupted", EXIT_INTERRUPTED)
            except TrainingTimedOut as stop:
                return _stopped(args, stop, f"timed out after {args.timeout:g} s (--timeout)",
                                EXIT_NOT_PROVED)
        with budget(args).phase():
            left = budget(args).remaining
            files = training_files(result, job.title if job else None, pdf=not missing_pdf,
                                   workdir=folder.staging,
                                   timeout=DEFAULT_TIMEOUT if left is None
                                   else min(DEFAULT_TIMEOUT, left + 1))
            folder.stage(files)
        written = folder.publish()
    if folder.fallback:
        note(args, folder.fallback)
    print(_summary(result))
    print(f"wrote {', '.join(str(p) for p in written)}; checkpoint {path}")
    return 0


def _stopped(args, stop: TrainingInterrupted | TrainingTimedOut, what: str, code: int) -> int:
    """One line: where the run stopped and how to go on from its checkpoint."""
    plan, done = stop.training.plan, stop.training.steps
    total = plan.settings.epochs * plan.steps_per_epoch
    epoch = min(done // plan.steps_per_epoch + 1, plan.settings.epochs)  # after the last step too
    print(f"symbp: {what} at step {done:,} of {total:,} (epoch {epoch} of "
          f"{plan.settings.epochs}); the checkpoint {stop.checkpoint} is complete: continue "
          f"with --resume {stop.checkpoint}", file=sys.stderr)
    return code


def _summary(result) -> str:
    plan, s, final = result.plan, result.plan.settings, result.final
    lines = [f"trained {plan.network!r} on {plan.data.name} ({len(plan.train):,} samples"
             + (f", {len(plan.heldout):,} held out" if plan.heldout else "") + f"): {s.epochs:,} "
             f"epochs of {plan.steps_per_epoch:,} step{'s' * (plan.steps_per_epoch > 1)}, "
             f"{s.optimizer} with η = "
             f"{s.learning_rate:g}, batch {s.batch}, backend {plan.backend}, "
             f"{result.seconds:.2f} s" + (f" (resumed at epoch {result.resumed_at[0]})"
                                            if result.resumed_at else "")]
    first = result.history[0]
    cost = f"mean cost {first.train_loss:.4g} -> {final.train_loss:.4g}"
    if final.heldout_accuracy is not None:
        reached = result.epochs_to(accuracy=0.95)
        lines.append(f"held-out accuracy {100 * final.heldout_accuracy:.2f}% "
                     f"({len(plan.heldout):,} samples); "
                     + (f"95% from epoch {reached}; " if reached is not None else "") + cost)
    elif final.train_accuracy is not None:
        lines.append(f"training accuracy {100 * final.train_accuracy:.2f}%; {cost}")
    else:
        lines.append(cost)
    if plan.data.name == "xor" and plan.network.widths[-1] == 1:
        outputs = result.predict(plan.data.x)[:, 0]
        for x, target, a in zip(plan.data.x, plan.data.y[:, 0], outputs):
            lines.append(f"  {int(x[0])} xor {int(x[1])} = {int(target)}: network says {a:.3f}")
    return "\n".join(lines)

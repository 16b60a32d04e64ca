"""What every command shares: its --timeout budget, its notes on stderr, the job its arguments
describe (a network file or options, read before any output folder is touched), the output
folder checked, and a proof's exit code."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.deadline import Deadline
from ..core.network import NETWORK_KEYS, Network
from . import config, outputs
from .exits import EXIT_NOT_PROVED, EXIT_PROVED, BadInput

if TYPE_CHECKING:  # for the annotation: train, check and swell need none of the prover
    from ..proof.claims import Proof


def budget(args) -> Deadline:
    """The ``--timeout`` deadline ``main`` started for this command (a fresh one for direct
    calls)."""
    if getattr(args, "budget", None) is None:
        args.budget = Deadline(getattr(args, "timeout", None))
    return args.budget


def note(args, text: str, kind: str = "note") -> None:
    if not getattr(args, "quiet", False):
        print(f"{kind}: {text}", file=sys.stderr)


# ---------------------------------------------------------------- jobs


def read_job(args) -> config.Job:
    """The job the arguments describe; under ``--timeout`` from the first byte read of a
    network file (a FIFO may never deliver one) to the last number of its worked example."""
    with budget(args).phase():
        return _job_now(args)


def _job_now(args) -> config.Job:
    given: dict[str, Any] = {key: getattr(args, key, None) for key in NETWORK_KEYS
             if getattr(args, key, None) is not None}
    try:
        if args.network:
            if given:
                raise BadInput(f"give the network either as a file ({args.network}) or with "
                               f"--{next(iter(given))}, not both")
            job = config.load(args.network)
        else:
            net = Network(**given)  # what is not given: Network's defaults
            job = config.Job(net, warnings=config.network_warnings(given.get("activation"), net))
        if args.method:
            job.method = args.method
        if getattr(args, "name", None) is not None:
            job.name = config.check_name(args.name)
        if getattr(args, "title", None) is not None:
            job.title = config.check_title(args.title)
        if getattr(args, "format", None):
            job.formats = config.check_formats(args.format)
            job.explicit_formats = True
        elif job.formats is None and hasattr(args, "format"):  # derive writes the default list
            job.formats = config.default_formats()
        if getattr(args, "timings", False):
            job.timings = True
        if getattr(args, "order", None) is not None:
            job.order = args.order
        if "second_order" in (job.formats or ()):  # the chapter and its proof: second order's
            job.order = 2
        elif job.order == 2 and job.formats is not None:  # layer kinds: the proof only
            # (render.formats says why)
            job.formats = (*job.formats, "second_order")
    except ValueError as error:
        raise BadInput(str(error)) from None
    for warning in job.warnings:
        note(args, warning, "warning")
    return job


def checked_folder(out: Path | str) -> Path:
    try:
        return outputs.check_folder(out)
    except ValueError as error:
        raise BadInput(str(error)) from None


def exit_code(proof: Proof) -> int:
    return EXIT_PROVED if proof.holds else EXIT_NOT_PROVED

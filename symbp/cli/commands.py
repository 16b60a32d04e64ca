"""The commands of ``symbp``: each turns parsed arguments into work, output and an exit code.

Exit codes (``exits.EXIT_CODES``, one table ``exits.ENDINGS``): 0 proved, 1 not proved (a
failure or a timeout), 2 bad input, 3 the environment stopped the run (disk full, a
folder that cannot be written or is busy, a file-size limit, memory, pdflatex failing),
4 an internal error, 130 interrupted. Anything the user can fix on the command line or in a
network file is a ``BadInput``, raised before the output folder is touched.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from ..core import limits, registry
from ..core.deadline import Deadline, TimedOut
from ..core.derivation import Derivation
from ..core.layers import KINDS, Layer
from ..core.network import NETWORK_KEYS, Network
from ..core.second_order import derive
from ..printing import forms
from ..proof.claims import CHECKS
from ..proof.prove import METHODS as FIRST_METHODS
from ..proof.prove import Proof, choose_method, prove
from ..proof.theorem import general_table
from . import config, outputs, progress
from .exits import EXIT_NOT_PROVED, EXIT_PROVED, BadInput

# a command imports what only it needs (second order, the theorem for every size, the
# documents) when it runs: a proof need not wait for Jinja and the code generators


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


def _job(args) -> config.Job:
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


def _derive(job: config.Job, args) -> tuple[Derivation, str]:
    """The derivation and the proof method it gets; BadInput for a method refused as too large,
    and, for second order, a network it does not cover or whose Hessian is too large."""
    try:
        if job.order == 2:
            dense = all(r.kind.name == "dense" for r in job.net.resolved)
            if dense:  # a network of layer kinds counts its parameters as it is built
                limits.check_symbolic_hessian(job.net.widths)
            from ..proof.curvature import METHODS as SECOND_METHODS
            from ..proof.kinds_curvature import METHODS as KINDS_SECOND_METHODS

            methods = SECOND_METHODS if dense else KINDS_SECOND_METHODS
            if job.method not in methods:
                raise ValueError(f"--order 2: unknown method {job.method!r}; choose one of: "
                                 f"{', '.join(methods)}")
        with budget(args).phase():
            d = derive(job.net, order=job.order)
        return d, choose_method(d, job.method if job.method in FIRST_METHODS else "auto")
    except ValueError as error:
        raise BadInput(str(error)) from None


def _prove_second(d: Derivation, job: config.Job, args) -> Proof | None:
    """The second-order proof, for a derivation of order 2 (else None)."""
    if getattr(d, "order", 1) != 2:
        return None
    from ..numeric.kinds_curvature_codegen import kinds_second_order_source
    from ..proof.curvature import prove_second_order

    with progress.bar(progress.wanted(args.quiet), "proving second order") as update:
        return prove_second_order(d, job.method, timeout=budget(args).left(),  # type: ignore[arg-type]
                                  progress=update, printed=kinds_second_order_source)


def _prove(job: config.Job, args, derived: tuple[Derivation, str] | None = None) -> tuple:
    with progress.bar(progress.wanted(args.quiet), "proving") as update:
        d, method = derived or _derive(job, args)
        proof = prove(d, method, timeout=budget(args).left(), progress=update)
    return d, proof


def checked_folder(out: Path | str) -> Path:
    try:
        return outputs.check_folder(out)
    except ValueError as error:
        raise BadInput(str(error)) from None


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


def run_prove(args) -> int:
    if args.general:
        return _prove_general(args)
    job = _job(args)
    if job.order == 2:
        d, _ = _derive(job, args)
        proof = _prove_second(d, job, args)
        assert proof is not None
        print(json.dumps(proof.to_dict(), indent=2) if args.json
              else f"{general_table(proof)}\n{proof.summary()}")
        return _exit_code(proof)
    _, proof = _prove(job, args)
    if args.json:
        print(json.dumps(proof.to_dict(), indent=2))
    else:
        print(_table(proof))
        print(proof.summary())
    return _exit_code(proof)


def _general_layers(args) -> tuple[Layer, Layer] | None:
    """--layers HIDDEN,OUTPUT with --general: the kind of every hidden layer, then the output
    layer's (the theorem's depth and widths stay symbolic)."""
    if getattr(args, "layers", None) is None:
        return None
    if len(args.layers) != 2:
        raise BadInput(f"--general --layers takes two layers, the hidden layers' kind and the "
                       f"output layer's (e.g. residual,dense:2); got {len(args.layers)}")
    if args.order == 2:
        raise BadInput("--general --order 2 takes dense options or a network file (its layer "
                       "kinds at its depth), not --layers; drop --layers")
    if getattr(args, "inputs", None) is not None:
        raise BadInput("--general proves every width; drop --inputs")
    hidden, out = ({k: v for k, v in t.items() if k != "kind"} for t in args.layers)
    return Layer(args.layers[0]["kind"], hidden), Layer(args.layers[1]["kind"], out)


def _general_activations(args, kinds: tuple[Layer, Layer]) -> tuple[str, str | None]:
    """The theorem's hidden and output activations: --activation, else the layers' own."""
    hidden, out = (dict(layer.options).get("activation") for layer in kinds)
    if args.activation and hidden and hidden != args.activation:
        raise BadInput(f"--activation {args.activation} and the hidden layer's activation="
                       f"{hidden} differ; give one")
    return args.activation or hidden or "generic", out


def _general_from_file(args) -> Network | None:
    """NETWORK.toml with --general: a dense network's hidden activation, output activation and
    cost (``args`` filled in as if given as options); a network of layer kinds itself, for
    the theorem for every size of its shape (``theorem(network=...)``)."""
    given = [f"--{k}" for k in ("activation", "cost", "layers") if getattr(args, k, None)]
    if given:
        raise BadInput(f"give the network either as a file ({args.network}) or with "
                       f"{given[0]}, not both")
    job = _job(args)
    net, args.order = job.net, job.order  # the file's order = 2 unless --order says otherwise
    if not net.dense:
        return net
    hidden = dict.fromkeys(net.activations[:-1] or net.activations[:1])
    if len(hidden) > 1:
        raise BadInput(f"--general proves one activation for every hidden layer; "
                       f"{args.network} has {', '.join(hidden)}")
    args.activation, args.output, args.cost = next(iter(hidden)), net.activations[-1], net.cost
    return None


def _prove_general(args) -> int:
    """``prove --general``: the theorem for every depth and width; one activation, one cost
    (a network file's own, or the options')."""
    from ..proof.kinds_second_theorem import kinds_second_order_summary, kinds_second_order_theorem
    from ..proof.second_order_theorem import second_order_summary, second_order_theorem
    from ..proof.theorem import general_summary, theorem

    given = [f"--{k}" for k in ("widths", "method") if getattr(args, k)]
    if given:
        raise BadInput(f"--general proves every depth and width; drop {', '.join(given)}")
    args.output = None
    network = _general_from_file(args) if args.network else None
    if isinstance(args.activation, list):
        raise BadInput("--general takes one --activation (the hidden layers'); "
                       f"got {','.join(args.activation)}")
    kinds = _general_layers(args)
    prover = second_order_theorem if args.order == 2 else theorem
    try:
        if network is not None and args.order == 2:
            proof = kinds_second_order_theorem(network, timeout=args.timeout)
            print(json.dumps(proof.to_dict(), indent=2) if args.json
                  else f"{general_table(proof)}\n{kinds_second_order_summary(proof)}")
            return _exit_code(proof)
        if network is not None:
            proof = theorem(network=network, timeout=args.timeout)
        elif kinds is None:
            proof = prover(args.activation or "generic", args.cost or "mse",
                           output=args.output, timeout=args.timeout)
        else:
            activation, output = _general_activations(args, kinds)
            proof = theorem(activation, args.cost or "mse", output=output,
                            timeout=args.timeout, layers=kinds)
    except ValueError as error:
        raise BadInput(str(error)) from None
    if args.order == 2:
        print(json.dumps(proof.to_dict(), indent=2) if args.json
              else f"{general_table(proof)}\n{second_order_summary(proof)}")
        return _exit_code(proof)
    print(json.dumps(proof.to_dict(), indent=2) if args.json
          else f"{general_table(proof)}\n{general_summary(proof)}")
    return _exit_code(proof)


def run_derive(args) -> int:
    from ..render.environment import unsettable
    from ..render.latex import DEFAULT_TIMEOUT
    from .publish import FORMATS, Build, build_files, plan

    job = _job(args)
    out = checked_folder(args.out if args.out is not None else
                         Path("output") / (job.name or job.net.slug))
    assert job.formats is not None  # _job_now fills the default list in for derive
    try:
        formats, notes = plan(job.net, job.formats, job.explicit_formats)
    except ValueError as error:
        raise BadInput(str(error)) from None
    missing = unsettable(job.title) if job.title and {"tex", "pdf"} & set(formats) else []
    if missing:
        notes.insert(0, f"pdflatex cannot set {' '.join(missing[:8])} of the title: the LaTeX "
                        f"and PDF show their codes, like [U+{ord(missing[0]):04X}]; the "
                        "Markdown keeps them")
    derived = _derive(job, args)  # a method refused as too large: before the folder is touched
    for text in notes:
        note(args, text)
    expected = [name for fmt in formats for name in FORMATS[fmt].files]
    with outputs.OutputFolder(out, expected) as folder:
        d, proof = _prove(job, args, derived)
        second = _prove_second(d, job, args)
        if proof.status == "timed out" or (second is not None and second.status == "timed out"):
            raise TimedOut
        _stall("proved")
        with progress.bar(progress.wanted(args.quiet), "writing documents") as update, \
                budget(args).phase():
            left = budget(args).remaining
            b = Build(d, proof, job.title, job.timings, workdir=folder.staging,
                      timeout=DEFAULT_TIMEOUT if left is None else min(DEFAULT_TIMEOUT, left + 1),
                      example=job.example, wanted=tuple(formats), second=second)
            files = build_files(b, formats, update)
            folder.stage(files)
        _stall("built")
        written = folder.publish()
    print(proof.summary())
    if second is not None:
        print(f"second order: {second.summary()}")
    for text in b.notes:
        note(args, text)
    if folder.fallback:
        note(args, folder.fallback)
    for path in written:
        print(f"wrote {path}")
    if second is not None and not second.holds:
        return EXIT_NOT_PROVED
    return _exit_code(proof)


def run_list(args) -> int:
    from .plain import plain

    print("activations (--activation NAME, or one name per layer):")
    for act in registry.ACTIVATIONS.values():
        f = plain(act.latex)
        print(f"  {act.name:11} {act.summary}")
        print(f"  {'':11} {f}(z) = {plain(forms.activation_definition(act))}")
        slope = plain(forms.activation_derivative(act))
        print(f"  {'':11} " + (slope if "=" in slope else f"{f}'(z) = {slope}"))
    print("costs (--cost NAME):")
    for cost in registry.COSTS.values():
        print(f"  {cost.name:11} {cost.summary}")
        print(f"  {'':11} ∂C/∂a_j = {plain(forms.cost_gradient(cost))}")
        if cost.output:
            print(f"  {'':11} puts {cost.output} in the output layer")
    print('layer kinds (kind = "NAME" in a [[layers]] table, or --layers NAME:KEY=VALUE;...,'
          "NAME...):")
    for k in KINDS.values():
        print(f"  {k.name:17} {k.summary}")
        for key, option in k.options.items():
            print(f"  {'':17} {key}: {option.expected}{_default(option)}")
    return 0


def _default(option: Any) -> str:
    """"; default tanh", or "; required" where neither the option nor its text gives one."""
    if option.default is None:
        return "" if "default" in option.expected else "; required"
    shown = str(option.default).lower() if isinstance(option.default, bool) else option.default
    return f"; default {shown}"


def _stall(stage: str) -> None:
    # test hook: lets the interruption tests kill a run at a known point
    if os.environ.get("SYMBP_STALL_AT") == stage:
        print(f"stalled at {stage}", file=sys.stderr, flush=True)
        time.sleep(600)
